"""The word2vec-format options gensim users reach for, checked against gensim itself: files
without a header (GloVe's), `limit`, repeated words, the made-up and the fvocab counts, and
save_word2vec_format's sort_attr, prefix, total_vec, write_header and append (atomic too)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from fastrnn import KeyedVectors
from fastrnn.word2vec_format import Word2VecFormatError, Word2VecFormatWarning

gensim = pytest.importorskip("gensim")
GensimKV = gensim.models.KeyedVectors


def _pair(keys, vectors, counts=None):
    """The same vectors ([V, E]) in fastrnn's KeyedVectors and gensim's, with a 'count' vecattr
    when `counts` is given."""
    vectors = np.asarray(vectors, dtype=np.float32)
    ours, theirs = KeyedVectors(vectors.shape[1]), GensimKV(vectors.shape[1])
    ours.add_vectors(keys, vectors)
    theirs.add_vectors(keys, vectors)
    if counts is not None:
        for key, count in zip(keys, counts, strict=True):
            ours.set_vecattr(key, "count", count)
            theirs.set_vecattr(key, "count", count)
    return ours, theirs


def _same(ours: KeyedVectors, theirs) -> None:
    # gensim leaves a None key (and a spare row) for each repeated word it dropped
    keys = [k for k in theirs.index_to_key if k is not None]
    assert ours.index_to_key == keys
    np.testing.assert_array_equal(ours.vectors, theirs.vectors[: len(keys)])


def _gensim_no_header(path, **kwargs):
    """gensim's load with no_header=True, which leaves the file it reopens unclosed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return GensimKV.load_word2vec_format(str(path), no_header=True, **kwargs)


GLOVE = b"the 0.1 -0.2 0.3\nof 1.5 2 -3\nand 0 0 1e-3\n"


def test_text_without_header_reads_as_gensim(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_bytes(GLOVE)
    ours = KeyedVectors.load_word2vec_format(path, no_header=True)
    _same(ours, _gensim_no_header(path))
    assert ours.vector_size == 3
    limited = KeyedVectors.load_word2vec_format(path, no_header=True, limit=2)
    _same(limited, _gensim_no_header(path, limit=2))


def test_text_without_header_and_last_newline_loads_with_a_warning(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_bytes(GLOVE.rstrip(b"\n"))
    with pytest.warns(Word2VecFormatWarning, match="line 3: the file ends without a newline"):
        ours = KeyedVectors.load_word2vec_format(path, no_header=True)
    assert ours.index_to_key == ["the", "of", "and"]


@pytest.mark.parametrize(
    "body, match",
    [
        (b"", "line 1: expected a word and its vector"),
        (b"lonely\n", "line 1: a word without numbers"),
        (b"a 1 2\nb 1\n", "line 2: expected a word and 2 numbers"),
    ],
)
def test_malformed_text_without_header_names_the_line(tmp_path, body, match):
    path = tmp_path / "glove.txt"
    path.write_bytes(body)
    with pytest.raises(Word2VecFormatError, match=match):
        KeyedVectors.load_word2vec_format(path, no_header=True)


def test_binary_without_header_is_refused_as_gensim(tmp_path):
    path = tmp_path / "v.bin"
    path.write_bytes(b"a " + np.ones(2, "<f4").tobytes())
    with pytest.raises(NotImplementedError, match="no_header=True reads text files only"):
        KeyedVectors.load_word2vec_format(path, binary=True, no_header=True)
    with pytest.raises(NotImplementedError):
        GensimKV.load_word2vec_format(str(path), binary=True, no_header=True)


@pytest.mark.parametrize("binary", [False, True])
def test_limit_zero_reads_everything_as_gensim(tmp_path, binary):
    ours, theirs = _pair(["a", "b", "c"], np.arange(6).reshape(3, 2))
    path = tmp_path / "v"
    theirs.save_word2vec_format(str(path), binary=binary)
    for limit in (None, 0):
        back = KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit)
        _same(back, GensimKV.load_word2vec_format(str(path), binary=binary, limit=limit))


@pytest.mark.parametrize("binary", [False, True])
def test_repeated_word_keeps_its_first_vector_as_gensim(tmp_path, binary):
    rows = np.array([[1, 2], [3, 4], [5, 6], [7, 8]], "<f4")
    if binary:
        body = b"".join(
            w + b" " + r.tobytes() for w, r in zip([b"a", b"b", b"a", b"c"], rows, strict=True)
        )
    else:
        body = b"a 1 2\nb 3 4\na 5 6\nc 7 8\n"
    path = tmp_path / "v"
    path.write_bytes(b"4 2\n" + body)
    with pytest.warns(Word2VecFormatWarning, match=r"1 repeated word\(s\) \(the first: 'a' in"):
        ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    theirs = GensimKV.load_word2vec_format(str(path), binary=binary)
    _same(ours, theirs)
    assert [ours.get_vecattr(k, "count") for k in ours.index_to_key] == [
        theirs.get_vecattr(k, "count") for k in theirs.index_to_key if k is not None
    ]


@pytest.mark.parametrize("binary", [False, True])
def test_counts_made_up_without_fvocab_as_gensim(tmp_path, binary):
    ours, theirs = _pair(["a", "b", "c", "d"], np.eye(4))
    path = tmp_path / "v"
    theirs.save_word2vec_format(str(path), binary=binary)
    for limit in (None, 3):
        back = KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit)
        gback = GensimKV.load_word2vec_format(str(path), binary=binary, limit=limit)
        assert [back.get_vecattr(k, "count") for k in back.index_to_key] == [
            gback.get_vecattr(k, "count") for k in gback.index_to_key
        ]


def test_fvocab_counts_and_a_word_missing_from_it(tmp_path):
    ours, theirs = _pair(["a", "b", "c"], np.eye(3), counts=[5, 9, 7])
    vec, vocab = tmp_path / "v.txt", tmp_path / "vocab.txt"
    theirs.save_word2vec_format(str(vec), fvocab=str(vocab))
    back = KeyedVectors.load_word2vec_format(vec, fvocab=vocab)
    gback = GensimKV.load_word2vec_format(str(vec), fvocab=str(vocab))
    _same(back, gback)
    assert back.index_to_key == ["b", "c", "a"]  # most frequent first, as gensim writes
    assert [back.get_vecattr(k, "count") for k in back.index_to_key] == [9, 7, 5]
    vocab.write_text("b 9\r\na 5\r\n", encoding="utf8")  # 'c' missing, Windows newlines
    with pytest.warns(Word2VecFormatWarning, match="1 of the 3 words lack a count.*'c'"):
        back = KeyedVectors.load_word2vec_format(vec, fvocab=vocab)
    assert back.get_vecattr("c", "count") == 0 and back.get_vecattr("b", "count") == 9


@pytest.mark.parametrize("binary", [False, True])
def test_save_orders_by_sort_attr_with_prefix_as_gensim(tmp_path, binary):
    rng = np.random.default_rng(0)
    keys = [f"w{i}" for i in range(20)]
    counts = rng.integers(1, 6, size=20).tolist()  # ties keep index order in both
    ours, theirs = _pair(keys, rng.standard_normal((20, 4)), counts=counts)
    mine, gensims = tmp_path / "ours", tmp_path / "theirs"
    for kv, path in ((ours, mine), (theirs, gensims)):
        kv.save_word2vec_format(str(path), fvocab=str(path) + ".vocab", binary=binary, prefix="x_")
    _same(
        KeyedVectors.load_word2vec_format(mine, binary=binary),
        GensimKV.load_word2vec_format(str(gensims), binary=binary),
    )
    assert (tmp_path / "ours.vocab").read_bytes() == (tmp_path / "theirs.vocab").read_bytes()
    # without the attribute: index order, as gensim (which needs it for fvocab)
    ours.save_word2vec_format(mine, binary=binary, sort_attr="missing")
    assert KeyedVectors.load_word2vec_format(mine, binary=binary).index_to_key == keys
    with pytest.raises(ValueError, match="sort_attr: the keys have no 'missing' attribute"):
        ours.save_word2vec_format(mine, fvocab=tmp_path / "v", sort_attr="missing")
    with pytest.raises(ValueError):
        theirs.save_word2vec_format(str(mine), fvocab=str(tmp_path / "v"), sort_attr="missing")


@pytest.mark.parametrize("name", ["v.txt", "v.txt.gz", "v.txt.bz2"])
@pytest.mark.parametrize("binary", [False, True])
def test_total_vec_then_append_without_header_as_gensim(tmp_path, name, binary):
    """gensim's way of writing two tables into one file (Doc2Vec's words, then documents): the
    first save announces both in its header, the second appends without one."""
    first, gfirst = _pair(["a", "b"], [[1, 2], [3, 4]])
    second, gsecond = _pair(["c"], [[5, 6]])
    mine, gensims = tmp_path / ("ours_" + name), tmp_path / ("theirs_" + name)
    for kv1, kv2, path in ((first, second, mine), (gfirst, gsecond, gensims)):
        kv1.save_word2vec_format(str(path), binary=binary, total_vec=3)
        kv2.save_word2vec_format(str(path), binary=binary, write_header=False, append=True)
    ours = KeyedVectors.load_word2vec_format(mine, binary=binary)
    _same(ours, GensimKV.load_word2vec_format(str(gensims), binary=binary))
    assert ours.index_to_key == ["a", "b", "c"]


def test_write_header_false_is_glove_format(tmp_path):
    ours, theirs = _pair(["a", "b"], [[1, 2], [3, 4]])
    path = tmp_path / "glove.txt"
    ours.save_word2vec_format(path, write_header=False)
    assert path.read_bytes().startswith(b"a 1.0 2.0\n")
    _same(KeyedVectors.load_word2vec_format(path, no_header=True), theirs)
    _same(ours, _gensim_no_header(path))


def test_failed_append_leaves_the_file_as_it_was(tmp_path):
    path, vocab = tmp_path / "v.txt", tmp_path / "vocab.txt"
    ours, _ = _pair(["a"], [[1, 2]], counts=[3])
    ours.save_word2vec_format(path, fvocab=vocab)
    before, vocab_before = path.read_bytes(), vocab.read_bytes()
    bad, _ = _pair(["b"], [[np.nan, 1]], counts=[1])
    with pytest.raises(ValueError, match="NaN or Inf"):
        bad.save_word2vec_format(path, fvocab=vocab, append=True, write_header=False)
    assert path.read_bytes() == before and vocab.read_bytes() == vocab_before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.txt", "vocab.txt"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"total_vec": -1}, ValueError, "total_vec: expected an int >= 0, got -1"),
        ({"total_vec": 1.5}, TypeError, "total_vec: expected an int"),
        ({"prefix": 3}, TypeError, "prefix: expected a str, got int"),
        ({"prefix": "a b"}, ValueError, "key 'a ba': .* without the whitespace that separates"),
    ],
)
def test_bad_save_arguments_are_named(tmp_path, kwargs, error, match):
    ours, _ = _pair(["a"], [[1, 2]])
    with pytest.raises(error, match=match):
        ours.save_word2vec_format(tmp_path / "v.txt", **kwargs)
    assert not list(tmp_path.iterdir())


def test_text_without_header_and_a_limit_stops_counting_there(tmp_path):
    """no_header=True with a limit counts lines only as far as the limit needs (GloVe files are
    gigabytes): the count reads about a megabyte here, not the 3 MB file."""
    import io

    from fastrnn.word2vec_format import _text_sizes

    body = GLOVE + b"w 1 2 3\n" * (3 << 17)
    f = io.BytesIO(body)
    lines, E = _text_sizes(f, "glove.txt", enough=2)
    assert E == 3 and lines >= 2 and f.tell() < len(body) // 2
    path = tmp_path / "glove.txt"
    path.write_bytes(body)
    assert KeyedVectors.load_word2vec_format(path, no_header=True, limit=2).index_to_key == [
        "the",
        "of",
    ]


@pytest.mark.parametrize("datatype", [np.float64, np.float16])
@pytest.mark.parametrize("binary", [False, True])
def test_datatype_reads_the_numbers_as_gensim(tmp_path, datatype, binary):
    """datatype: gensim parses a text file's numbers straight into it (float64 keeps 0.1's
    digits, float16 rounds once) and converts a binary file's float32 values; a float32 parse in
    between rounded twice (float64 got 0.10000000149, float16 could round the other way)."""
    path = tmp_path / "v.bin"
    if binary:
        vectors = np.array([[0.1, 1 + 2**-11 + 2**-30], [0.3, -3.5]], dtype=np.float32)
        ours, _ = _pair(["a", "b"], vectors)
        ours.save_word2vec_format(path, binary=True)
    else:
        path.write_bytes(b"2 2\na 0.1 %.20f\nb 0.3 -3.5\n" % (1 + 2**-11 + 2**-30))
    loaded = KeyedVectors.load_word2vec_format(path, binary=binary, datatype=datatype)
    theirs = GensimKV.load_word2vec_format(str(path), binary=binary, datatype=datatype)
    assert loaded.vectors.dtype == theirs.vectors.dtype == datatype
    np.testing.assert_array_equal(loaded.vectors, theirs.vectors)


def test_text_save_of_many_blocks_writes_each_number_as_gensim(tmp_path):
    """The text is converted a block of rows at a time: a table of several blocks is written as
    one conversion wrote it (gensim's str() of each number)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((10_000, 8)).astype(np.float32) * np.logspace(-20, 20, 8)
    ours, _ = _pair([f"w{i}" for i in range(len(vectors))], vectors)
    ours.save_word2vec_format(tmp_path / "v.txt")
    want = "10000 8\n" + "".join(
        f"w{i} " + " ".join(str(x) for x in row) + "\n" for i, row in enumerate(ours.vectors)
    )
    assert (tmp_path / "v.txt").read_text(encoding="utf8") == want


def test_text_save_needs_memory_for_a_block_not_for_the_table(tmp_path):
    import tracemalloc

    vectors = np.random.default_rng(0).standard_normal((2000, 100)).astype(np.float32)
    ours, _ = _pair([f"w{i}" for i in range(len(vectors))], vectors)
    tracemalloc.start()
    try:
        ours.save_word2vec_format(tmp_path / "v.txt")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the table as numpy str at once: 2000 * 100 * 128 bytes = 25.6 MB; a block is 2 MiB
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB while saving {vectors.nbytes / 1e6:.1f} MB"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_text_save_writes_the_vectors_own_dtype_as_gensim(tmp_path, dtype):
    vectors = np.array([[1 / 3, 2 / 3], [1e-7, -12345.678901234]])
    ours, theirs = KeyedVectors(2, dtype=dtype), GensimKV(2, dtype=dtype)
    ours.add_vectors(["a", "b"], vectors)
    theirs.add_vectors(["a", "b"], vectors)
    ours.save_word2vec_format(tmp_path / "ours.txt")
    theirs.save_word2vec_format(tmp_path / "theirs.txt")
    assert (tmp_path / "ours.txt").read_bytes() == (tmp_path / "theirs.txt").read_bytes()
    back = KeyedVectors.load_word2vec_format(tmp_path / "ours.txt", datatype=dtype)
    assert back.vectors.dtype == dtype and np.array_equal(back.vectors, ours.vectors)
    # binary files hold float32, whatever the table's dtype (as gensim's)
    ours.save_word2vec_format(tmp_path / "ours.bin", binary=True)
    for reader in (KeyedVectors, GensimKV):
        back = reader.load_word2vec_format(tmp_path / "ours.bin", binary=True)
        assert np.array_equal(back.vectors, ours.vectors.astype(np.float32))


# No-break spaces (U+00A0, French numbers in fastText's .vec files), ideographic spaces (U+3000)
# and the other Unicode whitespace that neither format nor fvocab splits on.
_WHITESPACE_KEYS = ["1\xa0000", "東京\u3000都", "a\x0bb\x0c", "\x85x\u2028", "\xa0"]


@pytest.mark.parametrize("binary", [False, True])
def test_keys_with_unicode_whitespace_read_back_as_written(tmp_path, binary):
    counts = [50, 40, 30, 20, 10]
    ours, _ = _pair(_WHITESPACE_KEYS, np.arange(10).reshape(5, 2), counts)
    path, vocab = tmp_path / "v.bin", tmp_path / "vocab.txt"
    ours.save_word2vec_format(path, fvocab=vocab, binary=binary)
    back = KeyedVectors.load_word2vec_format(path, fvocab=vocab, binary=binary)
    assert back.index_to_key == _WHITESPACE_KEYS
    assert [back.get_vecattr(k, "count") for k in _WHITESPACE_KEYS] == counts
    assert np.array_equal(back.vectors, ours.vectors)
    assert GensimKV.load_word2vec_format(path, binary=binary).index_to_key == _WHITESPACE_KEYS


@pytest.mark.parametrize("key", ["a b", "a\tb", "a\nb", "a\rb", " ", "\t"])
@pytest.mark.parametrize("binary", [False, True])
def test_keys_with_a_separator_are_refused_by_name(tmp_path, key, binary):
    ours, _ = _pair(["ok", key], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=f"key {re.escape(repr(key))}: .*space, tab"):
        ours.save_word2vec_format(tmp_path / "v.txt", binary=binary)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", [".GZ", ".Gz", ".BZ2", ".bZ2"])
@pytest.mark.parametrize("binary", [False, True])
def test_compressed_suffix_in_any_case_as_gensim(tmp_path, suffix, binary):
    ours, theirs = _pair(["a", "b"], [[1, 2], [3, 4]], counts=[5, 3])
    magic = b"\x1f\x8b" if suffix.lower() == ".gz" else b"BZh"
    ours.save_word2vec_format(tmp_path / f"ours{suffix}", binary=binary)
    theirs.save_word2vec_format(tmp_path / f"theirs{suffix}", binary=binary)
    for name in ("ours", "theirs"):
        path = tmp_path / f"{name}{suffix}"
        assert path.read_bytes().startswith(magic)
        for reader in (KeyedVectors, GensimKV):
            back = reader.load_word2vec_format(path, binary=binary)
            assert back.index_to_key == ["a", "b"]
            assert np.array_equal(back.vectors, ours.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_a_number_past_the_datatypes_range_is_named_on_load(tmp_path, binary):
    # a float64 table's 1e300 (written to text since text keeps the table's dtype) read as
    # float32 was "NaN or Inf in the vector" with an overflow RuntimeWarning; a float32 1e30 read
    # as float16 became inf with a warning only
    path = tmp_path / ("v.bin" if binary else "v.txt")
    dtype, big, narrow = (
        (np.float32, 1e30, np.float16) if binary else (np.float64, 1e300, np.float32)
    )
    kv = KeyedVectors(2, dtype=dtype)
    kv.add_vectors(["a"], np.array([[big, 1.0]], dtype=dtype))
    kv.save_word2vec_format(path, binary=binary)
    with pytest.raises(Word2VecFormatError, match=f"a number past {np.dtype(narrow).name}'s range"):
        KeyedVectors.load_word2vec_format(path, binary=binary, datatype=narrow)
    wide = KeyedVectors.load_word2vec_format(path, binary=binary, datatype=dtype)
    assert wide["a"][0] == dtype(big)
