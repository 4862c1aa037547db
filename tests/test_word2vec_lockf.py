"""Lock factors (gensim's wv.vectors_lockf) and intersect_word2vec_format: pretrained vectors
merged into a model's vocabulary, then frozen (lockf 0) or trained at a scaled rate, on the CPU
trainer and the emulated GPU kernel; the factors follow the rows through add_vectors, updates,
sorting, save and load."""

from __future__ import annotations

import numpy as np
import pytest
from fastrnn import KeyedVectors, Word2Vec
from fastrnn import word2vec as fw

CORPUS = [[f"w{(i * 7 + j) % 40}" for j in range(12)] for i in range(300)]


def model(sg: int, **kwargs) -> Word2Vec:
    return Word2Vec(
        CORPUS, vector_size=16, min_count=1, workers=1, epochs=1, seed=3, sg=sg, **kwargs
    )


@pytest.fixture
def pretrained(tmp_path):
    """A word2vec file with vectors for w1, w2 and a word the models do not know."""
    kv = KeyedVectors(16)
    rows = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    kv.add_vectors(["w1", "w2", "unknown"], rows)
    path = tmp_path / "pretrained.txt"
    kv.save_word2vec_format(path)
    return path, dict(zip(["w1", "w2"], rows[:2], strict=True))


def test_intersect_merges_known_words_as_gensim(pretrained):
    gensim = pytest.importorskip("gensim")
    path, rows = pretrained
    ours = model(1)
    theirs = gensim.models.Word2Vec(CORPUS, vector_size=16, min_count=1, workers=1, epochs=1)
    theirs.wv.vectors_lockf = np.ones(len(theirs.wv), dtype=np.float32)  # gensim needs [V] here
    assert ours.wv.intersect_word2vec_format(path) == 2
    theirs.wv.intersect_word2vec_format(str(path))
    for word, row in rows.items():
        np.testing.assert_array_equal(ours.wv[word], row)
        np.testing.assert_array_equal(theirs.wv[word], row)
    for wv in (ours.wv, theirs.wv):
        locked = {k for k in wv.index_to_key if wv.vectors_lockf[wv.get_index(k)] == 0}
        assert locked == {"w1", "w2"}
    assert "unknown" not in ours.wv


@pytest.mark.parametrize("emulated", [False, True])
@pytest.mark.parametrize("sg", [0, 1])
def test_locked_words_keep_their_vectors_while_the_others_train(
    pretrained, sg, emulated, monkeypatch
):
    path, rows = pretrained
    m = model(sg)
    m.wv.intersect_word2vec_format(path, lockf=0.0)
    if emulated:
        monkeypatch.setattr(fw, "_trainer_device", lambda device: "emulated")
    before = m.wv.vectors.copy()
    m.train(CORPUS, total_examples=len(CORPUS), epochs=2)
    for word, row in rows.items():
        np.testing.assert_array_equal(m.wv[word], row)
    free = [m.wv.get_index(w) for w in m.wv.index_to_key if w not in rows]
    assert (np.abs(m.wv.vectors[free] - before[free]).max(axis=1) > 0).all()
    assert not np.array_equal(m.syn1neg, 0)  # the output weights of locked words still train


@pytest.mark.parametrize("sg", [0, 1])
def test_factors_of_one_train_exactly_as_without_them(sg):
    plain, ones = model(sg), model(sg)
    ones.wv.vectors_lockf = np.ones(len(ones.wv), dtype=np.float32)
    for m in (plain, ones):
        m.train(CORPUS, total_examples=len(CORPUS), epochs=1)
    np.testing.assert_array_equal(ones.wv.vectors, plain.wv.vectors)
    np.testing.assert_array_equal(ones.syn1neg, plain.syn1neg)


def test_a_factor_scales_the_input_updates():
    """One factor for all words ([1]): 0 freezes every input vector; 0.5 moves them less."""
    steps = {}
    for lockf in (0.0, 0.5, 1.0):
        m = model(1)
        m.wv.vectors_lockf = np.array([lockf], dtype=np.float32)
        before = m.wv.vectors.copy()
        m.train(CORPUS[:5], total_examples=5, epochs=1)
        steps[lockf] = np.abs(m.wv.vectors - before).sum()
    assert steps[0.0] == 0 and 0 < steps[0.5] < steps[1.0]


def test_factors_follow_the_rows(tmp_path, pretrained):
    path, _ = pretrained
    m = model(1)
    m.wv.intersect_word2vec_format(path, lockf=0.25)
    m.build_vocab([["brand", "new", "brand", "new"]], update=True)
    assert len(m.wv.vectors_lockf) == len(m.wv)
    assert m.wv.vectors_lockf[m.wv.get_index("brand")] == 1.0
    m.wv.set_vecattr("w2", "count", 10**6)
    m.wv.sort_by_descending_frequency()
    assert m.wv.index_to_key[0] == "w2" and m.wv.vectors_lockf[0] == 0.25
    m.save(tmp_path / "m.npz")
    back = Word2Vec.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.wv.vectors_lockf, m.wv.vectors_lockf)
    m.wv.save(tmp_path / "kv.npz")
    np.testing.assert_array_equal(
        KeyedVectors.load(tmp_path / "kv.npz").vectors_lockf, m.wv.vectors_lockf
    )


@pytest.mark.parametrize(
    "lockf, match",
    [
        (
            np.ones(3, np.float32),
            r"wv.vectors_lockf: expected a float array of shape \(1,\) or \(40,\)",
        ),
        (np.array([np.nan], np.float32), "wv.vectors_lockf: NaN or Inf"),
    ],
)
def test_bad_factors_are_named(lockf, match):
    m = model(1)
    m.wv.vectors_lockf = lockf
    with pytest.raises(ValueError, match=match):
        m.train(CORPUS, total_examples=len(CORPUS), epochs=1)


def test_intersect_refuses_another_vector_size_and_a_bad_factor(tmp_path, pretrained):
    path, _ = pretrained
    small = Word2Vec(CORPUS, vector_size=8, min_count=1, workers=1, epochs=1)
    with pytest.raises(ValueError, match="vectors of size 16, this table's are 8"):
        small.wv.intersect_word2vec_format(path)
    with pytest.raises(ValueError, match="lockf: expected a finite number"):
        model(1).wv.intersect_word2vec_format(path, lockf=float("inf"))


@pytest.mark.parametrize("binary", [False, True])
def test_intersect_keeps_only_the_tables_words_in_memory(tmp_path, binary):
    """A large file (as GoogleNews's 3M vectors) is read record by record and only this table's
    words are kept: memory for them, not for the file."""
    import tracemalloc

    big = KeyedVectors(16)
    big.add_vectors([f"x{i}" for i in range(80000)], np.ones((80000, 16), np.float32))
    big.add_vectors(["w1"], np.full((1, 16), 3, np.float32))
    path = tmp_path / "big"
    big.save_word2vec_format(path, binary=binary)  # 5 MB of vectors (binary), more as text
    del big
    m = model(1)
    tracemalloc.start()
    try:
        assert m.wv.intersect_word2vec_format(path, binary=binary) == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(m.wv["w1"], np.full(16, 3, np.float32))
    assert peak < 2 * 2**20  # the whole table read would take 5 MB and 80,000 keys


def test_bad_factors_leave_the_models_settings_alone():
    m = model(1)
    m.wv.vectors_lockf = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="wv.vectors_lockf"):
        m.train(CORPUS, total_examples=len(CORPUS), epochs=7, start_alpha=0.5)
    assert m.epochs == 1 and m.alpha == 0.025
