"""Word2Vec, KeyedVectors and the word2vec file readers reject bad input with clear errors:
empty corpora, a vocabulary emptied by min_count, unknown words (KeyError naming them),
non-string tokens, non-positive sizes, negative=0, malformed or truncated files (naming the
line), and leave nothing half-written on disk."""

import numpy as np
import pytest
from fastrnn import KeyedVectors, Word2Vec
from fastrnn.word2vec_format import Word2VecFormatError

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
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Word2Vec(CORPUS, min_count=1, **kwargs)


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


def test_generators_are_refused():
    with pytest.raises(TypeError, match="generator"):
        Word2Vec((s for s in CORPUS), min_count=1)


def test_hierarchical_softmax_is_refused():
    with pytest.raises(ValueError, match="hs=1"):
        Word2Vec(CORPUS, min_count=1, hs=1)
    assert Word2Vec(CORPUS, min_count=1, hs=0, epochs=1).hs == 0


def test_corpus_file_must_be_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        Word2Vec(corpus_file=str(path), min_count=1)
