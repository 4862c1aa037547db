"""Hierarchical softmax's paths as gensim exposes them: wv.get_vecattr(word, 'code' / 'point')
and wv.expandos['code' / 'point'] ([V] object arrays of uint8 codes / uint32 points per word),
after build_vocab, build_vocab(update=True), a reordering of wv's rows and save/load, checked
against gensim's; a model without hs has neither (a KeyError, as gensim's)."""

import numpy as np
import pytest
from fastrnn import KeyedVectors, LineSentence, Word2Vec

gensim = pytest.importorskip("gensim")
from gensim.models import Word2Vec as GensimW2V  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402


@pytest.fixture(scope="module")
def lee():
    return list(LineSentence(datapath("lee_background.cor")))


def _assert_same_paths(ours, theirs):
    """Every word's 'code' and 'point' vecattrs: the same values, types and dtypes as gensim's."""
    assert ours.wv.index_to_key == theirs.wv.index_to_key
    for attr in ("code", "point"):
        got, want = ours.wv.expandos[attr], theirs.wv.expandos[attr]
        assert got.dtype == want.dtype == object and got.shape == want.shape
    for w in theirs.wv.index_to_key:
        for attr in ("code", "point"):
            got, want = ours.wv.get_vecattr(w, attr), theirs.wv.get_vecattr(w, attr)
            assert type(got) is type(want) and got.dtype == want.dtype, (w, attr)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sorted_vocab", [1, 0])
def test_build_vocab_gives_gensims_code_and_point(lee, sorted_vocab):
    kw = dict(hs=1, negative=0, min_count=3, sorted_vocab=sorted_vocab)
    ours, theirs = Word2Vec(**kw), GensimW2V(**kw)
    ours.build_vocab(lee)
    theirs.build_vocab(lee)
    _assert_same_paths(ours, theirs)
    assert ours.wv.get_vecattr("the", "count") == theirs.wv.get_vecattr("the", "count")


def test_update_rebuilds_them_as_gensim(lee):
    kw = dict(hs=1, negative=5, min_count=3, vector_size=8, epochs=1, workers=1)
    ours, theirs = Word2Vec(lee[:150], **kw), GensimW2V(lee[:150], **kw)
    ours.build_vocab(lee[150:], update=True)
    theirs.build_vocab(lee[150:], update=True)
    assert len(ours.wv) > 0 and "code" in ours.wv.expandos
    _assert_same_paths(ours, theirs)


def test_they_follow_a_reordering_and_survive_save_load(lee, tmp_path):
    model = Word2Vec(lee[:100], hs=1, negative=0, vector_size=8, epochs=1, min_count=3)
    model.wv.set_vecattr(model.wv.index_to_key[-1], "count", 10**6)
    paths = {w: model.wv.get_vecattr(w, "point").tolist() for w in model.wv.index_to_key}
    model.wv.sort_by_descending_frequency()  # each word keeps its path
    assert {w: model.wv.get_vecattr(w, "point").tolist() for w in paths} == paths
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    for w in paths:
        for attr in ("code", "point"):
            a, b = loaded.wv.get_vecattr(w, attr), model.wv.get_vecattr(w, attr)
            assert a.dtype == b.dtype and a.tolist() == b.tolist()


def test_reset_from_gives_them_too(lee):
    other = Word2Vec(hs=0, negative=5, min_count=3)
    other.build_vocab(lee[:100])
    model = Word2Vec(hs=1, negative=0, vector_size=8)
    model.reset_from(other)
    offsets, codes, points = model._tree
    assert model.wv.get_vecattr(5, "code").tolist() == codes[offsets[5] : offsets[6]].tolist()
    assert model.wv.get_vecattr(5, "point").tolist() == points[offsets[5] : offsets[6]].tolist()


def test_changing_them_does_not_change_training(lee):
    kw = dict(hs=1, negative=0, vector_size=8, epochs=1, min_count=3, workers=1)
    a, b = Word2Vec(lee[:50], **kw), Word2Vec(lee[:50], **kw)
    a.wv.get_vecattr("the", "point")[:] = 10**6  # (the trainer's tree is its own)
    a.train(lee[:50], total_examples=50, epochs=1)
    b.train(lee[:50], total_examples=50, epochs=1)
    np.testing.assert_array_equal(a.syn1, b.syn1)


def test_a_one_word_vocabulary_has_gensims_empty_lists():
    ours = Word2Vec(hs=1, negative=0, min_count=1)
    theirs = GensimW2V(hs=1, negative=0, min_count=1)
    ours.build_vocab([["a", "a"]])
    theirs.build_vocab([["a", "a"]])
    assert ours.wv.get_vecattr("a", "code") == theirs.wv.get_vecattr("a", "code") == []
    assert ours.wv.get_vecattr("a", "point") == theirs.wv.get_vecattr("a", "point") == []


def test_without_hs_there_is_no_code_as_in_gensim(lee):
    ours = Word2Vec(hs=0, negative=5, min_count=3)
    theirs = GensimW2V(hs=0, negative=5, min_count=3)
    ours.build_vocab(lee)
    theirs.build_vocab(lee)
    for model in (ours, theirs):
        assert "code" not in model.wv.expandos and "point" not in model.wv.expandos
        with pytest.raises(KeyError, match="code"):
            model.wv.get_vecattr("the", "code")


def test_wv_save_keeps_the_number_vecattrs(lee, tmp_path):
    """The .npz format holds number arrays only: wv.save leaves the per-key path arrays out
    (Word2Vec.save keeps the tree they come from) and keeps 'count'."""
    model = Word2Vec(lee[:50], hs=1, negative=0, vector_size=8, epochs=1, min_count=3)
    model.wv.save(tmp_path / "kv.npz")
    kv = KeyedVectors.load(tmp_path / "kv.npz")
    assert sorted(kv.expandos) == ["count"]
    assert kv.get_vecattr("the", "count") == model.wv.get_vecattr("the", "count")
