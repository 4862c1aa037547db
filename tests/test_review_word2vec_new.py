"""Review of the new Word2Vec vocabulary, KeyedVectors and word2vec-format features (a helper;
each defect with a failing test first)."""

import numpy as np
import pytest
from fastrnn import Word2Vec


def topic_corpus(seed: int, sentences: int = 2000) -> list:
    """Sentences of 8 words of one of 10 ten-word topics t{topic}w{i}."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(10)] for t in range(10)]
    return [list(rng.choice(topics[k % 10], size=8)) for k in range(sentences)]


def topic_neighbours(model) -> float:
    """The fraction of keys whose nearest neighbour is of their own topic."""
    same = [
        model.wv.most_similar(w, topn=1)[0][0].split("w")[0] == w.split("w")[0]
        for w in model.wv.index_to_key
    ]
    return float(np.mean(same))


def per_key(model, array) -> dict:
    return {k: np.array(array[i]) for i, k in enumerate(model.wv.index_to_key)}


# ---- wv.sort_by_descending_frequency on a Word2Vec's wv ----
# The trainer's word ids, output weights (syn1neg), counts and subsampling thresholds stayed in
# the old order while wv's vectors moved: training then updated other words' vectors (topic
# neighbours fell from 1.0 to ~0.6), an update added counts to the wrong words, and
# predict_output_word and save paired words with other words' output weights.


@pytest.fixture
def unsorted_model():
    corpus = topic_corpus(0)
    model = Word2Vec(corpus, vector_size=16, min_count=1, workers=1, epochs=3, sorted_vocab=0)
    order_before = list(model.wv.index_to_key)
    model.wv.sort_by_descending_frequency()
    assert model.wv.index_to_key != order_before  # the test sorts for real
    return model, corpus


def test_training_after_sorting_the_models_wv_trains_the_right_words(unsorted_model):
    model, corpus = unsorted_model
    model.train(corpus, total_examples=len(corpus), epochs=5)
    assert topic_neighbours(model) == 1.0


def test_sorting_the_models_wv_moves_its_output_weights_and_thresholds_along(tmp_path):
    corpus = topic_corpus(1, 300)
    model = Word2Vec(corpus, vector_size=8, min_count=1, workers=1, epochs=1, sorted_vocab=0)
    syn1neg, keep, counts = (per_key(model, a) for a in (model.syn1neg, model._keep, model._counts))
    prediction = dict(model.predict_output_word(["t0w1", "t0w2"], topn=100))
    model.wv.sort_by_descending_frequency()
    after = dict(model.predict_output_word(["t0w1", "t0w2"], topn=100))
    assert after.keys() == prediction.keys()
    assert [after[k] for k in prediction] == pytest.approx(list(prediction.values()), rel=1e-5)
    model.save(tmp_path / "m.npz")
    loaded = Word2Vec.load(tmp_path / "m.npz")
    for m in (model, loaded):
        for name, want in (("syn1neg", syn1neg), ("_keep", keep), ("_counts", counts)):
            got = per_key(m, getattr(m, name))
            assert all(np.array_equal(got[k], want[k]) for k in want), name


def test_update_after_sorting_the_models_wv_counts_the_right_words():
    old, new = topic_corpus(2, 300), topic_corpus(3, 200) + [["fresh", "t0w1"]] * 3
    plain = Word2Vec(vector_size=8, min_count=1, workers=1, sorted_vocab=0)
    plain.build_vocab(old)
    plain.build_vocab(new, update=True)
    model = Word2Vec(vector_size=8, min_count=1, workers=1, sorted_vocab=0)
    model.build_vocab(old)
    model.wv.sort_by_descending_frequency()
    model.build_vocab(new, update=True)
    assert sorted(model.wv.index_to_key) == sorted(plain.wv.index_to_key)
    for name in ("_counts", "_keep"):
        want, got = per_key(plain, getattr(plain, name)), per_key(model, getattr(model, name))
        assert all(got[k] == want[k] for k in want), name
    assert all(
        model.wv.get_vecattr(k, "count") == plain.wv.get_vecattr(k, "count")
        for k in plain.wv.index_to_key
    )


def test_a_models_wv_with_renamed_keys_is_refused():
    model = Word2Vec(topic_corpus(4, 100), vector_size=8, min_count=1, workers=1, epochs=1)
    model.wv.index_to_key[0] = "renamed"
    with pytest.raises(ValueError, match="wv: its keys are no longer the model's vocabulary"):
        model.train([["t0w1"]], total_examples=1, epochs=1)


# ---- build_vocab(update=True) adding counts past int64 ----
# The summed count wrapped round to -2**63: train() blamed ns_exponent, and save() wrote a model
# that load() refused ("counts must not be negative").


def test_an_update_whose_counts_would_overflow_is_refused_and_changes_nothing():
    model = Word2Vec(vector_size=4, min_count=1, workers=1)
    model.build_vocab_from_freq({"a": 2**62, "b": 3})
    state = (list(model.wv.index_to_key), model._counts.copy(), model.effective_min_count)
    with pytest.raises(ValueError, match=r"counts: 'a' is counted 4611686018427387904 times"):
        model.build_vocab_from_freq({"c": 1, "a": 2**62}, update=True)
    assert list(model.wv.index_to_key) == state[0]
    assert np.array_equal(model._counts, state[1])
    model.build_vocab_from_freq({"a": 2**62 - 1, "c": 1}, update=True)  # up to 2**63 - 1 is fine
    assert model.wv.get_vecattr("a", "count") == 2**63 - 1


# ---- fvocab files named .gz / .bz2 ----
# gensim compresses and decompresses the fvocab file by its name as it does the vectors file;
# fastrnn wrote plain text under a .gz name (gensim: BadGzipFile) and could not read gensim's
# (Word2VecFormatError: cannot decode).


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_compressed_fvocab_both_ways_with_gensim(tmp_path, suffix):
    gensim_kv = pytest.importorskip("gensim.models").KeyedVectors
    from fastrnn import KeyedVectors

    ours = KeyedVectors(3)
    ours.add_vectors(["a", "b", "c"], np.eye(3), extras={"count": [5, 9, 3]})
    ours.save_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / f"ours{suffix}")
    theirs = gensim_kv.load_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / f"ours{suffix}")
    assert {k: theirs.get_vecattr(k, "count") for k in "abc"} == {"a": 5, "b": 9, "c": 3}
    ours.save_word2vec_format(
        tmp_path / "v.txt", fvocab=tmp_path / f"ours{suffix}", prefix="x_", append=True
    )
    theirs.save_word2vec_format(tmp_path / "g.txt", fvocab=tmp_path / f"theirs{suffix}")
    for name in (f"ours{suffix}", f"theirs{suffix}"):
        loaded = KeyedVectors.load_word2vec_format(tmp_path / "g.txt", fvocab=tmp_path / name)
        assert {k: loaded.get_vecattr(k, "count") for k in "abc"} == {"a": 5, "b": 9, "c": 3}
    from fastrnn.word2vec_format import read_vocab_counts

    assert read_vocab_counts(tmp_path / f"ours{suffix}") == {
        **{"a": 5, "b": 9, "c": 3},
        **{"x_a": 5, "x_b": 9, "x_c": 3},
    }
    (tmp_path / f"bad{suffix}").write_bytes(b"a 5\n")  # plain text under a compressed name
    with pytest.raises(ValueError, match=f"bad{suffix}: corrupt or truncated compressed file"):
        KeyedVectors.load_word2vec_format(tmp_path / "g.txt", fvocab=tmp_path / f"bad{suffix}")


# ---- a vector holding NaN taken for a zero vector ----
# _unit_rows left a row whose norm is NaN at zero, so most_similar_cosmul of a NaN key answered
# with finite scores (every cosine 0: 0.4999995 for all keys) and rank_by_centrality gave the NaN
# word a cosine of 0.0; gensim's scores are NaN there (most_similar's are -inf).


def test_a_nan_vector_gets_no_finite_scores():
    from fastrnn import KeyedVectors

    kv = KeyedVectors(4)
    vectors = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    vectors[2] = np.nan
    kv.add_vectors([f"k{i}" for i in range(6)], vectors)
    assert not np.isfinite([s for _, s in kv.most_similar_cosmul("k2", topn=3)]).any()
    assert not np.isfinite([s for _, s in kv.most_similar_cosmul(["k1", "k2"], topn=3)]).any()
    assert not np.isfinite([s for _, s in kv.most_similar("k2", topn=3)]).any()  # as before
    ranked = dict((w, s) for s, w in kv.rank_by_centrality(["k1", "k2", "k3"]))
    assert not np.isfinite(ranked["k2"])
    # rows holding NaN still rank last for a finite query; zero vectors still score cos 0
    vectors[4] = 0
    kv = KeyedVectors(4)
    kv.add_vectors([f"k{i}" for i in range(6)], vectors)
    scores = dict(kv.most_similar_cosmul("k1", topn=5))
    assert sorted(list(scores)[:3]) == ["k0", "k3", "k5"]  # the finite scores first
    assert scores["k2"] == scores["k4"] == -np.inf
    assert kv.most_similar_cosmul("k4", topn=1)[0][1] == pytest.approx(0.5, abs=1e-5)


# ---- evaluate_word_analogies normalised every row, not only the first restrict_vocab ----
# A transient copy of all V x E vectors (3.6 GB for GoogleNews' 3M x 300 at the default
# restrict_vocab=300000, where gensim copies nothing).


def test_analogy_evaluation_normalises_only_the_rows_that_answer(tmp_path):
    import tracemalloc

    from fastrnn import KeyedVectors

    V, E = 100_000, 40  # 16 MB of vectors
    kv = KeyedVectors(E)
    kv.add_vectors([f"w{i}" for i in range(V)], np.random.default_rng(0).random((V, E)))
    kv.fill_norms()
    questions = tmp_path / "q.txt"
    questions.write_text(": s\nw1 w2 w3 w4\nw5 w6 w7 w8\n")
    tracemalloc.start()
    try:
        kv.evaluate_word_analogies(questions, restrict_vocab=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000, peak


def test_predict_output_word_topn_none_gives_every_word_as_gensim():
    gensim = pytest.importorskip("gensim")
    corpus = topic_corpus(0, sentences=200)
    ours = Word2Vec(corpus, vector_size=8, min_count=1, workers=1, epochs=1, seed=1)
    theirs = gensim.models.Word2Vec(vector_size=8, min_count=1, workers=1)
    theirs.build_vocab(corpus)
    theirs.wv.vectors[:] = ours.wv.vectors[[ours.wv.get_index(k) for k in theirs.wv.index_to_key]]
    theirs.syn1neg[:] = ours.syn1neg[[ours.wv.get_index(k) for k in theirs.wv.index_to_key]]
    context = corpus[0][:3]
    got = ours.predict_output_word(context, topn=None)
    want = theirs.predict_output_word(context, topn=None)
    assert len(got) == len(want) == len(ours.wv)
    assert dict(got).keys() == dict(want).keys()
    for word, p in want:
        assert dict(got)[word] == pytest.approx(p, rel=1e-4, abs=1e-7)


def test_fvocab_lines_split_on_any_whitespace_as_gensim(tmp_path):
    from fastrnn import KeyedVectors

    kv = KeyedVectors(2)
    kv.add_vectors(["a", "b"], np.eye(2, dtype=np.float32))
    kv.save_word2vec_format(tmp_path / "v.txt")
    (tmp_path / "vocab.txt").write_text("a\t5 \n  b 7\n", encoding="utf8")
    back = KeyedVectors.load_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")
    assert back.get_vecattr("a", "count") == 5 and back.get_vecattr("b", "count") == 7
    (tmp_path / "vocab.txt").write_text("a ²\n", encoding="utf8")  # a digit int() refuses
    with pytest.raises(ValueError, match="line 1: expected 'word count'"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")


def test_unsigned_counts_sort_without_wrapping(tmp_path):
    from fastrnn import KeyedVectors

    kv = KeyedVectors(1)
    kv.add_vectors(["zero", "big", "mid", "big2"], np.arange(4, dtype=np.float32)[:, None])
    kv.expandos["count"] = np.array([0, 9, 3, 9], dtype=np.uint64)
    kv.save_word2vec_format(tmp_path / "v.txt")
    assert KeyedVectors.load_word2vec_format(tmp_path / "v.txt").index_to_key == [
        "big",
        "big2",
        "mid",
        "zero",
    ]
    kv.sort_by_descending_frequency()
    assert kv.index_to_key == ["big2", "big", "mid", "zero"]  # equal counts: latest first


def test_save_writes_the_trainers_counts(tmp_path):
    model = Word2Vec([["a", "b", "a"]] * 5, min_count=1, vector_size=4, workers=1, epochs=1)
    model.wv.set_vecattr("a", "count", 1)  # a user's edit of the copy
    model.save(tmp_path / "m.npz")
    back = Word2Vec.load(tmp_path / "m.npz")
    assert back._counts[back.wv.get_index("a")] == 10


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_keyedvectors_save_load_keeps_the_vectors_dtype(tmp_path, dtype):
    """KeyedVectors(E, dtype=...) (or load_word2vec_format(datatype=...)) saved and loaded keeps
    its dtype and values, as gensim's save/load (load cast them to float32: a float64 table lost
    its digits)."""
    from fastrnn import KeyedVectors

    kv = KeyedVectors(3, dtype=dtype)
    kv.add_vectors(["a", "b"], np.array([[0.1, 0.2, 0.3], [1.0, -2.0, 3.5]]))
    kv.save(tmp_path / "kv.npz")
    loaded = KeyedVectors.load(tmp_path / "kv.npz")
    assert loaded.vectors.dtype == dtype
    np.testing.assert_array_equal(loaded.vectors, kv.vectors)
    assert loaded.most_similar("a", topn=1)[0][0] == "b"


def test_loading_a_gensim_pickle_says_so(tmp_path):
    """KeyedVectors.load / Word2Vec.load of a file gensim's save() wrote (a pickle): the error
    says what the file is and how to bring its vectors over (it said 'not a readable .npz file
    (File is not a zip file)')."""
    gensim = pytest.importorskip("gensim")
    from fastrnn import KeyedVectors

    theirs = gensim.models.KeyedVectors(3)
    theirs.add_vectors(["a", "b"], np.ones((2, 3)))
    theirs.save(str(tmp_path / "g.kv"))
    gensim.models.Word2Vec([["a", "b"]] * 5, vector_size=3, min_count=1).save(
        str(tmp_path / "g.model")
    )
    for cls, name in ((KeyedVectors, "g.kv"), (Word2Vec, "g.model"), (KeyedVectors, "g.model")):
        with pytest.raises(ValueError, match="a pickle .* load_word2vec_format"):
            cls.load(tmp_path / name)
