"""The GPU word2vec kernel without a GPU: `Word2Vec(device="cuda")` routed to the kernel under the
grid emulator (csrc/cuda/w2v_kernels.cuh, blocks run one after another) and compared with the CPU
trainer on gensim's Lee corpus.

The kernel cannot reproduce the CPU trainer's numbers (its random streams differ, it uses the
exact sigmoid instead of a table, and CBOW scores all targets before updating any), so the
tolerance is the CPU trainer's own spread: the GPU kernel's similarity structure (the correlation
of all pairwise cosine similarities among the 200 most frequent words) must be as close to the CPU
trainer's as the CPU trainer's is to itself under another seed (measured 0.98 for both, margin
0.02), its training loss within 2 % of the CPU trainer's (measured 0.05 %), and one block at a
time makes it reproducible bit for bit. The same holds with hierarchical softmax, alone and with
negative sampling. An epoch past the launch bound runs in several kernel launches with the same
learning rates and, one block at a time, the same weights as in one."""

import itertools

import numpy as np
import pytest
from fastrnn import _C, LineSentence, Word2Vec
from fastrnn import word2vec as fw

gensim = pytest.importorskip("gensim")
from gensim.test.utils import datapath  # noqa: E402

CORPUS = list(LineSentence(datapath("lee_background.cor")))


def train(sg, seed=1, emulated=False, monkeypatch=None, hs=0, negative=5):
    if emulated:
        monkeypatch.setattr(fw, "_trainer_device", lambda device: "emulated")
    model = Word2Vec(
        sg=sg,
        window=4,
        hs=hs,
        negative=negative,
        min_count=5,
        epochs=5,
        workers=1,
        seed=seed,
        device="cuda" if emulated else "cpu",
    )
    model.build_vocab(CORPUS)
    model.train(CORPUS, total_examples=model.corpus_count, epochs=model.epochs, compute_loss=True)
    if emulated:
        monkeypatch.undo()
    return model


def similarity_correlation(a, b, n=200):
    words = a.wv.index_to_key[:n]
    sims = []
    for m in (a, b):
        v = np.array([m.wv[w] for w in words], dtype=np.float64)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        sims.append((v @ v.T)[np.triu_indices(n, 1)])
    return np.corrcoef(*sims)[0, 1]


@pytest.mark.parametrize(
    "sg, hs, negative",
    [(1, 0, 5), (0, 0, 5), (1, 1, 0), (0, 1, 0), (1, 1, 5), (0, 1, 5)],
    ids=["skipgram", "cbow", "skipgram-hs", "cbow-hs", "skipgram-hs-negative", "cbow-hs-negative"],
)
def test_emulated_gpu_word2vec_matches_the_cpu_trainer(sg, hs, negative, monkeypatch):
    cpu = train(sg, hs=hs, negative=negative)
    cpu_other_seed = train(sg, seed=2, hs=hs, negative=negative)
    gpu = train(sg, emulated=True, monkeypatch=monkeypatch, hs=hs, negative=negative)
    assert not np.array_equal(gpu.wv.vectors, cpu.wv.vectors)  # it did run another trainer
    baseline = similarity_correlation(cpu, cpu_other_seed)
    assert similarity_correlation(cpu, gpu) >= baseline - 0.02
    loss_cpu, loss_gpu = cpu.get_latest_training_loss(), gpu.get_latest_training_loss()
    assert abs(loss_gpu - loss_cpu) <= 0.02 * loss_cpu
    assert abs(gpu.effective_words - cpu.effective_words) <= 0.01 * cpu.effective_words


@pytest.mark.parametrize("hs", [0, 1])
def test_emulated_gpu_word2vec_is_reproducible(monkeypatch, hs):
    a = train(0, emulated=True, monkeypatch=monkeypatch, hs=hs)
    b = train(0, emulated=True, monkeypatch=monkeypatch, hs=hs)
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)
    np.testing.assert_array_equal(a.syn1neg, b.syn1neg)
    np.testing.assert_array_equal(a.syn1, b.syn1)


def test_gpu_word2vec_arguments_and_availability():
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', got 'tpu'"):
        Word2Vec(device="tpu")
    with pytest.raises(ValueError, match="window <= 32 and negative <= 31"):
        Word2Vec(device="cuda", window=40)
    # within those limits but past a block's 48 KiB of shared memory (the kernel could not start)
    for window, negative in ((10, 20), (20, 10), (32, 5)):
        with pytest.raises(ValueError, match="bytes of a GPU block's shared memory"):
            Word2Vec(device="cuda", window=window, negative=negative)
    Word2Vec(device="cuda", window=5, negative=20)  # 34 * 2 * 5 * 21 floats + E: fits
    if _C.cuda_compiled() and _C.cuda_device_count() > 0:
        return  # a GPU is present: device="cuda" trains (tests/test_cuda_device.py)
    model = Word2Vec(device="cuda", min_count=1)
    model.build_vocab([["a", "b", "c"]])
    with pytest.raises(RuntimeError, match="device='cuda'"):
        model.train([["a", "b", "c"]], total_examples=1, epochs=1)


def test_emulated_gpu_word2vec_reads_a_plain_corpus_file(tmp_path, monkeypatch):
    """A plain corpus_file becomes an id corpus for the GPU trainer (its workers' byte-range
    reader is CPU-only)."""
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in CORPUS[:100]) + "\n", encoding="utf-8")
    monkeypatch.setattr(fw, "_trainer_device", lambda device: "emulated")
    model = Word2Vec(vector_size=16, min_count=2, epochs=1, seed=3, device="cuda")
    model.build_vocab(corpus_file=str(path))
    before = model.wv.vectors.copy()
    words, raw = model.train(corpus_file=str(path), total_words=model.corpus_total_words, epochs=1)
    assert raw == sum(len(s) for s in CORPUS[:100]) and 0 < words <= raw
    assert not np.array_equal(before, model.wv.vectors)


def test_emulated_gpu_hs_refuses_paths_longer_than_32(monkeypatch):
    fib = [1, 1]
    while len(fib) < 40:  # Fibonacci counts: a Huffman path of 39 nodes
        fib.append(fib[-1] + fib[-2])
    counts = np.array(fib, dtype=np.int64)
    model = Word2Vec(hs=1, negative=0, min_count=1, vector_size=8, device="cuda")
    model.build_vocab_from_freq({f"w{i}": c for i, c in enumerate(fib)})
    monkeypatch.setattr(fw, "_trainer_device", lambda device: "emulated")
    with pytest.raises(ValueError, match="longest Huffman path has 39 nodes"):
        model.train([["w0", "w1"]], total_examples=1, epochs=1)
    tree = _C.w2v_huffman(counts)  # the driver's own check, under the Python one
    syn = np.zeros((len(fib), 8), dtype=np.float32)
    trainer = _C.W2vTrainer(
        syn, syn.copy(), counts, np.full(len(fib), 2**32 - 1, np.uint32), sg=True, window=1,
        negative=0, ns_exponent=0.75, cbow_mean=True, shrink_windows=True, compute_loss=False,
        alpha=0.025, min_alpha=0.0001, workers=1, seed=1, device="emulated", hs=True,
        syn1=syn.copy(), code_offsets=tree[0], codes=tree[1], points=tree[2],
    )  # fmt: skip
    trainer.start(2)
    with pytest.raises(Exception, match="Huffman paths of up to 32 nodes"):
        trainer.train_ids(np.array([0, 1], np.int32), np.array([0, 2], np.int64), 0)


def gpu_trainer(V, E, device="emulated", seed=5):
    """A skip-gram trainer on the GPU kernel (emulated unless told) that keeps every word (no
    subsampling); returns it and its syn0."""
    rng = np.random.default_rng(seed)
    syn0 = ((rng.random((V, E)) - 0.5) / E).astype(np.float32)
    counts = np.arange(V, 0, -1, dtype=np.int64) * 10
    trainer = _C.W2vTrainer(
        syn0, np.zeros((V, E), np.float32), counts, np.full(V, 2**32 - 1, np.uint32), sg=True,
        window=3, negative=4, ns_exponent=0.75, cbow_mean=True, shrink_windows=True,
        compute_loss=True, alpha=0.025, min_alpha=0.0001, workers=1, seed=seed, device=device,
    )  # fmt: skip
    return trainer, syn0


def launch_corpus(V):
    """Sentence lengths, ids [W] and offsets [S+1] of a corpus of 40 sentences, one cut into two
    pieces, one too short to train."""
    rng = np.random.default_rng(0)
    lengths = list(rng.integers(2, 25, size=40))
    lengths[7] = 10_005  # pieces of 10000 and 5 words, sharing their sentence's learning rate
    lengths[20] = 1  # too short to train: no piece
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return lengths, rng.integers(0, V, size=offsets[-1]).astype(np.int32), offsets


def test_an_epoch_past_the_launch_bound_runs_in_several_launches():
    """An epoch whose kept words pass launch_words runs as several kernel launches (so none
    outlives a display GPU's watchdog): consecutive whole pieces, as many as fit in launch_words
    (a longer piece alone), and no more than max(1, launch_words // 2) blocks a launch, which is how
    the grid size stays in range (test_launch_words_is_range_checked). Each piece's learning rate is
    the CPU trainer's (and gensim's) linear decay by the words before its sentence in the run,
    continuing across launches and epochs; and the weights are bit for bit those of one launch an
    epoch (the emulator runs blocks in order, one worker)."""
    V, E, bound, total_epochs = 30, 8, 60, 2
    lengths, ids, offsets = launch_corpus(V)
    total = total_epochs * int(offsets[-1])

    split, split_syn0 = gpu_trainer(V, E)
    split.launch_words = bound
    whole, whole_syn0 = gpu_trainer(V, E)
    assert whole.launch_words == 2**20 > offsets[-1]
    split.start(total)
    whole.start(total)
    for epoch in range(total_epochs):
        split.train_ids(ids, offsets, epoch)
        whole.train_ids(ids, offsets, epoch)
        assert len(whole.launches) == 1

        # the expected pieces (sentence, kept words) and the greedy plan over them
        pieces = [
            (s, min(10_000, n - p)) for s, n in enumerate(lengths) for p in range(0, n, 10_000)
        ]
        pieces = [(s, m) for s, m in pieces if m > 1]
        plan, words = [[]], 0
        for piece in pieces:
            if plan[-1] and words + piece[1] > bound:
                plan.append([])
                words = 0
            plan[-1].append(piece)
            words += piece[1]

        def rate(s, epoch=epoch):  # w2v::learning_rate after the words before sentence s
            done = epoch * int(offsets[-1]) + int(offsets[s])
            return np.float32(max(0.0001, 0.025 + (0.0001 - 0.025) * min(1.0, done / total)))

        launches = split.launches
        assert len(launches) == len(plan) > 2
        for got, want in zip(launches, plan, strict=True):
            assert got[0] == len(want) <= max(1, bound // 2)
            assert got[1] == sum(m for _, m in want)
            assert got[1] <= bound or len(want) == 1
            assert got[2] == rate(want[0][0]) and got[3] == rate(want[-1][0])
        for before, after in itertools.pairwise(launches):  # the decay goes on across launches
            assert after[2] <= before[3]  # (equal where a sentence's pieces part)
        assert launches[-1][3] < launches[0][2]
    np.testing.assert_array_equal(split_syn0, whole_syn0)
    assert split.loss == whole.loss
    assert split.words_done == whole.words_done == total


def test_launch_words_is_range_checked():
    """launch_words is 1..2^31 - 1, so a launch's grid (at most max(1, launch_words // 2) blocks,
    each piece keeping 2 words or more) never passes gridDim.x's 2^31 - 1 and its cast to unsigned
    cannot wrap."""
    trainer, _ = gpu_trainer(4, 8)
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError, match=rf"launch_words: expected 1..2147483647, got {bad}"):
            trainer.launch_words = bad
    trainer.launch_words = 2**31 - 1
    assert trainer.launch_words == 2**31 - 1


def test_gpu_device_memory_falls_back_to_cuda_malloc_without_memory_pools():
    """Device memory is stream-ordered only where the device reports memory pools; a device
    without them, or a driver that does not know the attribute (the query fails), gets
    cudaMalloc/cudaFree instead of cudaMallocAsync's cudaErrorNotSupported."""
    assert _C._gpu_device_memory(read=True, pools=1) == "cudaMallocAsync"
    assert _C._gpu_device_memory(read=True, pools=0) == "cudaMalloc"
    assert _C._gpu_device_memory(read=False, pools=1) == "cudaMalloc"


def test_a_stop_request_ends_the_epoch_before_its_next_launch():
    """W2vTrainer.request_stop (Ctrl-C in Word2Vec.train) ends a GPU epoch after the launch that
    is running: asked before the epoch, none runs and the weights stay as they were; start()
    clears the request. Before, the GPU paths ran every launch of the epoch."""
    V, E, bound = 30, 8, 60
    _, ids, offsets = launch_corpus(V)
    trainer, syn0 = gpu_trainer(V, E)
    trainer.launch_words = bound
    trainer.start(int(offsets[-1]))
    before = syn0.copy()
    trainer.request_stop()
    trainer.train_ids(ids, offsets, 0)
    np.testing.assert_array_equal(syn0, before)
    trainer.start(int(offsets[-1]))
    trainer.train_ids(ids, offsets, 0)
    assert not np.array_equal(syn0, before)
