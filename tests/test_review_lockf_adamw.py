"""Review of the lock factors (wv.vectors_lockf, intersect_word2vec_format), AdamW and the
KeyedVectors additions (a helper; each test failed before its fix): intersect takes a repeated
word's last vector as gensim's, and lock factors the user assigned as a list, an int array or a
number no longer crash (or truncate) intersect, sorting and adding keys."""

from __future__ import annotations

import numpy as np
import pytest
from fastrnn import KeyedVectors, Word2Vec

CORPUS = [[f"w{(i * 7 + j) % 40}" for j in range(12)] for i in range(300)]


def model() -> Word2Vec:
    return Word2Vec(CORPUS, vector_size=4, min_count=1, workers=1, epochs=1, seed=3)


@pytest.fixture
def one_word(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("1 4\nw1 1 2 3 4\n")
    return path


def test_intersect_a_repeated_word_takes_its_last_vector_as_gensim(tmp_path):
    gensim = pytest.importorskip("gensim")
    path = tmp_path / "repeats.txt"
    path.write_text("3 4\nw1 1 2 3 4\nw2 0 0 0 1\nw1 5 6 7 8\n")
    ours = model()
    theirs = gensim.models.Word2Vec(CORPUS, vector_size=4, min_count=1, workers=1, epochs=1)
    theirs.wv.vectors_lockf = np.ones(len(theirs.wv), dtype=np.float32)
    assert ours.wv.intersect_word2vec_format(path) == 2
    theirs.wv.intersect_word2vec_format(str(path))
    for word in ("w1", "w2"):
        np.testing.assert_array_equal(ours.wv[word], theirs.wv[word])
    np.testing.assert_array_equal(ours.wv["w1"], [5, 6, 7, 8])


@pytest.mark.parametrize("kind", ["list", "int array"])
def test_intersect_takes_factors_assigned_as_a_list_or_another_dtype(one_word, kind):
    m = model()
    V = len(m.wv)
    m.wv.vectors_lockf = {
        "list": [1.0] * V,
        "int array": np.ones(V, dtype=np.int64),
    }[kind]
    m.wv.intersect_word2vec_format(one_word, lockf=0.5)
    lockf = m.wv.vectors_lockf
    assert lockf[m.wv.get_index("w1")] == 0.5  # an int array cut it to 0: frozen
    assert lockf.dtype == np.float32 and lockf.shape == (V,)
    assert (np.delete(lockf, m.wv.get_index("w1")) == 1).all()


@pytest.mark.parametrize("bad", [0.5, np.ones((1, 40), np.float32), np.ones(3, np.float32)])
def test_intersect_names_bad_factors_before_changing_anything(one_word, bad):
    m = model()
    m.wv.vectors_lockf = bad
    before = m.wv.vectors.copy()
    with pytest.raises(ValueError, match=r"vectors_lockf: expected a float array of shape"):
        m.wv.intersect_word2vec_format(one_word)
    np.testing.assert_array_equal(m.wv.vectors, before)
    assert m.wv.vectors_lockf is bad


def test_factors_as_a_list_follow_a_sort():
    m = model()
    V = len(m.wv)
    factors = [1.0] * V
    factors[m.wv.get_index("w5")] = 0.0
    m.wv.vectors_lockf = factors
    m.wv.set_vecattr("w5", "count", 10**6)
    m.wv.sort_by_descending_frequency()  # was: TypeError (a list indexed by an array)
    assert m.wv.index_to_key[0] == "w5"
    assert m.wv.vectors_lockf[0] == 0 and (np.asarray(m.wv.vectors_lockf)[1:] == 1).all()
    before = m.wv["w5"].copy()
    m.train(CORPUS, total_examples=len(CORPUS), epochs=1)
    np.testing.assert_array_equal(m.wv["w5"], before)


def test_a_number_as_factors_is_named_by_train_not_a_crash_in_add_or_sort():
    m = model()
    m.wv.vectors_lockf = 0.5  # gensim's is an array; train() names it
    m.build_vocab([["brand", "new", "brand"]], update=True)  # was: TypeError, len() of a float
    m.wv.sort_by_descending_frequency()
    with pytest.raises(ValueError, match=r"wv.vectors_lockf: expected a float array of shape"):
        m.train(CORPUS, total_examples=len(CORPUS), epochs=1)


def test_intersect_into_an_empty_table_leaves_one_factor_for_later_keys(one_word, tmp_path):
    kv = KeyedVectors(4)
    assert kv.intersect_word2vec_format(one_word) == 0
    kv.add_vectors(["a", "b"], np.zeros((2, 4), np.float32))
    assert kv.vectors_lockf.shape == (1,) and kv.vectors_lockf[0] == 1
    kv.save(tmp_path / "kv.npz")  # was: ValueError, factors of shape (0,) for 2 keys
    np.testing.assert_array_equal(KeyedVectors.load(tmp_path / "kv.npz").vectors_lockf, [1])
