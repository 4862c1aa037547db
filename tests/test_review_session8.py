"""Review of today's word2vec, kernel and toolkit changes (session 8): each test failed before
its fix."""

from __future__ import annotations

import numpy as np
import pytest
from fastrnn.word2vec_kv import KeyedVectors

gensim_kv = pytest.importorskip("gensim.models.keyedvectors")


def _three(cls):
    kv = cls(4)
    kv.add_vectors(["a", "b", "c"], np.arange(12, dtype=np.float32).reshape(3, 4))
    return kv


def test_setitem_refuses_vectors_of_another_shape():
    """kv[[k1, k2]] = an [E, 2] array (a transposed [2, E]) was reshaped into two scrambled
    vectors without a word; gensim refuses it. The message names weights and both shapes."""
    kv = _three(KeyedVectors)
    before = kv.vectors.copy()
    with pytest.raises(ValueError, match=r"weights: expected shape \(2, 4\).*got \(4, 2\)"):
        kv[["x", "y"]] = np.zeros((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"weights: expected shape \(2, 4\).*got \(1, 8\)"):
        kv.add_vectors(["x", "y"], np.zeros((1, 8), np.float32))
    with pytest.raises(ValueError, match=r"weights: expected shape \(1, 4\).*got \(1, 3\)"):
        kv["x"] = np.zeros(3, np.float32)
    assert kv.index_to_key == ["a", "b", "c"]
    np.testing.assert_array_equal(kv.vectors, before)
    kv["x"] = np.ones((2, 2), np.float32)  # one key: any 4 numbers, as gensim
    kv.add_vectors("y", np.full(4, 2.0))
    kv.add_vectors([], np.zeros((0, 4)))
    assert kv.index_to_key == ["a", "b", "c", "x", "y"]


def test_vectors_for_all_makes_up_counts_as_gensim():
    """gensim's vectors_for_all gives the new vectors a 'count' vecattr counting down (so they
    save with an fvocab and sort by frequency); the result here had no 'count'."""
    results = []
    for cls in (KeyedVectors, gensim_kv.KeyedVectors):
        kv = _three(cls)
        for k, n in zip("abc", (5, 9, 7), strict=True):
            kv.set_vecattr(k, "count", n)
        plain = kv.vectors_for_all(["c", "zz", "a", "c"], allow_inference=False)
        copied = kv.vectors_for_all(["c", "a"], allow_inference=False, copy_vecattrs=True)
        results.append(
            (
                plain.index_to_key,
                [int(plain.get_vecattr(k, "count")) for k in plain.index_to_key],
                [int(copied.get_vecattr(k, "count")) for k in copied.index_to_key],
            )
        )
    assert results[0] == results[1] == (["c", "a"], [2, 1], [7, 5])


def test_failed_fvocab_write_leaves_the_vectors_file_alone(tmp_path):
    """save_word2vec_format wrote (or appended to) fname before writing fvocab: an fvocab that
    could not be written raised after fname had changed, and a retry appended the vectors
    twice. Now neither file changes unless both are written."""
    kv = _three(KeyedVectors)
    kv.expandos["count"] = np.array([3, 2, 1])
    path = tmp_path / "v.txt"
    kv.save_word2vec_format(path)
    saved = path.read_bytes()
    for append in (False, True):
        with pytest.raises(FileNotFoundError):
            kv.save_word2vec_format(path, fvocab=tmp_path / "no" / "vocab.txt", append=append)
        assert path.read_bytes() == saved
    # a vectors file that cannot be written leaves fvocab alone too
    vocab = tmp_path / "vocab.txt"
    kv.save_word2vec_format(path, fvocab=vocab)
    counts = vocab.read_bytes()
    with pytest.raises(FileNotFoundError):
        kv.save_word2vec_format(tmp_path / "no" / "v.txt", fvocab=vocab, append=True)
    assert vocab.read_bytes() == counts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.txt", "vocab.txt"]


def test_float_vecattrs_keep_their_values_and_sort_as_gensim(tmp_path):
    """set_vecattr stored every new attribute as int64, so 0.9 became 0 without a word and
    save_word2vec_format(sort_attr=...) wrote index order; gensim keeps the float."""
    written = []
    for cls in (KeyedVectors, gensim_kv.KeyedVectors):
        kv = _three(cls)
        for k, score in zip("abc", (0.2, 0.9, 0.5), strict=True):
            kv.set_vecattr(k, "score", score)
        assert kv.get_vecattr("b", "score") == 0.9
        path = tmp_path / f"{cls.__module__}.txt"
        kv.save_word2vec_format(path, sort_attr="score")
        written.append([line.split()[0] for line in path.read_text().splitlines()[1:]])
    assert written[0] == written[1] == ["b", "c", "a"]
    kv = _three(KeyedVectors)
    kv.set_vecattr("a", "count", 3)
    with pytest.raises(TypeError, match="'count' holds int64 values, got the float 2.5"):
        kv.set_vecattr("b", "count", 2.5)  # gensim: TypeError too
    with pytest.raises(TypeError, match="val: expected a number, got str"):
        kv.set_vecattr("b", "tag", "noun")
    with pytest.raises(KeyError):
        kv.set_vecattr("zz", "other", 1)
    assert kv.get_vecattr("b", "count") == 0 and set(kv.expandos) == {"count"}


def test_int_arguments_refuse_bools():
    from fastrnn import nn

    with pytest.raises(TypeError, match="T_total: expected an int, got bool"):
        nn.tbptt_chunks(True, 1)
    with pytest.raises(TypeError, match="limit: expected an int, got bool"):
        from fastrnn.word2vec_format import read_word2vec

        read_word2vec("unused", limit=True)


def test_an_empty_sequential_without_input_grad_returns_none():
    from fastrnn import nn

    dy = np.ones((2, 3), np.float32)
    assert nn.Sequential().backward(dy, input_grad=False) is None
    assert nn.Sequential().backward(dy) is dy
