"""KeyedVectors' similarity methods beside gensim 4.4's on the same vectors: most_similar_cosmul,
cosine_similarities, distances, closer_than/rank, most_similar_to_given,
relative_cosine_similarity, rank_by_centrality, sort_by_descending_frequency,
unit_normalize_all and evaluate_word_analogies with 3CosMul: the same keys in the same order, the
same values within float32 rounding, the same errors."""

import functools

import numpy as np
import pytest
from fastrnn import KeyedVectors

gensim = pytest.importorskip("gensim")
from gensim.models import KeyedVectors as GensimKV  # noqa: E402
from gensim.test.utils import datapath  # noqa: E402

V, E = 300, 16
RTOL, ATOL = 1e-5, 1e-6  # float32 similarities summed in a different order


def twin_of(keys, vectors):
    """The same keys and vectors [V, E] in fastrnn's and in gensim's KeyedVectors."""
    ours, theirs = KeyedVectors(vectors.shape[1]), GensimKV(vectors.shape[1])
    ours.add_vectors(keys, vectors)
    theirs.add_vectors(keys, vectors)
    return ours, theirs


@pytest.fixture(scope="module")
def vectors():
    return np.random.default_rng(7).standard_normal((V, E)).astype(np.float32)


@pytest.fixture(scope="module")
def twin(vectors):
    return twin_of([f"w{i}" for i in range(V)], vectors)


@pytest.fixture
def tied():
    """Rows 57, 200 and 201 hold the same vector: their scores tie exactly."""
    vectors = np.random.default_rng(8).standard_normal((V, E)).astype(np.float32)
    vectors[[57, 201]] = vectors[200]
    return twin_of([f"w{i:03d}" for i in range(V)], vectors)


def assert_same_ranking(ours, theirs):
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    np.testing.assert_allclose(
        [s for _, s in ours], [float(s) for _, s in theirs], rtol=RTOL, atol=ATOL
    )


# ---- most_similar_cosmul ----


@pytest.mark.parametrize(
    "args",
    [
        dict(positive="w1"),
        dict(positive="w1", negative="w2", topn=5),
        dict(positive=["w1", "w2"], negative=["w3"], topn=7),
        dict(positive=["w1", "w2", "w4"], negative=["w3", "w5"], topn=12),
        dict(positive=["w10"], topn=V + 5),  # more than there are keys
        dict(positive=["w1"], topn=np.int64(3)),
    ],
)
def test_most_similar_cosmul_matches_gensim(twin, args):
    ours, theirs = twin
    assert_same_ranking(ours.most_similar_cosmul(**args), theirs.most_similar_cosmul(**args))


def test_most_similar_cosmul_takes_vectors_as_given(twin, vectors):
    """A vector is used as it is, as gensim does: a unit vector gives cosines, another scales
    them; a [n, E] array is n vectors; vectors are not left out of the result."""
    ours, theirs = twin
    unit = vectors[5] / np.linalg.norm(vectors[5])
    for args in [
        dict(positive=[unit], topn=4),
        dict(positive=[vectors[5]], topn=4),
        dict(positive=vectors[:2], negative=[vectors[3] * 2], topn=6),
        dict(positive=["w1", vectors[9]], negative=[unit], topn=6),
    ]:
        assert_same_ranking(ours.most_similar_cosmul(**args), theirs.most_similar_cosmul(**args))
    assert ours.most_similar_cosmul(positive=[unit], topn=1)[0][0] == "w5"
    # most_similar reads a [n, E] array as n vectors too
    args = dict(positive=vectors[:2], negative=[vectors[3]], topn=6)
    assert_same_ranking(ours.most_similar(**args), theirs.most_similar(**args))


def test_most_similar_cosmul_topn_none_and_restrict_vocab(twin):
    ours, theirs = twin
    args = dict(positive=["w1", "w2"], negative=["w3"])
    every = ours.most_similar_cosmul(**args, topn=None)
    assert every.shape == (V,)
    np.testing.assert_allclose(every, theirs.most_similar_cosmul(**args, topn=None), rtol=RTOL)
    # gensim 4.4 takes restrict_vocab but searches every row; ours searches the first rows, as
    # gensim's most_similar does: the same as gensim on a copy holding only those rows.
    _, first_50 = twin_of(theirs.index_to_key[:50], theirs.vectors[:50])
    np.testing.assert_allclose(
        ours.most_similar_cosmul(**args, topn=None, restrict_vocab=50),
        first_50.most_similar_cosmul(**args, topn=None),
        rtol=RTOL,
    )
    got = ours.most_similar_cosmul(**args, topn=8, restrict_vocab=50)
    assert_same_ranking(got, first_50.most_similar_cosmul(**args, topn=8))
    assert ours.most_similar_cosmul(**args, restrict_vocab=0) == ours.most_similar_cosmul(**args)


def test_most_similar_cosmul_int_keys_are_rows(twin):
    """gensim 4.4 fails on int keys here (it takes them for vectors); ours reads them as rows,
    as most_similar does, and leaves them out of the result."""
    ours, _ = twin
    assert ours.most_similar_cosmul(positive=[1, np.int64(2)], negative=[3]) == (
        ours.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"])
    )


def test_most_similar_cosmul_ties_and_empty_results(tied):
    """Equal scores come lower row first (gensim's order of equals is arbitrary)."""
    ours, theirs = tied
    got = ours.most_similar_cosmul(positive=[ours["w200"]], topn=4)
    assert [k for k, _ in got][:3] == ["w057", "w200", "w201"]
    assert got[0][1] == got[1][1] == got[2][1]
    want = theirs.most_similar_cosmul(positive=[ours["w200"]], topn=4)
    assert {k for k, _ in got} == {k for k, _ in want}
    assert [k for k, _ in ours.most_similar_cosmul("w200", topn=3)][:2] == ["w057", "w201"]
    for topn in (0, -2):
        assert ours.most_similar_cosmul("w1", topn=topn) == []
        assert theirs.most_similar_cosmul("w1", topn=topn) == []


def test_most_similar_cosmul_errors(twin):
    ours, _ = twin
    for kv in twin:
        with pytest.raises(KeyError, match="nope"):
            kv.most_similar_cosmul(positive=["w1", "nope"])
        with pytest.raises(ValueError, match="no input|positive"):
            kv.most_similar_cosmul(negative=["w1"])
        with pytest.raises(ValueError, match="no input|positive"):
            kv.most_similar_cosmul(positive=[])
    with pytest.raises(TypeError, match=r"positive\[0\].*\(key, weight\)"):
        ours.most_similar_cosmul(positive=[("w1", 2.0)])
    with pytest.raises(ValueError, match=r"negative\[1\].*shape \(16,\).*\(3,\)"):
        ours.most_similar_cosmul(positive="w1", negative=["w2", np.ones(3)])
    with pytest.raises(TypeError, match="topn.*str"):
        ours.most_similar_cosmul("w1", topn="5")
    with pytest.raises(TypeError, match="restrict_vocab"):
        ours.most_similar_cosmul("w1", restrict_vocab=2.5)
    with pytest.raises(ValueError, match="restrict_vocab.*-1"):
        ours.most_similar_cosmul("w1", restrict_vocab=-1)


# ---- cosine_similarities, distances, closer_than, rank ----


def test_cosine_similarities_and_distances_match_gensim(twin, vectors):
    ours, theirs = twin
    np.testing.assert_allclose(
        KeyedVectors.cosine_similarities(vectors[0], vectors[1:40]),
        GensimKV.cosine_similarities(vectors[0], vectors[1:40]),
        rtol=RTOL,
    )
    assert KeyedVectors.cosine_similarities(vectors[0], np.zeros((0, E))).shape == (0,)
    for args in [
        ("w3",),
        ("w3", ["w1", "w9", "w3"]),
        (vectors[2], ["w1", "w9"]),
        (vectors[2] * 3.0,),
        ("w4", ()),
    ]:
        got, want = ours.distances(*args), theirs.distances(*args)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.distances("w3", "w9"), theirs.distances("w3", ["w9"]))
    np.testing.assert_allclose(ours.distances("w3", None), theirs.distances("w3"), rtol=RTOL)


def test_zero_vectors_give_nan_cosines_without_warnings():
    zero = np.zeros(E, np.float32)
    got = KeyedVectors.cosine_similarities(zero, np.ones((2, E), np.float32))
    assert np.isnan(got).all()  # (gensim: the same nan, with a RuntimeWarning)


def test_cosine_similarities_and_distances_errors(twin):
    ours, _ = twin
    with pytest.raises(ValueError, match="vector_1.*shape"):
        KeyedVectors.cosine_similarities(np.ones((2, E)), np.ones((3, E)))
    with pytest.raises(ValueError, match=r"vectors_all.*\[n, 16\].*\(3, 4\)"):
        KeyedVectors.cosine_similarities(np.ones(E), np.ones((3, 4)))
    with pytest.raises(TypeError, match="vector_1.*dtype"):
        KeyedVectors.cosine_similarities(np.array(["a"] * E), np.ones((3, E)))
    for kv in twin:
        with pytest.raises(KeyError, match="nope"):
            kv.distances("nope")
        with pytest.raises(KeyError, match="nope"):
            kv.distances("w1", ["w2", "nope"])
    with pytest.raises(ValueError, match=r"word_or_vector.*\(16,\).*\(5,\)"):
        ours.distances(np.ones(5))
    with pytest.raises(TypeError, match=r"other_words\[1\].*key"):
        ours.distances("w1", ["w2", 2.5])
    with pytest.raises(TypeError, match="other_words.*float"):
        ours.distances("w1", 2.5)


def test_closer_than_and_rank_match_gensim(twin):
    ours, theirs = twin
    for key1, key2 in [("w1", "w50"), ("w7", "w8"), ("w200", "w3"), ("w5", "w5")]:
        assert ours.closer_than(key1, key2) == theirs.closer_than(key1, key2)
        assert ours.rank(key1, key2) == theirs.rank(key1, key2)
    assert ours.rank("w5", "w5") == 1
    nearest = ours.most_similar("w1", topn=1)[0][0]
    assert ours.rank("w1", nearest) == 1 and ours.closer_than("w1", nearest) == []
    with pytest.deprecated_call():
        got = ours.words_closer_than("w1", "w50")
    with pytest.deprecated_call():
        assert got == theirs.words_closer_than("w1", "w50")
    for kv in twin:
        with pytest.raises(KeyError, match="nope"):
            kv.closer_than("w1", "nope")
        with pytest.raises(KeyError, match="nope"):
            kv.rank("nope", "w1")
    with pytest.raises(TypeError, match="key1.*ndarray"):
        ours.closer_than(np.ones(E), "w1")


def test_closer_than_ties_are_not_closer(tied):
    ours, theirs = tied
    # w057, w200 and w201 are the same vector: none is closer to w003 than another
    assert ours.rank("w003", "w201") == theirs.rank("w003", "w201")
    assert ours.rank("w003", "w057") == ours.rank("w003", "w200") == ours.rank("w003", "w201")
    assert ours.closer_than("w200", "w201") == theirs.closer_than("w200", "w201") == []


# ---- most_similar_to_given, relative_cosine_similarity, rank_by_centrality ----


def test_most_similar_to_given_matches_gensim(twin, tied):
    for kv_pair in (twin, tied):
        ours, theirs = kv_pair
        keys = ours.index_to_key
        for key1, keys_list in [
            (keys[1], [keys[4], keys[8], keys[77], keys[201]]),
            (keys[3], [keys[201], keys[200], keys[57]]),  # tied: the first of equals
            (keys[9], [keys[9], keys[2]]),
            (keys[9], (keys[5],)),
        ]:
            got = ours.most_similar_to_given(key1, keys_list)
            assert got == theirs.most_similar_to_given(key1, keys_list)
    ours, theirs = twin
    assert ours.most_similar_to_given("w1", "w2") == "w2"  # one key: a list of one
    with pytest.raises(ValueError, match="keys_list"):
        ours.most_similar_to_given("w1", [])
    for kv in twin:
        with pytest.raises(KeyError, match="nope"):
            kv.most_similar_to_given("w1", ["w2", "nope"])
        with pytest.raises(KeyError, match="nope"):
            kv.most_similar_to_given("nope", ["w2"])


def test_relative_cosine_similarity_matches_gensim(twin):
    ours, theirs = twin
    for wa, wb, topn in [("w1", "w2", 10), ("w3", "w100", 1), ("w5", "w5", 25)]:
        got = ours.relative_cosine_similarity(wa, wb, topn)
        assert isinstance(got, float)
        assert got == pytest.approx(theirs.relative_cosine_similarity(wa, wb, topn), rel=RTOL)
    for kv in twin:
        with pytest.raises(ValueError):
            kv.relative_cosine_similarity("w1", "w2", topn=0)
        with pytest.raises(KeyError, match="nope"):
            kv.relative_cosine_similarity("w1", "nope")
    lonely = twin_of(["only"], np.ones((1, E), np.float32))
    for kv in lonely:
        with pytest.raises(ValueError):
            kv.relative_cosine_similarity("only", "only")
    with pytest.raises(TypeError, match="topn"):
        ours.relative_cosine_similarity("w1", "w2", topn=None)


def test_rank_by_centrality_matches_gensim(twin, tied, caplog):
    ours, theirs = twin
    words = ["w1", "w2", "w3", "w40", "w41", "w2"]
    for use_norm in (True, False):
        got, want = (
            ours.rank_by_centrality(words, use_norm),
            theirs.rank_by_centrality(words, use_norm),
        )
        assert [w for _, w in got] == [w for _, w in want]
        np.testing.assert_allclose([c for c, _ in got], [c for c, _ in want], rtol=RTOL)
    with caplog.at_level("WARNING", logger="fastrnn"):
        got = ours.rank_by_centrality(["w1", "nope", "w2"])
    assert "nope" in caplog.text
    assert [w for _, w in got] == [w for _, w in theirs.rank_by_centrality(["w1", "nope", "w2"])]
    assert ours.doesnt_match(words) == theirs.doesnt_match(words)
    # equal cosines: the greater word first, as gensim's sorted(reverse=True)
    for kv in tied:
        ranked = kv.rank_by_centrality(["w200", "w057", "w003", "w201"])
        assert [w for _, w in ranked] == ["w201", "w200", "w057", "w003"]
    for kv in twin:
        with pytest.raises(ValueError):
            kv.rank_by_centrality(["nope"])
        with pytest.raises(ValueError):
            kv.rank_by_centrality([])


# ---- sort_by_descending_frequency, unit_normalize_all ----


def test_sort_by_descending_frequency_matches_gensim(vectors):
    keys = [f"w{i}" for i in range(40)]
    counts = np.random.default_rng(3).integers(0, 5, size=40)  # many equal counts
    ours, theirs = twin_of(keys, vectors[:40])
    for kv in (ours, theirs):
        for key, count in zip(keys, counts, strict=True):
            kv.set_vecattr(key, "count", int(count))
        kv.set_vecattr("w3", "other", 7)
    ours.fill_norms()
    ours.sort_by_descending_frequency()
    theirs.sort_by_descending_frequency()
    assert ours.index_to_key == theirs.index_to_key
    assert ours.key_to_index == theirs.key_to_index
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    for attr in ("count", "other"):
        np.testing.assert_array_equal(ours.expandos[attr], theirs.expandos[attr])
    assert ours.get_vecattr("w3", "other") == 7
    np.testing.assert_array_equal(ours.norms, np.linalg.norm(ours.vectors, axis=1))
    np.testing.assert_array_equal(ours["w7"], vectors[7])
    fresh, _ = twin_of(ours.index_to_key, ours.vectors)
    assert ours.most_similar("w7", topn=5) == fresh.most_similar("w7", topn=5)

    empty = KeyedVectors(E)
    empty.sort_by_descending_frequency()
    assert len(empty) == 0
    without_counts, _ = twin_of(keys, vectors[:40])
    with pytest.raises(KeyError, match="'count' vecattr"):
        without_counts.sort_by_descending_frequency()


def test_unit_normalize_all_matches_gensim(vectors):
    ours, theirs = twin_of([f"w{i}" for i in range(V)], vectors.copy())
    before = ours.most_similar("w1", topn=5)
    ours.unit_normalize_all()
    theirs.unit_normalize_all()
    np.testing.assert_allclose(ours.vectors, theirs.vectors, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(ours.norms, np.ones(V))
    assert_same_ranking(ours.most_similar("w1", topn=5), before)
    # a zero vector stays zero (gensim divides it by 0: nan)
    with_zero = KeyedVectors(2)
    with_zero.add_vectors(["a", "z"], np.array([[3, 4], [0, 0]], np.float32))
    with_zero.unit_normalize_all()
    np.testing.assert_allclose(with_zero.vectors, [[0.6, 0.8], [0, 0]])
    np.testing.assert_array_equal(with_zero.norms, [1, 0])


# ---- evaluate_word_analogies with 3CosMul ----


def gensim_evaluation(theirs, analogies, similarity_function, restrict_vocab=None, **kwargs):
    """gensim's own evaluation loop, on a copy of theirs. gensim 4.4 takes similarity_function
    but always calls most_similar, so for 3CosMul most_similar is pointed at gensim's
    most_similar_cosmul; as that ignores restrict_vocab, the copy holds only the first
    restrict_vocab rows."""
    _, theirs = twin_of(theirs.index_to_key[:restrict_vocab], theirs.vectors[:restrict_vocab])
    if similarity_function == "most_similar_cosmul":
        theirs.most_similar = functools.partial(GensimKV.most_similar_cosmul, theirs)
    if restrict_vocab is not None:
        kwargs["restrict_vocab"] = restrict_vocab
    return theirs.evaluate_word_analogies(analogies, **kwargs)


def assert_same_evaluation(got, want):
    (score, sections), (want_score, want_sections) = got, want
    assert score == pytest.approx(want_score)
    assert [(s["section"], s["correct"], s["incorrect"]) for s in sections] == [
        (s["section"], s["correct"], s["incorrect"]) for s in want_sections
    ]


@pytest.fixture(scope="module")
def analogy_world(tmp_path_factory):
    """Vectors where b - a ~ d - c within each section (noisy, so that about half is right) and
    a questions file with mixed case, unknown words and a malformed line; (ours, gensim's, path)."""
    rng = np.random.default_rng(11)
    dim, n_pairs = 24, 12
    keys, rows = [], []
    for section in ("capital", "plural"):
        offset = rng.standard_normal(dim)
        for i in range(n_pairs):
            base = rng.standard_normal(dim)
            keys += [f"{section}_a{i}", f"{section}_B{i}"]
            rows += [base, base + offset + 1.2 * rng.standard_normal(dim)]
    keys += [f"filler{i}" for i in range(150)] + ["CAPITAL_A0", "Plural_b1"]  # case variants
    rows += list(rng.standard_normal((152, dim)))
    ours, theirs = twin_of(keys, np.array(rows, np.float32))
    lines = []
    for section in ("capital", "plural"):
        questions = [
            f"{section}_a{i} {section}_{'B' if i % 2 else 'b'}{i} {section}_a{j} {section}_B{j}"
            for i in range(n_pairs)
            for j in range(n_pairs)
            if i != j and (i + j) % 3 == 0
        ]
        unknown = f"{section}_a0 unknown_word {section}_a1 {section}_B1"  # mid-section
        lines += [f": {section}", *questions[:10], unknown, "three words only", *questions[10:], ""]
    path = tmp_path_factory.mktemp("analogies") / "questions.txt"
    path.write_text("\n".join(lines) + "\n")
    return ours, theirs, str(path)


@pytest.mark.parametrize("similarity_function", ["most_similar", "most_similar_cosmul"])
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(case_insensitive=False),
        dict(dummy4unknown=True),
        dict(restrict_vocab=30),
    ],
)
def test_evaluate_word_analogies_matches_gensim(analogy_world, similarity_function, options):
    ours, theirs, path = analogy_world
    got = ours.evaluate_word_analogies(path, similarity_function=similarity_function, **options)
    want = gensim_evaluation(theirs, path, similarity_function, **options)
    assert_same_evaluation(got, want)
    if not options:
        assert 0.2 < got[0] < 0.8  # the test can tell right from wrong answers


def test_3cosmul_and_3cosadd_answer_differently(analogy_world):
    ours, _, path = analogy_world
    _, add_sections = ours.evaluate_word_analogies(path)
    _, mul_sections = ours.evaluate_word_analogies(path, similarity_function="most_similar_cosmul")
    assert add_sections[-1]["correct"] != mul_sections[-1]["correct"]


@pytest.mark.parametrize("vectors_file", ["lee_fasttext.vec", "euclidean_vectors.bin"])
def test_evaluate_word_analogies_3cosmul_on_gensims_test_data(vectors_file):
    theirs = GensimKV.load_word2vec_format(
        datapath(vectors_file), binary=vectors_file[-4:] == ".bin"
    )
    ours, _ = twin_of(theirs.index_to_key, theirs.vectors)
    qw = datapath("questions-words.txt")
    for options in (dict(), dict(restrict_vocab=500, dummy4unknown=True)):
        got = ours.evaluate_word_analogies(qw, similarity_function="most_similar_cosmul", **options)
        want = gensim_evaluation(theirs, qw, "most_similar_cosmul", **options)
        assert_same_evaluation(got, want)


def test_evaluate_word_analogies_refuses_an_unknown_similarity_function(analogy_world):
    ours, _, path = analogy_world
    with pytest.raises(ValueError, match="similarity_function.*most_similar_cosmul.*'cosine'"):
        ours.evaluate_word_analogies(path, similarity_function="cosine")


def test_similarity_with_a_zero_vector_is_zero_as_gensim():
    ours, theirs = twin_of(["a", "zero"], np.array([[1, 2], [0, 0]], np.float32))
    assert ours.similarity("a", "zero") == theirs.similarity("a", "zero") == 0.0


@pytest.mark.parametrize("topn", [0, False, np.int64(0), -3])
def test_most_similar_with_topn_below_one_is_empty_as_gensim(twin, topn):
    ours, theirs = twin
    assert ours.most_similar("w1", topn=topn) == theirs.most_similar("w1", topn=topn) == []


def test_add_vectors_with_a_key_twice_in_one_call():
    """The first occurrence is added (a key present keeps its vector), the last with
    replace=True; the table stays one row per key, and save/load works after it."""
    kv = KeyedVectors(2)
    kv.add_vectors(["x", "y", "x"], np.array([[1, 1], [2, 2], [3, 3]], np.float32))
    assert kv.index_to_key == ["x", "y"] and kv.key_to_index == {"x": 0, "y": 1}
    np.testing.assert_array_equal(kv.vectors, [[1, 1], [2, 2]])
    kv.add_vectors(["z", "z"], np.array([[4, 4], [5, 5]], np.float32), replace=True)
    np.testing.assert_array_equal(kv["z"], [5, 5])
    assert len(kv.vectors) == len(kv.index_to_key) == 3


def test_add_vectors_checks_extras_before_changing_anything():
    kv = KeyedVectors(2)
    kv.add_vectors(["x"], np.ones((1, 2), np.float32), extras={"count": [3]})
    with pytest.raises(ValueError, match=r"extras\['count'\]: expected 2 values, got 1"):
        kv.add_vectors(["y", "z"], np.ones((2, 2), np.float32), extras={"count": [1]})
    assert kv.index_to_key == ["x"] and len(kv.vectors) == 1 and len(kv.expandos["count"]) == 1
    many = [f"k{i}" for i in range(20000)]  # linear in the keys (was quadratic with extras)
    kv.add_vectors(many, np.zeros((20000, 2), np.float32), extras={"count": range(20000)})
    assert kv.get_vecattr("k19999", "count") == 19999


def test_analogies_skip_rows_without_keys():
    """KeyedVectors(E, count) rows have no key until one is given; evaluation passes them by."""
    kv = KeyedVectors(2, count=2)
    kv.add_vectors(["a", "b"], np.array([[1, 0], [0, 1]], np.float32))
    assert kv._ok_vocab(10, case_insensitive=True) == {"A": 2, "B": 3}


def test_add_vector_fills_preallocated_rows_then_appends_as_gensim():
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    ours, theirs = KeyedVectors(3, count=2), GensimKV(3, count=2)
    with pytest.warns(UserWarning):  # gensim warns when it appends one by one
        got = [theirs.add_vector(k, r) for k, r in zip("abc", rows, strict=False)]
    assert [ours.add_vector(k, r) for k, r in zip("abc", rows, strict=False)] == got == [0, 1, 2]
    assert ours.index_to_key == list(theirs.index_to_key)
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    assert ours.add_vector("a", rows[3]) == 0  # present: keeps its vector
    np.testing.assert_array_equal(ours["a"], rows[0])
    with pytest.raises(ValueError, match=r"vector: expected shape \(3,\), got \(2,\)"):
        ours.add_vector("d", [1, 2])


def test_setitem_adds_or_replaces_as_gensim():
    ours, theirs = KeyedVectors(2), GensimKV(2)
    for kv in (ours, theirs):
        kv["a"] = np.array([1, 2], np.float32)
        kv[["b", "a"]] = np.array([[3, 4], [5, 6]], np.float32)
    assert ours.index_to_key == list(theirs.index_to_key) == ["a", "b"]
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


def test_vectors_for_all_as_gensim(twin):
    ours, theirs = twin
    ours.set_vecattr("w3", "count", 7)
    theirs.set_vecattr("w3", "count", 7)
    keys = ["w3", "nope", "w1", "w3", "w2"]
    got = ours.vectors_for_all(keys, copy_vecattrs=True)
    want = theirs.vectors_for_all(keys, copy_vecattrs=True)
    assert got.index_to_key == list(want.index_to_key) == ["w3", "w1", "w2"]
    np.testing.assert_array_equal(got.vectors, want.vectors)
    assert got.get_vecattr("w3", "count") == want.get_vecattr("w3", "count") == 7
    got.vectors[0] += 1  # a copy
    assert not np.array_equal(got["w3"], ours["w3"])


def test_init_sims_and_gensim3_names():
    kv = KeyedVectors(2)
    kv.add_vectors(["a", "b"], np.array([[3, 4], [0, 2]], np.float32))
    kv.init_sims()
    np.testing.assert_allclose(kv.norms, [5, 2])
    kv.init_sims(replace=True)
    np.testing.assert_allclose(kv.vectors, [[0.6, 0.8], [0, 1]])
    for name, hint in [
        ("vocab", "key_to_index"),
        ("index2word", "index_to_key"),
        ("index2entity", "index_to_key"),
        ("vectors_norm", "get_normed_vectors"),
    ]:
        with pytest.raises(AttributeError, match=hint):
            getattr(kv, name)


@pytest.mark.parametrize("weights", [[1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]]])
def test_get_mean_vector_names_weights_of_the_wrong_length(twin, weights):
    """gensim refuses weights that are not one per key; the error names the argument (it was
    zip()'s 'argument 2 is shorter than argument 1')."""
    ours, theirs = twin
    with pytest.raises(ValueError, match="same number"):
        theirs.get_mean_vector(["w1", "w2"], weights=weights)
    with pytest.raises(ValueError, match=r"weights: expected one weight per key, shape \(2,\)"):
        ours.get_mean_vector(["w1", "w2"], weights=weights)
    np.testing.assert_allclose(
        ours.get_mean_vector(["w1", "w2"], weights=[2.0, -1.0]),
        theirs.get_mean_vector(["w1", "w2"], weights=[2.0, -1.0]),
        rtol=RTOL,
        atol=ATOL,
    )


def test_similar_by_word_takes_gensims_argument_names(twin):
    """similar_by_word(word=...) as gensim's (it was similar_by_key under another name, whose
    argument is key: TypeError)."""
    ours, theirs = twin
    assert_same_ranking(
        ours.similar_by_word(word="w3", topn=4, restrict_vocab=50),
        theirs.similar_by_word(word="w3", topn=4, restrict_vocab=50),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_get_mean_vector_has_gensims_dtype(dtype):
    """gensim returns the vectors' dtype, float32 once post-normalized."""
    vectors = np.random.default_rng(3).standard_normal((4, 5)).astype(dtype)
    keys = ["a", "b", "c", "d"]
    ours, theirs = KeyedVectors(5, dtype=dtype), GensimKV(5, dtype=dtype)
    ours.add_vectors(keys, vectors)
    theirs.add_vectors(keys, vectors)
    for post in (False, True):
        got = ours.get_mean_vector(["a", "c"], weights=[1.0, 3.0], post_normalize=post)
        want = theirs.get_mean_vector(["a", "c"], weights=[1.0, 3.0], post_normalize=post)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_evaluate_word_pairs_results_read_as_gensims(twin, tmp_path):
    """gensim's pearson and spearman are scipy results: .statistic and .pvalue, or unpacked."""
    ours, theirs = twin
    path = tmp_path / "pairs.tsv"
    path.write_text("w1\tw2\t3.0\nw2\tw3\t1.0\nw1\tw3\t2.0\nw4\tw5\t5.0\n")
    got, want = ours.evaluate_word_pairs(path), theirs.evaluate_word_pairs(str(path))
    for g, w in zip(got[:2], want[:2], strict=True):
        assert g.statistic == pytest.approx(w.statistic, abs=1e-6)
        statistic, pvalue = g
        assert (statistic, pvalue) == (g.statistic, g.pvalue)
        if not np.isnan(w.pvalue):
            assert g.pvalue == pytest.approx(w.pvalue, rel=1e-6)
    assert got[2] == pytest.approx(want[2])


@pytest.mark.parametrize(
    "ws1, ws2",
    [
        (["cat", "dog", "unseen"], ["pet"]),  # the unknown key is left out
        (["unseen"], ["pet"]),  # no known key: a zero mean, 0.0
        (["unseen"], ["other"]),
        (["cat", "cat", "dog"], ["pet", "nope"]),
    ],
)
def test_n_similarity_leaves_out_unknown_keys_as_gensim(ws1, ws2):
    ours, theirs = twin_of(
        ["cat", "dog", "pet"], np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0.5]], np.float32)
    )
    assert ours.n_similarity(ws1, ws2) == pytest.approx(theirs.n_similarity(ws1, ws2), abs=1e-7)


def test_n_similarity_of_an_empty_list_is_a_zero_division_as_gensim():
    ours, theirs = twin_of(["cat"], np.ones((1, 2), np.float32))
    for kv in (ours, theirs):
        with pytest.raises(ZeroDivisionError, match="At least one of the passed list"):
            kv.n_similarity([], ["cat"])
        with pytest.raises(ZeroDivisionError):
            kv.n_similarity(["unseen"], [])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_similarity_distance_n_similarity_return_numpy_scalars_as_gensim(dtype):
    vectors = np.array([[1, 2], [3, -1], [0, 0]])
    ours, theirs = KeyedVectors(2, dtype=dtype), GensimKV(2, dtype=dtype)
    ours.add_vectors(["a", "b", "zero"], vectors)
    theirs.add_vectors(["a", "b", "zero"], vectors)
    for args in (("a", "b"), ("a", "zero")):
        for method in ("similarity", "distance"):
            got, want = getattr(ours, method)(*args), getattr(theirs, method)(*args)
            assert type(got) is type(want) is dtype
            assert got == pytest.approx(want, rel=1e-3)
        got = ours.n_similarity([args[0], "unseen"], [args[1]])
        want = theirs.n_similarity([args[0], "unseen"], [args[1]])
        assert type(got) is type(want) is dtype
        assert got == pytest.approx(want, rel=1e-3)

    assert type(ours.relative_cosine_similarity("a", "b", topn=1)) is float  # as gensim's
