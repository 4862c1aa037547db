"""Runs the core examples (char_lm, digits, time_series) in --quick mode in a subprocess, as a
user would (`python examples/NAME.py --quick`), and checks the metric each prints on its last
`RESULT {json}` line against a threshold the quick mode reliably reaches, and that its plot was
written."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
SHAKESPEARE = Path(__file__).parents[2] / "shared/data/tinyshakespeare.txt"


def run_example(name, tmp_path, *args):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", "--out", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:]
    result = json.loads(lines[-1][len("RESULT ") :])
    assert Path(result["plot"]).is_file() and Path(result["plot"]).parent == tmp_path
    return result, proc.stdout


@pytest.mark.slow
def test_char_lm_quick(tmp_path):
    result, out = run_example("char_lm.py", tmp_path, "--data", str(SHAKESPEARE))
    # A uniform guess over tinyshakespeare's 65 characters is 4.17 nats/char, unigram
    # frequencies about 3.3; 150 steps of the quick model reach about 2.35.
    assert result["val_loss"] < 2.7
    assert result["val_perplexity"] == pytest.approx(2.718281828459045 ** result["val_loss"])
    assert "--- sample" in out


@pytest.mark.slow
def test_digits_quick(tmp_path):
    pytest.importorskip("sklearn")
    result, _ = run_example("digits.py", tmp_path)
    assert result["test_accuracy"] >= 0.90  # quick mode reaches about 0.95; the full run 0.975


@pytest.mark.slow
def test_digits_reads_mnist_idx_files(tmp_path):
    """--mnist DIR: a tiny synthetic MNIST in IDX files (gzipped and not) trains end to end."""
    import gzip

    rng = np.random.default_rng(0)

    def write(path, array):
        header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">i4").tobytes()
        data = header + array.astype(np.uint8).tobytes()
        with (gzip.open if path.suffix == ".gz" else open)(path, "wb") as f:
            f.write(data)

    labels = rng.integers(0, 10, 120)
    images = np.zeros((120, 28, 28), np.uint8)
    images[np.arange(120), labels * 2, :] = 255  # the label is the lit row
    write(tmp_path / "train-images-idx3-ubyte.gz", images[:100])
    write(tmp_path / "train-labels-idx1-ubyte", labels[:100])
    write(tmp_path / "t10k-images-idx3-ubyte", images[100:])
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[100:])
    result, out = run_example("digits.py", tmp_path, "--mnist", str(tmp_path), "--epochs", "2")
    assert "28 steps of 28 pixels" in out
    assert 0.0 <= result["test_accuracy"] <= 1.0


@pytest.mark.slow
def test_time_series_quick(tmp_path):
    result, _ = run_example("time_series.py", tmp_path)
    assert result["test_mse"] < 0.5 * result["baseline_mse"]  # quick: about 0.007 against 0.06
    assert result["generation_mse"] < result["baseline_mse"]
    assert result["zeros_generation_std"] > 0.1  # generates an oscillation, not a flat line
