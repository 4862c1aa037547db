"""Word2Vec and KeyedVectors: vocabulary and sampling tables against gensim, training mechanics
(reproducibility, long sentences, corpus files and their pieces, loss, callbacks, progress),
saving and loading, thread safety of lookups during training, and KeyedVectors' lookups and
evaluations against gensim's on the same vectors."""

import bz2
import copy
import gzip
import logging
import pickle
import re
import subprocess
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

import fastrnn.word2vec
import numpy as np
import pytest
from fastrnn import _C, KeyedVectors, LineSentence, Word2Vec

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors as GensimKV  # noqa: E402
from gensim.models import Word2Vec as GensimW2V  # noqa: E402
from gensim.models.callbacks import CallbackAny2Vec  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

LEE = datapath("lee_background.cor")


@pytest.fixture(scope="module")
def lee():
    return list(LineSentence(LEE))


@pytest.fixture(scope="module")
def lee_model(lee):
    return Word2Vec(lee, vector_size=32, epochs=2, workers=2, min_count=5)


# ---- vocabulary and tables ----


def test_vocabulary_matches_gensim(lee):
    ours = Word2Vec(vector_size=8, min_count=3)
    ours.build_vocab(lee)
    theirs = GensimW2V(vector_size=8, min_count=3)
    theirs.build_vocab(lee)
    assert set(ours.wv.index_to_key) == set(theirs.wv.index_to_key)
    for w in ours.wv.index_to_key[:200]:
        assert ours.wv.get_vecattr(w, "count") == theirs.wv.get_vecattr(w, "count")
    counts = [ours.wv.get_vecattr(w, "count") for w in ours.wv.index_to_key]
    assert counts == sorted(counts, reverse=True)
    assert ours.corpus_count == theirs.corpus_count
    assert ours.corpus_total_words == theirs.corpus_total_words


def test_max_vocab_size_prunes_like_gensim(lee):
    ours = Word2Vec(vector_size=8, min_count=1, max_vocab_size=2000)
    ours.build_vocab(lee)
    theirs = GensimW2V(vector_size=8, min_count=1, max_vocab_size=2000)
    theirs.build_vocab(lee)
    assert set(ours.wv.index_to_key) == set(theirs.wv.index_to_key)


def test_subsampling_thresholds_match_gensim(lee):
    theirs = GensimW2V(vector_size=8, min_count=2, sample=1e-3)
    theirs.build_vocab(lee)
    counts = np.array([theirs.wv.get_vecattr(w, "count") for w in theirs.wv.index_to_key])
    keep = _C.w2v_subsample_thresholds(counts.astype(np.int64), 1e-3).astype(np.float64)
    ref = np.array([theirs.wv.get_vecattr(w, "sample_int") for w in theirs.wv.index_to_key])
    assert np.all(np.abs(keep - np.minimum(ref, 2**32 - 1)) <= 2.0)


def test_negative_table_is_unigram_power():
    counts = np.array([1000, 300, 50, 7, 1, 1], dtype=np.int64)
    p = _C.w2v_negative_probabilities(counts, 0.75)
    ref = counts**0.75 / (counts**0.75).sum()
    assert np.allclose(p, ref, atol=1e-8)


# ---- training mechanics ----


def test_workers1_seed_is_bit_reproducible(lee):
    kw = dict(vector_size=24, epochs=2, workers=1, seed=7, min_count=3)
    a, b = Word2Vec(lee, **kw), Word2Vec(lee, **kw)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    c = Word2Vec(lee, **dict(kw, seed=8))
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)
    for sg in (0, 1):
        d = Word2Vec(corpus_file=LEE, **dict(kw, sg=sg))
        e = Word2Vec(corpus_file=LEE, **dict(kw, sg=sg))
        assert np.array_equal(d.wv.vectors, e.wv.vectors)


def test_long_sentences_are_split_not_cut():
    sentence = ["a", "b"] * 6000 + ["c", "d"] * 6000  # 24,000 words; c, d after word 12,000
    model = Word2Vec(vector_size=8, min_count=1, sample=0, workers=1, epochs=1)
    model.build_vocab([sentence])
    before = model.wv.vectors.copy()
    trained, raw = model.train([sentence], total_examples=1, epochs=1)
    assert raw == 24000 and trained == 24000
    for w in "abcd":
        assert not np.array_equal(before[model.wv.key_to_index[w]], model.wv[w])
    assert _C.w2v_max_sentence() == 10000


@pytest.mark.parametrize("sg", [1, 0])
def test_a_huge_window_takes_no_memory_beyond_the_longest_sentence(sg):
    """A window past any sentence (item2vec's "whole basket" window) costs what a window of
    kMaxSentence words does: a worker's scratch grew as window * vector_size (248 MB for
    window=2**20 at vector_size 16, about 4 GB per worker at the allowed 2**24) though a
    trained sentence holds at most 10,000 words; gensim needs no memory for the window."""
    code = (
        "import resource\n"
        "from fastrnn import Word2Vec\n"
        "s = [['a', 'b', 'c', 'd']] * 10\n"
        f"m = Word2Vec(vector_size=16, min_count=1, window=2**20, workers=1, sg={sg})\n"
        "m.build_vocab(s)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "m.train(s, total_examples=10, epochs=1)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    grown_kib = int(out.stdout.split()[-1])
    assert grown_kib < 32 * 1024, f"training grew the process by {grown_kib} KiB"


def test_compute_loss_is_double_and_positive(lee):
    model = Word2Vec(lee, vector_size=16, epochs=2, compute_loss=True, workers=2)
    loss = model.get_latest_training_loss()
    assert isinstance(loss, float) and np.isfinite(loss) and loss > 0
    model.train(lee, total_examples=model.corpus_count, epochs=1, compute_loss=True)
    assert 0 < model.get_latest_training_loss() < loss
    model.train(lee, total_examples=model.corpus_count, epochs=1)
    assert model.get_latest_training_loss() == 0.0


def _write(path: Path, lines, opener=open):
    with opener(path, "wt", encoding="utf8") as f:
        f.write("\n".join(" ".join(s) for s in lines))


def test_corpus_file_plain_gz_bz2(tmp_path, lee):
    plain, gz, bz = tmp_path / "c.txt", tmp_path / "c.txt.gz", tmp_path / "c.txt.bz2"
    _write(plain, lee)
    _write(gz, lee, gzip.open)
    _write(bz, lee, bz2.open)
    ref = Word2Vec(vector_size=8)
    ref.build_vocab(lee)
    for path in (plain, gz, bz):
        m = Word2Vec(vector_size=8, epochs=1, workers=2)
        m.build_vocab(corpus_file=str(path))
        assert m.wv.index_to_key == ref.wv.index_to_key
        assert (m.corpus_count, m.corpus_total_words) == (ref.corpus_count, ref.corpus_total_words)
        trained, raw = m.train(corpus_file=path, total_words=m.corpus_total_words, epochs=1)
        assert 0 < trained <= raw
    sentences = list(LineSentence(gz))
    assert sentences == [s for s in lee]


def test_corpus_file_compressed_by_its_suffix_in_any_case_as_gensim(tmp_path, lee):
    """gensim's smart_open reads c.txt.GZ and c.txt.BZ2 compressed too."""
    ref = Word2Vec(vector_size=8)
    ref.build_vocab(lee)
    for name, opener in (("c.txt.GZ", gzip.open), ("c.txt.Bz2", bz2.open)):
        _write(tmp_path / name, lee, opener)
        m = Word2Vec(vector_size=8)
        m.build_vocab(corpus_file=str(tmp_path / name))
        assert m.wv.index_to_key == ref.wv.index_to_key
        assert list(LineSentence(tmp_path / name)) == [s for s in lee]


def test_byte_ranges_never_split_or_repeat_lines(tmp_path):
    rng = np.random.default_rng(0)
    lines = [
        " ".join(f"w{i}" for i in rng.integers(0, 50, rng.integers(0, 30))) for _ in range(500)
    ]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n")
    vocab = _C.W2vVocab([f"w{i}" for i in range(50)])
    total = sum(len(s.split()) for s in lines)
    for workers in (1, 2, 3, 7, 64):
        assert vocab.count_file_words(str(path), workers) == total
    model = Word2Vec(vector_size=8, min_count=1, workers=3, sample=0)
    model.build_vocab(corpus_file=str(path))
    trained, raw = model.train(corpus_file=str(path), total_words=total, epochs=2)
    assert raw == 2 * total and trained == 2 * total
    path.write_text("\n".join(lines) + "\nrare1 rare2\nrare3\n")  # three unknown words
    model = Word2Vec(vector_size=8, min_count=2, workers=3, sample=0)
    model.build_vocab(corpus_file=str(path))
    trained, raw = model.train(corpus_file=str(path), total_words=total + 3, epochs=1)
    assert raw == total + 3 and trained == total


def _pieces_tokens(data: bytes, bounds):
    return [t for b, e in pairwise(bounds) for t in data[b:e].decode().split()]


def test_a_one_line_corpus_file_is_shared_by_the_workers(tmp_path):
    """text8's layout, one line of many megabytes: every worker reads its own part of the line,
    cut between two tokens (never inside one, nor inside a UTF-8 character); lines shorter than
    the 1 MiB window stay whole. Before, the line belonged to the first worker alone."""
    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(200)] + ["café", "naïve", "日本"])
    seps = np.array([" "] * 40 + ["  ", "\t", "\u00a0", "\u3000", "\u2003"])
    n = 400_000
    line = "".join(
        w + sep
        for w, sep in zip(
            words[rng.integers(0, len(words), n)], seps[rng.integers(0, len(seps), n)], strict=True
        )
    )
    path = tmp_path / "one_line.txt"
    # Over 8 MiB: a cut within the window of the file's end goes to the end (the end of the last
    # line), so each of 8 workers' pieces must span more than the window to be non-empty.
    path.write_text(line * 5, encoding="utf-8")
    data = path.read_bytes()
    assert len(data) > 8 << 20 and b"\n" not in data
    tokens = data.decode().split()
    for parts in (1, 2, 3, 5, 8):
        bounds = _C.w2v_file_pieces(str(path), parts)
        assert bounds[0] == 0 and bounds[-1] == len(data) and len(bounds) == parts + 1
        assert all(b < e for b, e in pairwise(bounds))  # every worker has a part
        assert all(data[b - 1 : b].isspace() for b in bounds[1:-1])  # cut after ASCII space
        assert _pieces_tokens(data, bounds) == tokens
    vocab = _C.W2vVocab(list(words))
    for workers in (1, 2, 5):
        assert vocab.count_file_words(str(path), workers) == len(tokens)
    model = Word2Vec(vector_size=8, min_count=1, workers=2, sample=0)
    model.build_vocab(corpus_file=str(path))
    assert model.corpus_total_words == len(tokens)
    trained, raw = model.train(corpus_file=str(path), total_words=len(tokens), epochs=1)
    assert trained == raw == len(tokens)

    # Short lines after a long one: cuts at line ends, except inside the long line.
    short = "\n".join(" ".join(words[rng.integers(0, 200, 12)]) for _ in range(30_000))
    path.write_text(line + "\n" + short + "\n", encoding="utf-8")
    data = path.read_bytes()
    bounds = _C.w2v_file_pieces(str(path), 8)  # the first cut lies over 1 MiB before the '\n'
    first_newline = data.index(b"\n")
    for b in bounds[1:-1]:
        assert data[b - 1 : b] == b"\n" or b <= first_newline
    assert any(b < first_newline for b in bounds[1:-1])  # the long line was cut
    assert any(b > first_newline for b in bounds[1:-1])
    assert _pieces_tokens(data, bounds) == data.decode().split()


def test_progress_moves_during_a_one_line_corpus(tmp_path, monkeypatch):
    """A one-line corpus (text8's layout): a worker's job ends every batch_words words inside
    the line as between lines, so the shared progress, which sets the learning rate, moves
    during the line. Before, a worker published its progress once, at the end of its piece: one
    worker trained a whole text8 epoch at the rate it started with."""
    rng = np.random.default_rng(2)
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(f"w{i}" for i in rng.integers(0, 500, 400_000)))
    model = Word2Vec(vector_size=8, min_count=1, workers=1, sample=0, progress=True)
    model.build_vocab(corpus_file=str(path))
    seen = set()

    def polling(run, trainer, bar):  # as _run_polling, with a finer clock
        t = threading.Thread(target=run)
        t.start()
        while t.is_alive():
            seen.add(trainer.words_done)
            time.sleep(0.0002)
        t.join()
        seen.add(trainer.words_done)

    monkeypatch.setattr(fastrnn.word2vec, "_run_polling", polling)
    model.train(corpus_file=str(path), total_words=model.corpus_total_words, epochs=1)
    assert max(seen) == 400_000
    assert len(seen - {0, 400_000}) >= 3, sorted(seen)


def test_a_last_line_without_a_newline_stays_whole(tmp_path):
    """The end of the file ends its last line as a '\n' would: a cut within the 1 MiB window of
    it goes to the end, so a short last line is never cut in two, '\n' or not."""
    path = tmp_path / "c.txt"
    for text in (b"aaa\nbbb ccc", b"one two three four", b"x\ty\r\nz w"):
        for data in (text, text + b"\n"):
            path.write_bytes(data)
            for parts in (2, 3, 5, len(data) + 2):
                bounds = _C.w2v_file_pieces(str(path), parts)
                cuts = bounds[1:-1]
                assert all(b in (0, len(data)) or data[b - 1] == ord("\n") for b in cuts), bounds
    path.write_bytes(b"aaa\nbbb ccc")
    assert _C.w2v_file_pieces(str(path), 2) == [0, 11, 11]  # was [0, 8, 11]: "bbb " | "ccc"


def test_callbacks_and_progress(lee, monkeypatch):
    events = []

    class Recorder:
        def on_train_begin(self, model):
            events.append("train_begin")

        def on_epoch_begin(self, model):
            events.append("epoch_begin")

        def on_epoch_end(self, model):
            events.append("epoch_end")

        def on_train_end(self, model):
            events.append("train_end")

    Word2Vec(lee, vector_size=8, epochs=2, callbacks=[Recorder()], progress=True)
    assert events == ["train_begin"] + ["epoch_begin", "epoch_end"] * 2 + ["train_end"]
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # tqdm absent: no bar, no error
    Word2Vec(lee, vector_size=8, epochs=1, progress=True)


def test_similarities_in_epoch_callbacks_use_the_epochs_vectors(lee):
    """A callback's most_similar at each epoch's end scores by the vectors as they are then: the
    norms cached before training (by a query, or an earlier epoch's callback) were kept until
    train() ended, so cosines came out far above 1 (gensim 4 has the same stale cache)."""
    scores = []

    class Nearest:
        def on_epoch_end(self, model):
            scores.append(model.wv.most_similar("attacks", topn=1)[0][1])
            v = model.wv["attacks"]
            assert np.allclose(model.wv.get_vector("attacks", norm=True), v / np.linalg.norm(v))

    model = Word2Vec(vector_size=16, min_count=2, workers=1)
    model.build_vocab(lee)
    model.wv.most_similar("attacks")  # norms of the initial vectors
    model.train(lee, total_examples=model.corpus_count, epochs=2, callbacks=[Nearest()])
    assert len(scores) == 2 and all(s <= 1.0 + 1e-5 for s in scores), scores


def test_lookups_are_safe_during_training(lee):
    model = Word2Vec(vector_size=32, workers=2, min_count=2)
    model.build_vocab(lee)
    errors = []

    def train():
        try:
            model.train(lee * 4, total_examples=4 * model.corpus_count, epochs=3)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=train)
    t.start()
    n = 0
    while t.is_alive() or n < 5:
        assert model.wv["attacks"].shape == (32,)
        assert len(model.wv.most_similar("attacks", topn=5)) == 5
        assert "attacks" in model.wv
        n += 1
    t.join()
    assert not errors


def test_save_load_roundtrip_and_continue(tmp_path, lee):
    model = Word2Vec(lee, vector_size=16, epochs=1, workers=2, sg=1)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = Word2Vec.load(path)
    assert loaded.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
    assert np.array_equal(loaded.syn1neg, model.syn1neg)
    assert (loaded.sg, loaded.window, loaded.negative) == (1, 5, 5)
    loaded.train(lee, total_examples=loaded.corpus_count, epochs=1)
    assert not np.array_equal(loaded.wv.vectors, model.wv.vectors)
    kv_path = tmp_path / "kv.npz"
    model.wv.save(kv_path)
    kv = KeyedVectors.load(kv_path)
    assert np.array_equal(kv["attacks"], model.wv["attacks"])
    assert kv.get_vecattr("the", "count") == model.wv.get_vecattr("the", "count")


@pytest.mark.parametrize("hs", [0, 1])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickle_and_deepcopy_keep_the_model_and_its_training(lee, how, hs):
    """As gensim's, a model with a vocabulary pickles and deep-copies (the C++ vocabulary is
    rebuilt from the keys); the copy continues training bit for bit as the original does."""
    kw = dict(vector_size=16, epochs=1, workers=1, seed=3, min_count=3, hs=hs)
    model = Word2Vec(lee, **kw)
    copy_of = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    assert copy_of.wv.index_to_key == model.wv.index_to_key
    assert np.array_equal(copy_of.wv.vectors, model.wv.vectors)
    assert np.array_equal(copy_of.syn1neg, model.syn1neg)
    assert np.array_equal(copy_of.syn1, model.syn1)
    assert copy_of.wv.vectors is not model.wv.vectors
    for m in (model, copy_of):
        m.train(lee, total_examples=m.corpus_count, epochs=2)
    assert np.array_equal(copy_of.wv.vectors, model.wv.vectors)
    assert np.array_equal(copy_of.syn1neg, model.syn1neg)
    assert copy_of.wv.most_similar("the", topn=3) == model.wv.most_similar("the", topn=3)
    empty = pickle.loads(pickle.dumps(Word2Vec(min_count=1)))  # no vocabulary yet
    empty.build_vocab(lee)
    assert len(empty.wv) > 0


def test_save_takes_gensims_pickle_options_and_refuses_a_file_object(tmp_path, caplog):
    """gensim's save(fname, separately, sep_limit, ignore, pickle_protocol) shape its pickle
    files: accepted (they were unexpected arguments) with a warning that they have no effect;
    an open file as fname is a TypeError naming fname (it was numpy's 'expected str, bytes or
    os.PathLike object'), since the file is replaced atomically."""
    model = Word2Vec([["a", "b", "c"]] * 5, vector_size=4, min_count=1, epochs=1, workers=1)
    path = tmp_path / "m.npz"
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        model.save(path)
        assert not caplog.records
        model.save(path, ["syn1neg"], 1024, pickle_protocol=5)
        model.save(path, ignore=frozenset(["syn1neg"]))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "separately, sep_limit, pickle_protocol ignored" in messages[0]
    assert "ignore ignored" in messages[1]
    loaded = Word2Vec.load(path)  # every array is still saved
    assert np.array_equal(loaded.syn1neg, model.syn1neg)
    with (
        open(tmp_path / "f.npz", "wb") as f,
        pytest.raises(TypeError, match="fname: expected a path"),
    ):
        model.save(f)


def test_save_is_atomic(tmp_path, lee_model, monkeypatch):
    path = tmp_path / "m.npz"
    path.write_bytes(b"previous contents")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", boom)
    with pytest.raises(OSError, match="disk full"):
        lee_model.save(path)
    assert path.read_bytes() == b"previous contents"
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_to_torch_embedding(lee_model):
    torch = pytest.importorskip("torch")
    emb = lee_model.wv.to_torch_embedding()
    assert isinstance(emb, torch.nn.Embedding) and not emb.weight.requires_grad
    i = lee_model.wv.key_to_index["attacks"]
    assert np.array_equal(emb(torch.tensor([i]))[0].numpy(), lee_model.wv["attacks"])
    assert lee_model.wv.to_torch_embedding(freeze=False).weight.requires_grad


# ---- word2vec files, both directions with gensim ----


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_roundtrips_with_gensim(tmp_path, lee_model, binary):
    ours = tmp_path / "ours.w2v"
    lee_model.wv.save_word2vec_format(ours, binary=binary)
    g = GensimKV.load_word2vec_format(str(ours), binary=binary)
    assert g.index_to_key == lee_model.wv.index_to_key
    assert np.array_equal(g.vectors, lee_model.wv.vectors)

    theirs = tmp_path / "theirs.w2v"
    g.save_word2vec_format(str(theirs), binary=binary)
    back = KeyedVectors.load_word2vec_format(theirs, binary=binary)
    assert back.index_to_key == lee_model.wv.index_to_key
    assert np.array_equal(back.vectors, lee_model.wv.vectors)

    limited = KeyedVectors.load_word2vec_format(theirs, binary=binary, limit=10)
    assert limited.index_to_key == lee_model.wv.index_to_key[:10]
    assert np.array_equal(limited.vectors, lee_model.wv.vectors[:10])


def test_word2vec_c_binary_with_newlines(tmp_path):
    vecs = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "c.bin"
    records = [w + b" " + v.tobytes() + b"\n" for w, v in zip([b"x", b"y"], vecs, strict=True)]
    path.write_bytes(b"2 3\n" + b"".join(records))
    kv = KeyedVectors.load_word2vec_format(path, binary=True)
    assert kv.index_to_key == ["x", "y"] and np.array_equal(kv.vectors, vecs)


# ---- KeyedVectors against gensim on the same vectors ----


@pytest.fixture(scope="module")
def twin(lee):
    # One worker: reproducible vectors, so no run can produce a near-tie that the two libraries'
    # rounding orders differently.
    model = Word2Vec(lee, vector_size=48, epochs=5, workers=1, min_count=3, seed=3)
    g = GensimKV(48)
    g.add_vectors(model.wv.index_to_key, model.wv.vectors)
    return model.wv, g


def assert_same_ranking(a, b, tol=1e-5):
    """Two most_similar results: the same scores, and the same words in the same order except
    where scores tie within tol, which the two libraries' roundings may order either way (the
    vectors fastrnn's generic kernels train give a tie between "a" and "A" here)."""
    assert np.allclose([s for _, s in a], [s for _, s in b], atol=tol)
    scores = [s for _, s in b]
    for i, ((wa, _), (wb, _)) in enumerate(zip(a, b, strict=True)):
        if wa != wb:
            # Ours is one of gensim's words with this score, or the tie runs to the end of the
            # list, where the cut at topn may have left it out.
            tied = {w for w, s in b if abs(s - scores[i]) <= tol}
            assert wa in tied or abs(scores[-1] - scores[i]) <= tol, f"{wa!r} != {wb!r} at {i}"


def test_most_similar_matches_gensim(twin):
    ours, theirs = twin
    for args in [
        dict(positive="attacks"),
        dict(positive=["attacks", "police"], negative=["government"], topn=7),
        dict(positive=[("attacks", 2.0), "fire"], topn=4, restrict_vocab=500),
        dict(positive=[ours["police"]], topn=3),
    ]:
        assert_same_ranking(ours.most_similar(**args), theirs.most_similar(**args))
    assert np.isclose(ours.similarity("attacks", "police"), theirs.similarity("attacks", "police"))
    words = ["attacks", "police", "bombings", "australia"]
    assert ours.doesnt_match(words) == theirs.doesnt_match(words)


def test_evaluations_match_gensim(twin):
    ours, theirs = twin
    qw = datapath("questions-words.txt")
    s1, sec1 = ours.evaluate_word_analogies(qw)
    s2, sec2 = theirs.evaluate_word_analogies(qw)
    assert s1 == pytest.approx(s2)
    assert [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sec1] == [
        (s["section"], len(s["correct"]), len(s["incorrect"])) for s in sec2
    ]
    p1, r1, o1 = ours.evaluate_word_pairs(datapath("wordsim353.tsv"))
    p2, r2, o2 = theirs.evaluate_word_pairs(datapath("wordsim353.tsv"))
    assert p1[0] == pytest.approx(p2[0], abs=1e-6)
    assert r1[0] == pytest.approx(r2[0], abs=1e-6)
    assert o1 == pytest.approx(o2)


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_evaluation_files_may_be_compressed_as_in_gensim(twin, tmp_path, suffix):
    """gensim opens the analogy and word-pair files through smart_open: .gz and .bz2 by name."""
    import bz2
    import gzip

    ours, _ = twin
    module = gzip if suffix == ".gz" else bz2
    results = []
    for name, evaluate in [
        ("questions-words.txt", ours.evaluate_word_analogies),
        ("wordsim353.tsv", ours.evaluate_word_pairs),
    ]:
        packed = tmp_path / (name + suffix)
        with open(datapath(name), "rb") as src, module.open(packed, "wb") as dst:
            dst.write(src.read())
        results.append((evaluate(datapath(name)), evaluate(packed)))
    (plain_score, plain_sections), (packed_score, packed_sections) = results[0]
    assert packed_score == plain_score and packed_sections == plain_sections
    assert results[1][1] == results[1][0]
    broken = tmp_path / ("broken" + suffix)
    broken.write_bytes(packed.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt or truncated compressed file"):
        ours.evaluate_word_pairs(broken)


def test_every_instruction_set_trains_the_same(tmp_path):
    """The generic, AVX2 and AVX-512 kernels differ only in rounding (workers=1, same seed), with
    negative sampling and with hierarchical softmax beside it."""
    import subprocess

    script = (
        "import sys, numpy as np; from fastrnn import Word2Vec, LineSentence; "
        f"c = list(LineSentence({LEE!r}))[:150]; "
        "hs = int(sys.argv[2]); "
        "m = Word2Vec(c, vector_size=20, epochs=1, workers=1, min_count=2, sg=int(sys.argv[1]), "
        "hs=hs, negative=2 if hs else 5); "
        "np.save(sys.argv[3], m.wv.vectors)"
    )
    for sg, hs in ((0, 0), (1, 0), (0, 1), (1, 1)):
        results = {}
        for isa in ("generic", "avx2", "avx512"):
            out = tmp_path / f"{isa}{sg}{hs}.npy"
            env = dict(__import__("os").environ, FASTRNN_ISA=isa)
            args = [sys.executable, "-c", script, str(sg), str(hs), str(out)]
            subprocess.run(args, check=True, env=env)
            results[isa] = np.load(out)
        for isa in ("avx2", "avx512"):
            assert np.allclose(results[isa], results["generic"], atol=1e-5), (isa, sg, hs)


def test_constructor_reuses_the_vocabulary_scan(lee):
    """Word2Vec(sentences) trains on the ids recorded while counting; the result is the one of
    build_vocab() + train() (workers=1, same seed)."""
    kw = dict(vector_size=16, epochs=2, workers=1, seed=5, min_count=3)
    a = Word2Vec(lee, **kw)
    b = Word2Vec(**kw)
    b.build_vocab(lee)
    b.train(lee, total_examples=b.corpus_count, epochs=2)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    c = Word2Vec(lee, max_vocab_size=1500, **kw)  # pruning stops the recording: still trains
    assert len(c.wv) > 0 and c.train_count == 1


def test_keyed_vector_helpers_match_gensim_on_the_same_vectors(tmp_path):
    """n_similarity (cosine of the mean raw vectors), the indexer of most_similar, and
    evaluate_word_pairs' oov_ratio with dummy4unknown, beside gensim on identical vectors."""
    keys, vectors = ["a", "b", "c", "d"], np.array([[1, 0], [0, 10], [1, 1], [2, -1]], np.float32)
    ours, theirs = KeyedVectors(2), GensimKV(2)
    ours.add_vectors(keys, vectors)
    theirs.add_vectors(keys, vectors)
    assert ours.n_similarity(["a", "b"], ["c"]) == pytest.approx(
        float(theirs.n_similarity(["a", "b"], ["c"])), abs=1e-6
    )

    class Indexer:
        def most_similar(self, vector, topn):
            return [("from the indexer", topn)]

    assert ours.most_similar("a", topn=3, indexer=Indexer()) == [("from the indexer", 3)]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("a\tb\t1.0\na\tc\t5.0\nx\ty\t2.0\nc\td\t3.0\nz\ta\t4.0\n")
    for dummy in (False, True):
        got = ours.evaluate_word_pairs(str(pairs), dummy4unknown=dummy)[2]
        want = theirs.evaluate_word_pairs(str(pairs), dummy4unknown=dummy)[2]
        assert got == pytest.approx(want), dummy


def test_evaluate_word_pairs_skips_lines_of_other_than_three_fields_as_gensim(tmp_path):
    """gensim skips a line that is not exactly 'word, word, score' (a fourth column too);
    fastrnn read the first three fields of any line, so the same file scored otherwise."""
    keys = ["a", "b", "c", "d", "e"]
    vectors = np.array([[1, 0], [0, 10], [1, 1], [2, -1], [-1, 3]], np.float32)
    ours, theirs = KeyedVectors(2), GensimKV(2)
    ours.add_vectors(keys, vectors)
    theirs.add_vectors(keys, vectors)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "a\tb\t1.0\na\tc\t5.0\tnote\nc\td\t3.0\t\nb\te\t2.5\nd\te\t0.5\na\te\t4\n"
        "b\td\t9.0\t1\t2\nx\ta\t1.0\textra\n"
    )
    for dummy in (False, True):
        (p1, _), (s1, _), o1 = ours.evaluate_word_pairs(str(pairs), dummy4unknown=dummy)
        (p2, _), (s2, _), o2 = theirs.evaluate_word_pairs(str(pairs), dummy4unknown=dummy)
        assert (p1, s1, o1) == pytest.approx((p2, s2, o2), abs=1e-6), dummy
        assert o1 == 0.0  # the one line with an unknown word has four fields


def test_train_uses_its_own_callbacks_and_keeps_its_rate_and_epochs():
    """As gensim: constructor callbacks run for the constructor's training only; train()'s
    epochs, start_alpha and end_alpha become the model's."""
    calls = []

    class Count:
        def on_epoch_end(self, model):
            calls.append(model.epochs)

    sentences = [["a", "b", "c", "d"]] * 20
    model = Word2Vec(sentences, min_count=1, epochs=2, workers=1, callbacks=[Count()])
    assert len(calls) == 2
    model.train(sentences, total_examples=20, epochs=3, start_alpha=0.05, end_alpha=0.001)
    assert len(calls) == 2
    assert (model.epochs, model.alpha, model.min_alpha) == (3, 0.05, 0.001)


def test_callbacks_without_a_corpus_are_ignored_with_a_warning_as_gensim(caplog):
    """Word2Vec(callbacks=...) without a corpus trains nothing, so its callbacks never run; gensim
    warns that callbacks are not kept by the model. fastrnn kept them silently as
    model.callbacks, as if a later train() would use them."""
    calls = []

    class Count:
        def on_epoch_end(self, model):
            calls.append(1)

    sentences = [["a", "b", "c", "d"]] * 20
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        model = Word2Vec(min_count=1, epochs=1, workers=1, callbacks=[Count()])
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "callbacks" in warned[0].getMessage()
    assert "ignored" in warned[0].getMessage() and "train(" in warned[0].getMessage()
    assert not hasattr(model, "callbacks")  # as gensim: the model keeps none
    model.build_vocab(sentences)
    model.train(sentences, total_examples=20, epochs=1)
    assert calls == []
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        trained = Word2Vec(sentences, min_count=1, epochs=1, workers=1, callbacks=[Count()])
        Word2Vec(min_count=1, callbacks=())
    assert calls == [1] and not caplog.records  # with a corpus they run, without warning
    assert not hasattr(trained, "callbacks")


def test_add_vectors_keeps_existing_keys_unless_replace():
    for kv in (KeyedVectors(2), GensimKV(2)):
        kv.add_vectors(["x"], np.array([[1, 0]], np.float32))
        kv.add_vectors(["x", "y"], np.array([[5, 5], [2, 2]], np.float32))
        np.testing.assert_array_equal(kv["x"], [1, 0])  # as gensim
        kv.add_vectors(["x"], np.array([[5, 5]], np.float32), replace=True)
        np.testing.assert_array_equal(kv["x"], [5, 5])


@pytest.mark.parametrize("name, binary", [("v.txt.gz", False), ("v.bin.gz", True), ("v.bz2", True)])
def test_compressed_word2vec_files_both_ways_with_gensim(tmp_path, name, binary):
    """A path ending in .gz or .bz2 is written and read compressed, as gensim does (the
    GoogleNews vectors come as .bin.gz)."""
    kv = KeyedVectors(3)
    kv.add_vectors(["a", "b"], np.array([[1, 2, 3], [4, 5, 6.5]], np.float32))
    path = tmp_path / name
    kv.save_word2vec_format(path, binary=binary)
    theirs = GensimKV.load_word2vec_format(str(path), binary=binary)
    np.testing.assert_array_equal(theirs["b"], kv["b"])
    theirs.save_word2vec_format(str(path), binary=binary)
    ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert ours.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(ours.vectors, kv.vectors)
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # cut short
    from fastrnn.word2vec_format import Word2VecFormatError

    with pytest.raises(Word2VecFormatError, match="corrupt or truncated compressed file"):
        KeyedVectors.load_word2vec_format(path, binary=binary)


def test_corpus_file_splits_tokens_as_line_sentence(tmp_path):
    """The C++ corpus reader splits on what Python's str.split() splits on (Unicode whitespace:
    NBSP, ideographic space, \\x1c..\\x1f, ...), so a file gives one vocabulary however it is
    passed; a zero-width space (not whitespace) stays inside its token."""
    path = tmp_path / "u.txt"
    path.write_text("a\u00a0b c\u3000d e\x1cf g\u2003h i\u200bj k\u0085l\n" * 5, encoding="utf-8")
    from_file = Word2Vec(corpus_file=str(path), min_count=1, workers=1, epochs=1)
    from_lines = Word2Vec(LineSentence(str(path)), min_count=1, workers=1, epochs=1)
    assert sorted(from_file.wv.index_to_key) == sorted(from_lines.wv.index_to_key)
    assert "i\u200bj" in from_file.wv and "a" in from_file.wv and "l" in from_file.wv


def test_blank_lines_are_no_sentences_as_gensims_line_sentence(tmp_path):
    """gensim's LineSentence yields nothing for a blank line and a line of more than
    max_sentence_length tokens as several sentences, and its Word2Vec counts a corpus_file's
    sentences so; fastrnn's LineSentence yielded [] per blank line and corpus_count counted the
    file's lines (5 here, gensim 3)."""
    from gensim.models.word2vec import LineSentence as GensimLineSentence

    path = tmp_path / "c.txt"
    path.write_text("a b c\n\n \t \nd e\n" + " ".join(["x"] * 25) + "\n\n")
    ours, theirs = LineSentence(str(path), 10), GensimLineSentence(str(path), 10)
    assert list(ours) == list(theirs)
    assert list(LineSentence(str(path), limit=3)) == list(GensimLineSentence(str(path), limit=3))
    kwargs = dict(min_count=1, vector_size=4, workers=1, epochs=1)
    for corpus in (dict(sentences=LineSentence(str(path))), dict(corpus_file=str(path))):
        model, reference = Word2Vec(**corpus, **kwargs), GensimW2V(**corpus, **kwargs)
        assert (model.corpus_count, model.corpus_total_words) == (
            reference.corpus_count,
            reference.corpus_total_words,
        )
    long_line = tmp_path / "long.txt"
    long_line.write_text(" ".join(["y"] * 25_000) + "\n")
    for corpus in (dict(sentences=LineSentence(str(long_line))), dict(corpus_file=str(long_line))):
        assert (
            Word2Vec(**corpus, **kwargs).corpus_count
            == 3
            == GensimW2V(**corpus, **kwargs).corpus_count
        )


@pytest.mark.parametrize("source", ["iterable", "corpus_file"])
def test_each_epochs_log_line_reports_that_epoch_as_gensim(tmp_path, caplog, source):
    """The log line after each epoch is gensim's ('EPOCH 0: training on R raw words (E effective
    words) took ...') with that epoch's own numbers; it reported the words of all epochs so far."""
    sentences = [["a", "b", "c", "d", "rare"]] * 30 + [["a", "b"]] * 10  # 'rare' left out
    path = tmp_path / "c.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences))
    corpus = {"corpus_iterable": sentences} if source == "iterable" else {"corpus_file": str(path)}
    kw = dict(vector_size=8, min_count=31, sample=0, workers=1, epochs=3)
    ours = Word2Vec(**kw)
    ours.build_vocab(**corpus)
    theirs = GensimW2V(**kw)
    theirs.build_vocab(**corpus)
    lines = {}
    for name, model, logger_name in (("ours", ours, "fastrnn"), ("theirs", theirs, "gensim")):
        caplog.clear()
        with caplog.at_level("INFO", logger=logger_name):
            model.train(**corpus, total_examples=40, total_words=170, epochs=3)
        lines[name] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("EPOCH")]
    assert len(lines["ours"]) == 3
    for e, (line, theirs_line) in enumerate(zip(lines["ours"], lines["theirs"], strict=True)):
        expected = f"EPOCH {e}: training on 170 raw words (80 effective words) took "
        assert line.startswith(expected) and theirs_line.startswith(expected), (line, theirs_line)


def test_a_callback_that_changes_the_learning_rate_is_honoured_as_gensim(lee):
    """gensim reads model.alpha and model.min_alpha as each epoch starts (_get_next_alpha), so a
    callback may change the schedule: alpha - (alpha - min_alpha) * progress over all epochs. They
    were read once, when train() began, and a callback's change had no effect."""

    class SetRate(CallbackAny2Vec):  # (gensim calls every method of the base)
        def __init__(self, when, alpha, min_alpha):
            self.when, self.rate, self.epochs, self.snapshot = when, (alpha, min_alpha), 0, None

        def on_epoch_begin(self, model):
            if self.when == "begin" and self.epochs == 0:
                model.alpha, model.min_alpha = self.rate

        def on_epoch_end(self, model):
            self.epochs += 1
            if self.when == "end" and self.epochs == 1:
                model.alpha, model.min_alpha = self.rate
                self.snapshot = model.wv.vectors.copy()

    kw = dict(vector_size=16, min_count=5, workers=1, epochs=2, seed=7)
    for cls in (Word2Vec, GensimW2V):  # a negligible rate after epoch 0 freezes the vectors
        freeze = SetRate("end", 1e-30, 1e-30)
        model = cls(lee, callbacks=[freeze], **kw)
        assert np.array_equal(model.wv.vectors, freeze.snapshot), cls
    # the schedule set as the first epoch begins is the schedule of a model made with it
    changed = Word2Vec(lee, callbacks=[SetRate("begin", 0.05, 0.01)], **kw)
    made = Word2Vec(lee, alpha=0.05, min_alpha=0.01, **kw)
    assert np.array_equal(changed.wv.vectors, made.wv.vectors)
    for bad, message in (
        ((-1.0, 0.0), "alpha: expected a finite number > 0"),
        ((0.025, "x"), "min_alpha: expected a number, got str"),
    ):
        with pytest.raises((TypeError, ValueError), match=message):
            Word2Vec(lee, callbacks=[SetRate("begin", *bad)], **kw)


def _mapped(a: np.ndarray) -> bool:
    """Whether `a` views a memory-mapped file."""
    while a is not None:
        if isinstance(a, np.memmap):
            return True
        a = a.base if isinstance(a.base, np.ndarray) else None
    return False


def test_keyed_vectors_load_with_mmap_as_gensim(tmp_path, lee_model):
    """KeyedVectors.load(path, mmap=...) as gensim's (numpy's mmap_mode): 'r' maps the arrays
    read-only, 'c' copies on write, None reads into memory; it was a TypeError. (gensim maps only
    arrays it saved apart, those over 10 MB; ours maps every array, so mmap='r' is read-only at
    any size.) 'r+' would write through to the file and leave its CRC-32s stale: refused."""
    path = tmp_path / "kv.npz"
    lee_model.wv.save(path)
    expected = lee_model.wv.vectors.copy()
    for mode in (None, "r", "c"):
        kv = KeyedVectors.load(path, mmap=mode)
        assert _mapped(kv.vectors) == (mode is not None), mode
        assert mode is None or kv.vectors.ctypes.data % 64 == 0  # mapped aligned, for BLAS
        assert np.array_equal(kv.vectors, expected)
        assert kv.most_similar("attacks", topn=3) == lee_model.wv.most_similar("attacks", topn=3)
        assert kv.get_vecattr("the", "count") == lee_model.wv.get_vecattr("the", "count")
        if mode == "r":
            with pytest.raises(ValueError, match="read-only"):
                kv.vectors[0] = 1.0
        else:
            kv.vectors[0] = 7.0  # in memory only
            assert np.array_equal(KeyedVectors.load(path).vectors, expected)
    theirs = GensimKV.load(_gensim_saved_kv(tmp_path, expected), mmap="r")
    assert np.array_equal(theirs.vectors, expected) and not theirs.vectors.flags.writeable
    for mode in ("r+", "w+"):
        with pytest.raises(
            ValueError, match=rf"mmap: expected None, 'r' or 'c', got '{re.escape(mode)}'.*CRC"
        ):
            KeyedVectors.load(path, mmap=mode)
    with pytest.raises(ValueError, match=r"mmap: expected None, 'r' or 'c', got 1$"):
        Word2Vec.load(path, mmap=1)


def _gensim_saved_kv(tmp_path, vectors) -> str:
    """A gensim KeyedVectors file whose vectors are saved apart (so that mmap maps them)."""
    kv = GensimKV(vectors.shape[1])
    kv.add_vectors([str(i) for i in range(len(vectors))], vectors)
    path = str(tmp_path / "gensim.kv")
    kv.save(path, separately=["vectors"])
    return path


def test_word2vec_load_with_mmap(tmp_path, lee):
    """Word2Vec.load(path, mmap=...) maps the vectors and output weights as gensim's; a model
    mapped read-only is refused by train() with a ValueError that names mmap (gensim's trainer
    fails on the read-only buffer); 'c' trains in memory and leaves the file as it was."""
    model = Word2Vec(lee, vector_size=16, epochs=1, workers=1, min_count=5)
    path = tmp_path / "m.npz"
    model.save(path)
    for mode in ("r", "c"):
        loaded = Word2Vec.load(path, mmap=mode)
        assert _mapped(loaded.wv.vectors) and _mapped(loaded.syn1neg)
        assert np.array_equal(loaded.wv.vectors, model.wv.vectors)
        if mode == "r":
            with pytest.raises(ValueError, match="wv.vectors: read-only.*mmap='r'"):
                loaded.train(lee, total_examples=loaded.corpus_count, epochs=1)
        else:
            loaded.train(lee, total_examples=loaded.corpus_count, epochs=1)
            assert not np.array_equal(loaded.wv.vectors, model.wv.vectors)
            assert np.array_equal(Word2Vec.load(path).wv.vectors, model.wv.vectors)


def test_mmap_reads_an_older_unaligned_file_into_memory(tmp_path, lee_model, caplog):
    """Files saved before members were aligned (plain np.savez) load with mmap too: an array
    whose data is not at a multiple of its item size is read into memory, with a warning. (The
    metadata, JSON, takes trailing blanks: shifting it by 0-3 bytes leaves the vectors unaligned
    at least once.)"""
    path = tmp_path / "old.npz"
    lee_model.wv.save(path)
    with np.load(path) as f:
        arrays = dict(f)
    mapped = []
    for shift in range(4):
        meta = np.concatenate([arrays["__meta__"], np.full(shift, ord(" "), np.uint8)])
        np.savez(path, **{**arrays, "__meta__": meta})
        caplog.clear()
        with caplog.at_level("WARNING", logger="fastrnn"):
            kv = KeyedVectors.load(path, mmap="r")
        assert np.array_equal(kv.vectors, lee_model.wv.vectors)
        mapped.append(_mapped(kv.vectors))
        assert ("vectors.npy: not aligned" in caplog.text) != mapped[-1]
    assert not all(mapped)


def test_comment_and_hashfxn_are_kept_as_gensim(tmp_path):
    """comment is stored (and saved) and hashfxn is stored, as gensim 4 does; gensim 4 seeds the
    vectors from `seed` alone, so hashfxn changes nothing (its only reader is the deprecated
    seeded_vector). Both were TypeErrors. hashfxn, a function, is not saved (load gives hash)."""
    sentences = [["a", "b", "c", "d"]] * 20
    kw = dict(vector_size=8, min_count=1, workers=1, epochs=2)
    plain = Word2Vec(sentences, **kw)
    ours = Word2Vec(sentences, comment="first run", hashfxn=lambda s: 0, **kw)
    assert ours.comment == "first run" and ours.hashfxn("x") == 0
    assert np.array_equal(ours.wv.vectors, plain.wv.vectors)
    theirs = GensimW2V(sentences, hashfxn=lambda s: 0, **kw)
    assert np.array_equal(theirs.wv.vectors, GensimW2V(sentences, **kw).wv.vectors)
    ours.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    assert (loaded.comment, loaded.hashfxn) == ("first run", hash)
    with pytest.raises(TypeError, match="comment: expected a str or None, got int"):
        Word2Vec(comment=3)
    with pytest.raises(TypeError, match="hashfxn: expected a callable, got str"):
        Word2Vec(hashfxn="md5")


def test_batch_words_sets_the_job_size(tmp_path):
    """batch_words is gensim's job size in words: the trainer's jobs close once they hold
    batch_words words (an in-memory corpus's jobs each have their own random stream, so results
    depend on it); the default is 10000 (as before). gensim's training routine keeps only a
    job's first 10000 words, so a larger batch_words would drop words there: refused."""
    sentences = [[f"w{(i * 7 + j) % 40}" for j in range(10)] for i in range(60)]
    kw = dict(vector_size=8, min_count=1, workers=1, epochs=2, seed=5)
    default = Word2Vec(sentences, **kw)
    assert default.batch_words == 10000
    assert np.array_equal(
        Word2Vec(sentences, batch_words=10000, **kw).wv.vectors, default.wv.vectors
    )
    small = Word2Vec(sentences, batch_words=25, **kw)
    assert not np.array_equal(small.wv.vectors, default.wv.vectors)
    assert np.array_equal(Word2Vec(sentences, batch_words=25, **kw).wv.vectors, small.wv.vectors)
    # jobs of whole sentences: 25 words close a job after the third sentence, as 30 words do
    assert np.array_equal(Word2Vec(sentences, batch_words=30, **kw).wv.vectors, small.wv.vectors)
    # A plain corpus_file's worker cuts its jobs the same way but draws from one stream of its
    # own, and publishes its progress after each job: with one worker the cut changes nothing.
    path = tmp_path / "c.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences))
    by_file = Word2Vec(corpus_file=path, batch_words=25, **kw).wv.vectors
    assert np.array_equal(by_file, Word2Vec(corpus_file=path, **kw).wv.vectors)
    for bad in (0, 10001):
        with pytest.raises(
            ValueError, match=rf"batch_words: expected an int in \[1, 10000\], got {bad}"
        ):
            Word2Vec(batch_words=bad)


def test_null_word_adds_gensims_padding_word(tmp_path, lee):
    """null_word=1 adds gensim's '\\0' word (count 1, never subsampled in) after the corpus's
    words, as gensim 4 does (its Word2Vec never trains on it; it weighs as a count-1 word in the
    negative table). It was a TypeError."""
    for min_count in (1, 5):  # among the count-1 words, or alone at the end
        ours = Word2Vec(vector_size=8, min_count=min_count, null_word=1)
        ours.build_vocab(lee)
        theirs = GensimW2V(vector_size=8, min_count=min_count, null_word=1)
        theirs.build_vocab(lee)
        assert ours.wv.index_to_key == theirs.wv.index_to_key
        assert ours.wv.get_vecattr("\0", "count") == 1 == theirs.wv.get_vecattr("\0", "count")
        assert ours._keep[ours.wv.get_index("\0")] == 0  # sample > 0: gensim's sample_int 0
    kw = dict(vector_size=8, min_count=5, workers=1, epochs=1)
    ours = Word2Vec(lee, null_word=1, **kw)
    assert ours.wv.index_to_key[-1] == "\0"
    assert len(ours.wv) == len(Word2Vec(lee, **kw).wv) + 1
    ours.save(tmp_path / "m.npz")
    assert Word2Vec.load(tmp_path / "m.npz").null_word == 1
    with pytest.raises(ValueError, match="null_word: the corpus holds the token '\\\\x00'"):
        Word2Vec([["a", "\0", "b"]] * 5, null_word=1, min_count=1)
    with pytest.raises(ValueError, match="null_word: expected 0 or 1, got 2"):
        Word2Vec(null_word=2)


def test_the_learning_rate_never_goes_below_min_alpha_as_gensim(lee):
    """gensim's _get_next_alpha returns max(min_alpha, alpha - (alpha - min_alpha) * progress):
    with min_alpha above alpha every job trains at min_alpha. Ours rose from alpha to min_alpha."""
    kw = dict(vector_size=16, min_count=5, workers=1, epochs=2, seed=3)
    for cls in (Word2Vec, GensimW2V):
        rising = cls(lee, alpha=0.01, min_alpha=0.05, **kw)
        flat = cls(lee, alpha=0.05, min_alpha=0.05, **kw)
        assert np.array_equal(rising.wv.vectors, flat.wv.vectors), cls


def test_lifecycle_events_as_gensim(tmp_path, caplog):
    """gensim's lifecycle_events and add_lifecycle_event (they were missing): the model records
    its creation, vocabulary builds, training runs, saves and loads; save() keeps the record."""
    from gensim.test.utils import common_texts

    model = Word2Vec(common_texts, min_count=1, workers=1, seed=1)
    assert [e["event"] for e in model.lifecycle_events] == ["build_vocab", "train", "created"]
    first = model.lifecycle_events[0]
    assert {"datetime", "fastrnn", "python", "platform", "event", "update", "trim_rule"} <= set(
        first
    )
    with caplog.at_level(logging.INFO, logger="fastrnn.word2vec"):
        model.add_lifecycle_event("finetuned", corpus="news", handle=object())
    assert "Word2Vec lifecycle event {'corpus': 'news'" in caplog.text
    path = tmp_path / "m.model"
    model.save(path)
    loaded = Word2Vec.load(path)
    events = [e["event"] for e in loaded.lifecycle_events]
    assert events == ["build_vocab", "train", "created", "finetuned", "saving", "loaded"]
    assert loaded.lifecycle_events[3]["handle"].startswith("<object object")  # str() in JSON
    with pytest.raises(TypeError, match="event_name: expected a str, got int"):
        loaded.add_lifecycle_event(3)
    loaded.lifecycle_events = None  # turns the record off, as gensim's
    loaded.add_lifecycle_event("ignored")
    assert loaded.lifecycle_events is None


def test_save_warns_only_about_gensims_options_set_to_other_than_their_defaults(tmp_path, caplog):
    model = Word2Vec([["a", "b"]] * 5, min_count=1, workers=1)
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        model.save(tmp_path / "m", sep_limit=10 * 1024**2, ignore=frozenset(), pickle_protocol=4)
    assert "ignored" not in caplog.text  # gensim's own defaults, given explicitly
    with caplog.at_level(logging.WARNING, logger="fastrnn.word2vec"):
        model.save(tmp_path / "m", pickle_protocol=2)
    assert "save: pickle_protocol ignored" in caplog.text
