"""word2vec's worker threads when the system refuses some of them (a process or memory limit):
training, the corpus_file word count and score() still do all their work, the refused workers'
shares on the calling thread. Before, a refused std::thread left started threads joinable in a
vector being destroyed, and the process aborted (std::terminate)."""

import subprocess
import sys

import pytest

LIMITED_WORKERS_CHILD = """
import resource, sys
import numpy as np
import fastrnn

rng = np.random.default_rng(0)
words = [f"w{i}" for i in range(200)]
sentences = [list(rng.choice(words, size=30)) for _ in range(400)]
path = sys.argv[1]
with open(path, "w") as f:
    f.writelines(" ".join(s) + "\\n" for s in sentences)
model = fastrnn.Word2Vec(sentences, vector_size=16, min_count=1, hs=1, negative=2, epochs=1,
                         sample=0, workers=1, seed=1)
expected = model.score(sentences, total_sentences=len(sentences), chunksize=7)
corpus_words = sum(len(s) for s in sentences)

with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
# 40 MiB more address space: room for a few threads' stacks, not for 512.
resource.setrlimit(resource.RLIMIT_AS, (vm + (40 << 20), resource.RLIM_INFINITY))
model.workers = 512
scores = model.score(sentences, total_sentences=len(sentences), chunksize=7)
trained = model.train(sentences, total_examples=len(sentences), epochs=1)
trained_file = model.train(corpus_file=path, total_words=corpus_words, epochs=1)
resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

assert np.array_equal(scores, expected), "scores differ with refused workers"
# sample=0 keeps every word: all of the corpus trained, once, in both kinds of corpus
assert trained == (corpus_words, corpus_words), (trained, corpus_words)
assert trained_file[0] == corpus_words, (trained_file, corpus_words)
assert np.isfinite(model.wv.vectors).all()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux")
def test_word2vec_does_all_its_work_when_the_system_refuses_worker_threads(tmp_path):
    script = tmp_path / "limited_workers_child.py"
    script.write_text(LIMITED_WORKERS_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "corpus.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
