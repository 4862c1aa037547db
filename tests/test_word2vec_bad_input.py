"""Word2Vec, KeyedVectors and the word2vec file readers reject bad input with clear errors:
empty corpora, a vocabulary emptied by min_count, unknown words (KeyError naming them),
non-string tokens, sizes out of range, hs=0 with negative=0, malformed or truncated files (naming
the line), corrupt compressed corpora (naming the file), and leave nothing half-written on disk;
save refuses what load would refuse."""

import bz2
import gzip
import warnings

import numpy as np
import pytest
from fastrnn import _C, KeyedVectors, Word2Vec
from fastrnn.word2vec_format import (
    Word2VecDecodeError,
    Word2VecFormatError,
    Word2VecTruncatedError,
)

CORPUS = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"]] * 5


@pytest.fixture(scope="module")
def model():
    return Word2Vec(CORPUS, vector_size=8, min_count=1, epochs=1, workers=1)


@pytest.mark.parametrize("corpus", [[], [[]], [[], []]])
def test_empty_corpus(corpus):
    with pytest.raises(ValueError, match="empty corpus"):
        Word2Vec(corpus, min_count=1)


def test_empty_corpus_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    with pytest.raises(ValueError, match="empty corpus"):
        Word2Vec(corpus_file=str(path))


def test_vocabulary_emptied_by_min_count():
    with pytest.raises(ValueError, match="vocabulary is empty.*min_count=100"):
        Word2Vec(CORPUS, min_count=100)


def test_non_string_tokens():
    with pytest.raises(TypeError, match="sentence 1, token 2: expected str, got int"):
        Word2Vec([["a", "b"], ["c", "d", 3]], min_count=1)
    with pytest.raises(TypeError, match="sentence 0 is a string"):
        Word2Vec(["a sentence as one string"], min_count=1)
    with pytest.raises(TypeError, match="corpus_iterable"):
        Word2Vec("path/as/sentences.txt")
    surrogate = b"caf\xe9".decode("utf8", errors="surrogateescape")  # a lone '\udce9'
    with pytest.raises(ValueError, match="sentence 1, token 0: not encodable as UTF-8"):
        Word2Vec([["a", "b"], [surrogate, "d"]], min_count=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(vector_size=0), "vector_size"),
        (dict(vector_size=-3), "vector_size"),
        (dict(window=0), "window"),
        (dict(workers=0), "workers"),
        (dict(epochs=0), "epochs"),
        (dict(negative=0), "negative=0"),
        (dict(negative=-1), "negative"),
        (dict(alpha=0.0), "alpha"),
        (dict(sample=-1e-3), "sample"),
        (dict(max_vocab_size=0), "max_vocab_size"),
        (dict(sg=2), "sg"),
        (dict(workers=2**31), r"workers: expected an int in \[1, 4096\]"),
        (dict(window=2**25), r"window: expected an int in \[1, 16777216\]"),
        (dict(negative=2**40), "negative: expected an int in"),
        (dict(seed=-1), "seed: expected an int in"),
        (dict(ns_exponent=1000.0), r"ns_exponent: count \*\* 1000.0 summed .* is inf"),
        (dict(ns_exponent=-1e308), "ns_exponent: count"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Word2Vec(CORPUS, min_count=1, **kwargs)


def test_ns_exponent_whose_weights_sum_past_the_float_range():
    # each 2 ** 1023.5 is finite (1.3e308), their sum is not
    with pytest.raises(ValueError, match=r"ns_exponent: count \*\* 1023.5 summed .* is inf"):
        Word2Vec([["a", "b"]] * 2, min_count=1, ns_exponent=1023.5, workers=1)


def test_bad_parameter_types():
    with pytest.raises(TypeError, match="vector_size"):
        Word2Vec(CORPUS, vector_size=10.5)


def test_train_needs_vocab_and_counts(model):
    with pytest.raises(RuntimeError, match="build_vocab"):
        Word2Vec(vector_size=8).train(CORPUS, total_examples=10, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        model.train(CORPUS, total_examples=10)
    with pytest.raises(ValueError, match="total_examples or total_words"):
        model.train(CORPUS, epochs=1)
    with pytest.raises(ValueError, match="no words in the vocabulary"):
        model.train([["unseen", "words"]], total_examples=1, epochs=1)
    with pytest.raises(FileNotFoundError):
        model.train(corpus_file="/nonexistent/corpus.txt", total_words=1, epochs=1)


def test_unknown_words_raise_keyerror_naming_them(model):
    with pytest.raises(KeyError, match="zebra"):
        model.wv["zebra"]
    with pytest.raises(KeyError, match="zebra"):
        model.wv.get_vector("zebra")
    with pytest.raises(KeyError, match="zebra"):
        model.wv.most_similar("zebra")
    with pytest.raises(KeyError, match="unicorn"):
        model.wv.similarity("cat", "unicorn")
    assert "zebra" not in model.wv


def _text_file(tmp_path, body: str):
    path = tmp_path / "v.txt"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    "body, match",
    [
        ("", "line 1: empty file"),
        ("three 2\n", "line 1: expected a header"),
        ("2 2\nx 1 2\n", "line 3: unexpected end of file"),
        ("2 2\nx 1 2\ny 1\n", "line 3: expected a word and 2 numbers"),
        ("2 2\nx 1 2\ny 1 abc\n", "line 3: malformed number"),
        ("2 2\nx 1 2 3\ny 1 2\n", "line 2: expected a word and 2 numbers"),
    ],
)
def test_malformed_text_files(tmp_path, body, match):
    with pytest.raises(Word2VecFormatError, match=match):
        KeyedVectors.load_word2vec_format(_text_file(tmp_path, body))


def test_malformed_binary_files(tmp_path):
    vec = np.ones(3, dtype=np.float32).tobytes()
    path = tmp_path / "v.bin"
    path.write_bytes(b"2 3\nx " + vec + b"y " + vec[:5])
    with pytest.raises(Word2VecFormatError, match=r"record 2 \(line 3.*truncated vector for 'y'"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path.write_bytes(b"3 3\nx " + vec + b"y " + vec)
    with pytest.raises(Word2VecFormatError, match=r"record 3 .*unexpected end of file"):
        KeyedVectors.load_word2vec_format(path, binary=True)
    path.write_bytes(b"2 3\nx " + vec + b"\xff\xfe " + vec)
    with pytest.raises(Word2VecFormatError, match="record 2.*decode"):
        KeyedVectors.load_word2vec_format(path, binary=True)


def test_nothing_half_written(tmp_path, model):
    path = tmp_path / "v.txt"
    path.write_text("old")
    model.wv.index_to_key[0] = "has space"
    try:
        with pytest.raises(ValueError, match="whitespace"):
            model.wv.save_word2vec_format(path)
    finally:
        model.wv.index_to_key[0] = "the"
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.txt"]


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a fastrnn file"):
        Word2Vec.load(path)
    with pytest.raises(FileNotFoundError):
        Word2Vec.load(tmp_path / "missing.npz")


def test_non_string_keys_are_refused_with_the_advice_to_map_them_to_str():
    """gensim takes any hashable token (int item ids, say); fastrnn's keys are str only, and the
    error names the argument and says to map the ids to str (it said 'sentences' for
    build_vocab's corpus_iterable and gave no way out)."""
    sessions = [[101, 205, 101, 330], [205, 330, 101]]
    advice = r"expected str, got int.*str keys only.*map.* to str"
    with pytest.raises(TypeError, match=r"sentences: sentence 0, token 0: " + advice):
        Word2Vec(sessions, min_count=1)
    model = Word2Vec(min_count=1)
    with pytest.raises(TypeError, match=r"corpus_iterable: sentence 0, token 0: " + advice):
        model.build_vocab(sessions)
    with pytest.raises(TypeError, match=r"word_freq: expected str words, got 101 \(int\).*map"):
        model.build_vocab_from_freq({101: 3})
    model.build_vocab([[str(t) for t in s] for s in sessions])  # the advice works
    assert model.wv.index_to_key == ["101", "330", "205"]


def test_the_constructor_refuses_a_generator_as_gensim():
    """Word2Vec(sentences) scans the vocabulary and trains; gensim refuses a generator there."""
    with pytest.raises(
        TypeError, match=r"sentences: a generator, which Word2Vec\(sentences\) refuses"
    ):
        Word2Vec((s for s in CORPUS), min_count=1)


def test_build_vocab_and_train_each_take_a_generator_read_once():
    """build_vocab reads its corpus once (gensim accepts a once-only stream there), and train()
    encodes its corpus once per call whatever the epochs: a generator gives the list's result."""
    kw = dict(vector_size=8, min_count=1, workers=1, seed=2)
    from_list, from_generators = Word2Vec(**kw), Word2Vec(**kw)
    from_list.build_vocab(CORPUS)
    from_generators.build_vocab(s for s in CORPUS)
    assert from_generators.wv.index_to_key == from_list.wv.index_to_key
    assert from_generators.corpus_count == from_list.corpus_count
    reads = []

    def sentences():
        reads.append(1)
        yield from CORPUS

    results = [
        m.train(corpus, total_examples=len(CORPUS), epochs=3)
        for m, corpus in ((from_list, CORPUS), (from_generators, sentences()))
    ]
    assert reads == [1]
    assert results[1] == results[0]
    assert np.array_equal(from_generators.wv.vectors, from_list.wv.vectors)


def test_an_iterator_read_by_build_vocab_is_named_when_train_finds_it_empty():
    """build_vocab(it) then train(it) with one iterator: the second read is empty. The error said
    the corpus had no words in the vocabulary; it names the iterator (gensim trains nothing)."""
    model = Word2Vec(min_count=1, vector_size=4, workers=1)
    sentences = iter(CORPUS)
    model.build_vocab(sentences)
    with pytest.raises(TypeError, match="corpus_iterable: an iterator, read already"):
        model.train(sentences, total_examples=model.corpus_count, epochs=1)
    with pytest.raises(ValueError, match="no words in the vocabulary"):  # an unknown corpus
        model.train([["zzz"]], total_examples=1, epochs=1)
    with pytest.raises(ValueError, match="no words in the vocabulary"):  # unread, unknown words
        model.train(iter([["zzz"]]), total_examples=1, epochs=1)
    model.train(iter(CORPUS), total_examples=model.corpus_count, epochs=2)  # read once: fine


def test_bad_hierarchical_softmax_combinations():
    with pytest.raises(ValueError, match="hs=0 and negative=0"):  # gensim: nothing to train
        Word2Vec(CORPUS, min_count=1, hs=0, negative=0)
    with pytest.raises(ValueError, match="hs: expected 0"):
        Word2Vec(CORPUS, min_count=1, hs=2)
    model = Word2Vec(CORPUS, min_count=1, hs=1, negative=0, epochs=1)
    with pytest.raises(RuntimeError, match="negative=0"):  # as gensim: no syn1neg learnt
        model.predict_output_word(["a"])
    with pytest.raises(RuntimeError, match="hierarchical softmax only"):
        Word2Vec(CORPUS, min_count=1, epochs=1).score(CORPUS)


def test_corpus_file_must_be_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        Word2Vec(corpus_file=str(path), min_count=1)


def test_text_file_without_its_last_newline_loads_with_a_warning(tmp_path):
    """Cut inside its last number, a text file still parses: the missing newline that every
    writer puts after each vector is the only sign, so it is reported."""
    from fastrnn.word2vec_format import Word2VecFormatWarning

    cut = tmp_path / "cut.txt"
    cut.write_text("1 3\nab 1.5 2.25 3.1")  # cut from "... 3.125\n"
    with pytest.warns(Word2VecFormatWarning, match="line 2: the file ends without a newline"):
        kv = KeyedVectors.load_word2vec_format(cut)
    np.testing.assert_array_equal(kv["ab"], np.float32([1.5, 2.25, 3.1]))
    whole = tmp_path / "whole.txt"
    whole.write_text("1 3\nab 1.5 2.25 3.125\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KeyedVectors.load_word2vec_format(whole)


def test_read_limit_must_be_an_int(tmp_path, model):
    path = tmp_path / "m.txt"
    model.wv.save_word2vec_format(path)
    with pytest.raises(TypeError, match="limit: expected an int, got float"):
        KeyedVectors.load_word2vec_format(path, limit=1.5)


def test_values_past_float32_are_named_on_binary_save(tmp_path):
    kv = KeyedVectors(2, dtype=np.float64)
    kv.add_vectors(["a", "b"], np.array([[1.0, 2.0], [1e300, 0.0]]))
    with pytest.raises(ValueError, match=r"row 1 \('b'\) holds values past float32's range"):
        kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    # text holds a float64 table's own numbers (as gensim's), so nothing is past their range
    kv.save_word2vec_format(tmp_path / "v.txt")
    back = KeyedVectors.load_word2vec_format(tmp_path / "v.txt", datatype=np.float64)
    assert np.array_equal(back.vectors, kv.vectors)


def test_save_refuses_what_load_would_refuse(tmp_path, model):
    with pytest.raises(ValueError, match=r"index_to_key\[0\]: expected a str key, got None"):
        KeyedVectors(3, count=2).save(tmp_path / "kv.npz")
    assert not (tmp_path / "kv.npz").exists()
    grown = Word2Vec.load(_saved(tmp_path, model))
    grown.wv.add_vectors(["zz"], np.ones((1, 8)))
    with pytest.raises(ValueError, match="wv: holds .* keys but the model's output weights"):
        grown.save(tmp_path / "grown.npz")
    grown.wv.save(tmp_path / "grown_wv.npz")  # the vectors alone save and load
    assert "zz" in KeyedVectors.load(tmp_path / "grown_wv.npz")


def _saved(tmp_path, model):
    path = tmp_path / "model.npz"
    model.save(path)
    return path


def test_an_empty_string_token_saves_and_loads(tmp_path):
    trained = Word2Vec([["", "a"]] * 10, vector_size=4, min_count=1, epochs=1, workers=1)
    path = tmp_path / "m.npz"
    trained.save(path)
    loaded = Word2Vec.load(path)
    np.testing.assert_array_equal(loaded.wv[""], trained.wv[""])


@pytest.mark.parametrize("suffix", [".gz", ".bz2"])
def test_corrupt_compressed_corpus_is_named(tmp_path, suffix):
    import bz2
    import gzip

    packed = (gzip.compress if suffix == ".gz" else bz2.compress)(b"the cat sat\n" * 200)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(packed[: len(packed) // 2])
    junk = tmp_path / f"junk{suffix}"
    junk.write_bytes(packed[:10] + b"\x00" * 50 + packed[60:])
    for path in (cut, junk):
        with pytest.raises(ValueError, match=f"{path.name}: corrupt or truncated compressed file"):
            Word2Vec(corpus_file=str(path), min_count=1, epochs=1, workers=1)


@pytest.mark.parametrize(
    "fn",
    [
        lambda c: _C.w2v_huffman(c),
        lambda c: _C.w2v_subsample_thresholds(c, 1e-3),
        lambda c: _C.w2v_negative_probabilities(c, 0.75),
    ],
)
def test_count_tables_refuse_what_is_not_a_vector_of_counts(fn):
    """A list or a 0-d array as the counts was read as an array (its length from whatever lay
    where an array's shape would be: 'invalid axis: 0 (ndim = -2038481232)' for a list)."""
    with pytest.raises(TypeError, match="counts: expected a 1-dimensional numpy array, got list"):
        fn([3, 2, 1])
    with pytest.raises(ValueError, match=r"counts: expected 1 dimension, got shape \(\)"):
        fn(np.array(3))
    with pytest.raises(TypeError, match="counts: expected dtype int64"):
        fn(np.array([3.0, 2.0]))


_VEC = np.array([1, 2], "<f4").tobytes()


@pytest.mark.parametrize(
    "name, body, binary, match",
    [
        ("v.txt", b"3 2\na 1 2\nb 3 4\n", False, "line 4: unexpected end of file after 2 of 3"),
        ("v.txt", b"2 2\n", False, "line 2: unexpected end of file after 0 of 2"),
        ("v.bin", b"3 2\na " + _VEC + b"b " + _VEC, True, "record 3 .*unexpected end of file"),
        ("v.bin", b"2 2\na " + _VEC + b"b " + _VEC[:5], True, "truncated vector for 'b'"),
        ("v.bin", b"2 2\na " + _VEC + b"bb", True, "record 2 .*unexpected end of file"),
        ("v.bin", b"2 2\n", True, "line 2: unexpected end of file after 0 of 2"),
        ("v.txt.gz", gzip.compress(b"2 2\na 1 2\nb 3 4\n")[:-10], False, "truncated compressed"),
        ("v.txt.bz2", bz2.compress(b"2 2\na 1 2\nb 3 4\n")[:-10], False, "truncated compressed"),
    ],
)
def test_a_file_that_ends_too_soon_is_an_eof_error_as_gensim(tmp_path, name, body, binary, match):
    gensim = pytest.importorskip("gensim")
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(EOFError):
        gensim.models.KeyedVectors.load_word2vec_format(path, binary=binary)
    with pytest.raises(EOFError, match=match) as caught:
        KeyedVectors.load_word2vec_format(path, binary=binary)
    assert isinstance(caught.value, Word2VecTruncatedError)
    assert isinstance(caught.value, Word2VecFormatError)


def test_a_text_file_cut_inside_its_last_line_is_an_eof_error(tmp_path):
    with pytest.raises(EOFError, match="line 3: expected a word and 2 numbers"):
        KeyedVectors.load_word2vec_format(_text_file(tmp_path, "2 2\na 1.5 2.5\nb 3.25"))
    with pytest.raises(Word2VecFormatError, match="line 3: expected a word and 2") as caught:
        KeyedVectors.load_word2vec_format(_text_file(tmp_path, "2 2\na 1.5 2.5\nb 3.25\n"))
    assert not isinstance(caught.value, EOFError)  # a whole line, just too short


@pytest.mark.parametrize(
    "body, binary, match",
    [
        (b"1 2\ncaf\xe9 1 2\n", False, "line 2: cannot decode the word"),
        (b"1 2\ncaf\xe9 " + _VEC, True, r"record 1 \(line 2, byte 4\): cannot decode the word"),
        (b"1\xe9 2\na 1 2\n", False, "line 1: expected a header.*does not decode"),
    ],
)
def test_a_word_that_does_not_decode_is_a_unicode_error_as_gensim(tmp_path, body, binary, match):
    import pickle

    gensim = pytest.importorskip("gensim")
    path = tmp_path / "v.bin"
    path.write_bytes(body)
    with pytest.raises(UnicodeDecodeError):
        gensim.models.KeyedVectors.load_word2vec_format(path, binary=binary)
    with pytest.raises(UnicodeDecodeError, match=match) as caught:
        KeyedVectors.load_word2vec_format(path, binary=binary)
    error = caught.value
    assert isinstance(error, Word2VecDecodeError) and isinstance(error, Word2VecFormatError)
    assert error.encoding == "utf-8" and error.object[error.start : error.end] == b"\xe9"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is Word2VecDecodeError and str(again) == str(error)


def test_an_fvocab_word_that_does_not_decode_is_a_unicode_error(tmp_path):
    kv = KeyedVectors(2)
    kv.add_vectors(["a"], np.ones((1, 2), np.float32))
    kv.save_word2vec_format(tmp_path / "v.txt")
    (tmp_path / "vocab.txt").write_bytes(b"a 5\ncaf\xe9 3\n")
    with pytest.raises(UnicodeDecodeError, match="vocab.txt: line 2: cannot decode the word"):
        KeyedVectors.load_word2vec_format(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")


def test_an_error_in_the_users_corpus_code_keeps_its_traceback():
    # build_vocab re-raised every TypeError from the corpus as a new one, without the frame of
    # the user's generator that raised it
    import traceback

    def corpus():
        for i in range(3):
            yield ["a", "b", str(len(i))]  # a bug of the user's: len(int)

    with pytest.raises(TypeError, match="has no len") as info:
        Word2Vec(min_count=1).build_vocab(corpus())
    assert "corpus" in [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]


def test_train_names_corpus_iterable_and_advises_str_keys():
    # train() said "sentences: ..." without the advice build_vocab gives
    model = Word2Vec(min_count=1, workers=1)
    model.build_vocab([["1", "2", "3"]] * 3)
    with pytest.raises(
        TypeError, match=r"^corpus_iterable: sentence 0, token 0: expected str.*map"
    ):
        model.train([[1, 2, 3]], total_examples=1, epochs=1)
