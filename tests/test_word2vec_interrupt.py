"""Ctrl-C during Word2Vec.train(): the epoch runs in a thread that this one waits for, and an
interrupt asks the C++ workers to stop after their current job (W2vTrainer.request_stop), so
KeyboardInterrupt comes at once and no worker goes on writing the vectors."""

import subprocess
import sys

import pytest

INTERRUPT_CHILD = """
import os, signal, sys, threading, time
import numpy as np
from fastrnn import Word2Vec

corpus = [["w%d" % ((i * 7 + j) % 5000) for j in range(20)] for i in range(100000)]
source = corpus
if sys.argv[1] == "corpus_file":
    with open(sys.argv[2], "w") as f:
        f.write("\\n".join(" ".join(s) for s in corpus))
    source = None
m = Word2Vec(min_count=1, workers=2, sg=1, window=10, negative=20, sample=0,
             progress=sys.argv[3] == "bar")
m.build_vocab(corpus)
kwargs = {"corpus_file": sys.argv[2], "total_words": 2_000_000} if source is None else {
    "corpus_iterable": source, "total_examples": len(corpus)}
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
start = time.perf_counter()
try:
    m.train(epochs=1, **kwargs)
    print("finished", time.perf_counter() - start)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start)
before = m.wv.vectors.copy()
time.sleep(0.5)
print("unchanged", np.array_equal(before, m.wv.vectors))
print("threads", len([t for t in threading.enumerate() if t.name.startswith("fastrnn")]))
"""


@pytest.mark.parametrize("source", ["corpus_iterable", "corpus_file"])
@pytest.mark.parametrize("bar", ["bar", "no bar"])
def test_ctrl_c_stops_training_within_a_job(tmp_path, source, bar):
    """Ctrl-C (SIGINT) during train() raises KeyboardInterrupt within a job's time and leaves no
    worker running: before, it was held off to the end of the epoch (an epoch here takes about
    5 s on 2 cores; hours on a large corpus), or with the progress bar raised at once while the
    epoch went on in its thread, writing the vectors."""
    script = tmp_path / "interrupt_child.py"
    script.write_text(INTERRUPT_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), source, str(tmp_path / "corpus.txt"), bar],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert "interrupted" in lines, proc.stdout
    assert float(lines["interrupted"]) < 2.5, proc.stdout
    assert lines["unchanged"] == "True" and lines["threads"] == "0", proc.stdout
