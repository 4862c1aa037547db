"""Runs examples/long_memory.py, seq2seq.py and word2vec_embeddings.py in --quick mode, each in
its own Python process as a user would, and checks the metrics of their `RESULT {json}` line and
that they saved their plot."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"

pytestmark = pytest.mark.slow


def run_example(name: str, tmp_path: Path, *extra: str) -> dict:
    """Runs `python examples/<name>.py --quick --out tmp_path --threads 1 ...` and returns its
    RESULT dict. One fastrnn thread: the quick models are small, and on a busy machine a second
    thread only waits for a core (results do not depend on the thread count)."""
    cmd = [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(tmp_path)]
    cmd += ["--threads", "1", *extra]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, f"{name}: expected one RESULT line in:\n{proc.stdout}"
    result = json.loads(lines[0].removeprefix("RESULT "))
    plot = Path(result["plot"])
    assert plot.parent == tmp_path and plot.stat().st_size > 1000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result


def test_long_memory_gated_cells_remember_where_the_vanilla_rnn_forgets(tmp_path):
    r = run_example("long_memory", tmp_path, "--seed", "0")
    acc, chance = r["accuracy"], r["chance"]
    assert r["fillers"] == [10, 100]
    # A short filler: every cell learns the task.
    for cell in ("rnn", "lstm", "gru"):
        assert acc[cell][0] >= 0.9, (cell, acc)
    # A long filler: the gated cells still do, the vanilla RNN is near chance (1/8).
    assert acc["lstm"][1] >= 0.9 and acc["gru"][1] >= 0.9, acc
    assert acc["rnn"][1] <= chance + 0.25, acc
    assert min(acc["lstm"][1], acc["gru"][1]) - acc["rnn"][1] >= 0.5, acc


def test_seq2seq_translates_held_out_numbers(tmp_path):
    r = run_example("seq2seq", tmp_path, "--seed", "0")
    assert r["test_size"] == 100
    assert r["exact_match"] >= 0.8, r
    assert r["final_loss"] < 0.2, r


@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason=f"needs {SHAKESPEARE}")
def test_word2vec_embeddings_feed_a_sentence_classifier(tmp_path):
    pytest.importorskip("gensim")
    r = run_example("word2vec_embeddings", tmp_path, "--seed", "0")
    assert r["vocabulary"] > 3000
    assert len(r["neighbours"]["king"]) == 5
    assert r["analogy_questions"] > 500 and 0.0 <= r["analogy_score"] <= 1.0
    assert r["test_size"] == 1000
    for run in ("frozen", "trainable", "random"):
        assert r["accuracy"][run] >= 0.8, r["accuracy"]
