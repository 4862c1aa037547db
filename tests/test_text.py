"""fastrnn.text.Vocabulary: tokenizing, ids, padding, files and bad input."""

import json
import os

import fastrnn
import numpy as np
import pytest
from fastrnn.text import Vocabulary
from hypothesis import given, settings
from hypothesis import strategies as st

TEXTS = [
    "The cat sat on the mat.",
    "The dog sat on the log!",
    "A cat and a dog.",
]


def test_exported_as_fastrnn_text():
    assert fastrnn.text.Vocabulary is Vocabulary
    assert "text" in fastrnn.__all__


def test_build_orders_by_count_then_token_after_the_specials():
    v = Vocabulary.build(TEXTS)
    assert v.itos[:2] == ["[PAD]", "[UNK]"]
    assert v.pad_id == 0 and v.unk_id == 1
    # counts: the 3, . 2, a 2, cat 2, dog 2, on 2, sat 2, then the ones alphabetically
    assert v.itos[2:] == [
        "the",
        ".",
        "a",
        "cat",
        "dog",
        "on",
        "sat",
        "!",
        "and",
        "log",
        "mat",
    ]
    assert v.counts[v.stoi["the"]] == 4
    assert len(v) == 13


def test_build_is_deterministic_whatever_the_text_order():
    assert Vocabulary.build(TEXTS) == Vocabulary.build(TEXTS[::-1])


def test_min_count_and_max_size():
    v = Vocabulary.build(TEXTS, min_count=2)
    assert v.itos[2:] == ["the", ".", "a", "cat", "dog", "on", "sat"]
    v = Vocabulary.build(TEXTS, max_size=5)
    assert v.itos == ["[PAD]", "[UNK]", "the", ".", "a"]
    assert v.encode("the mat").tolist() == [2, 1]


def test_lower_casing_is_optional():
    assert Vocabulary.build(["Hello hello"]).tokenize("HeLLo") == ["hello"]
    v = Vocabulary.build(["Hello hello"], lower=False)
    assert v.itos[2:] == ["Hello", "hello"]
    assert v.encode("HELLO").tolist() == [v.unk_id]


def test_tokenizer_words_numbers_urls_and_punctuation():
    v = Vocabulary.build([])
    text = "Don't pay $3.50 for 4th-rate www.example.com/x?y=1, see https://a.b/c!"
    assert v.tokenize(text) == [
        "don't",
        "pay",
        "$",
        "3.50",
        "for",
        "4th",
        "-",
        "rate",
        "www.example.com/x?y=1",
        ",",
        "see",
        "https://a.b/c",
        "!",
    ]
    v = Vocabulary.build([], replace_numbers=True, replace_urls=True)
    assert v.specials == ["[PAD]", "[UNK]", "[NUM]", "[URL]"]
    assert v.tokenize(text) == [
        "don't",
        "pay",
        "$",
        "[NUM]",
        "for",
        "4th",
        "-",
        "rate",
        "[URL]",
        ",",
        "see",
        "[URL]",
        "!",
    ]
    assert v.encode("1,000 or 7 http://x").tolist() == [2, 1, 2, 3]


def test_special_tokens_in_the_text_are_not_specials():
    v = Vocabulary.build(["[PAD] [UNK]"])
    assert v.tokenize("[PAD]") == ["[", "pad", "]"]
    assert 0 not in v.encode("[PAD] [UNK]").tolist()


def test_encode_decode_round_trip_and_unknown_words():
    v = Vocabulary.build(TEXTS)
    ids = v.encode("The cat sat on the log.")
    assert ids.dtype == np.int64
    assert v.decode(ids) == "the cat sat on the log ."
    assert v.decode(v.encode("the zebra")) == "the [UNK]"
    assert v.decode([0, 2, 0], skip_pad=False) == "[PAD] the [PAD]"
    assert v.decode([0, 2, 0]) == "the"
    assert v.encode("").shape == (0,)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ019 .,'\n", max_size=40), min_size=1, max_size=5))
def test_decode_of_encode_is_the_joined_tokens(texts):
    v = Vocabulary.build(texts, replace_numbers=True)
    for text in texts:
        ids = v.encode(text)
        assert v.decode(ids) == " ".join(v.tokenize(text))
        assert v.unk_id not in ids.tolist()


def test_encode_batch_pads_time_major_and_batch_first():
    v = Vocabulary.build(TEXTS)
    ids, lengths = v.encode_batch(["the cat", "a dog sat on the mat", "log"])
    assert ids.shape == (6, 3) and ids.dtype == np.int64
    assert lengths.tolist() == [2, 6, 1] and lengths.dtype == np.int64
    assert ids[:, 1].tolist() == v.encode("a dog sat on the mat").tolist()
    assert ids[2:, 0].tolist() == [0] * 4 and ids[1:, 2].tolist() == [0] * 5
    bf, bf_lengths = v.encode_batch(["the cat", "a dog sat on the mat", "log"], batch_first=True)
    np.testing.assert_array_equal(bf, ids.T)
    np.testing.assert_array_equal(bf_lengths, lengths)
    assert bf.flags.c_contiguous and ids.flags.c_contiguous
    cut, cut_lengths = v.encode_batch(["a dog sat on the mat", "log"], max_length=3)
    assert cut.shape == (3, 2) and cut_lengths.tolist() == [3, 1]


def test_encode_batch_feeds_a_layer_with_lengths():
    v = Vocabulary.build(TEXTS)
    ids, lengths = v.encode_batch(TEXTS)
    emb = np.random.default_rng(0).standard_normal((len(v), 4)).astype(np.float32)
    y, h = fastrnn.GRU(4, 3, seed=0).forward(emb[ids], lengths=lengths)
    assert y.shape == (ids.shape[0], 3, 3) and h.shape == (1, 3, 3)


def test_save_load_round_trip(tmp_path):
    v = Vocabulary.build(TEXTS + ["x 12 http://u.v"], replace_numbers=True, replace_urls=True)
    path = tmp_path / "vocab.json"
    v.save(path)
    w = Vocabulary.load(path)
    assert w == v and w.itos == v.itos and w.counts == v.counts
    assert w.tokenize("9 www.q") == ["[NUM]", "[URL]"]
    assert os.listdir(tmp_path) == ["vocab.json"]


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "vocab.json"
    Vocabulary.build(["old"]).save(path)
    before = path.read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        Vocabulary.build(["new"]).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["vocab.json"]


def _write(tmp_path, payload):
    path = tmp_path / "v.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


GOOD = {
    "format": "fastrnn.text.Vocabulary",
    "version": 1,
    "lower": True,
    "replace_numbers": False,
    "replace_urls": False,
    "tokens": ["[PAD]", "[UNK]", "a"],
    "counts": [0, 0, 3],
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("{not json", "invalid UTF-8 JSON"),
        ("[" * 100000 + "]" * 100000, "invalid UTF-8 JSON|not a vocabulary"),
        ([1, 2], "not a vocabulary file"),
        ({"format": "other"}, "not a vocabulary file"),
        ({"version": 99}, "version 99"),
        ({"extra": 1}, "expected the fields"),
        ({"lower": "yes"}, "'lower' must be true or false"),
        ({"tokens": "abc"}, "'tokens' must be a list of strings"),
        ({"tokens": ["[PAD]", "[UNK]", 5]}, "'tokens' must be a list of strings"),
        ({"tokens": ["[UNK]", "[PAD]", "a"]}, "must start with the special tokens"),
        ({"replace_numbers": True}, "must start with the special tokens"),
        ({"tokens": ["[PAD]", "[UNK]", "a", "a"], "counts": [0, 0, 1, 1]}, "appears twice"),
        ({"tokens": ["[PAD]", "[UNK]", "a b"]}, "without spaces"),
        ({"tokens": ["[PAD]", "[UNK]", ""]}, "without spaces"),
        ({"counts": [0, 0]}, "expected 3 counts"),
        ({"counts": [0, 0, -1]}, r"counts\[2\]"),
        ({"counts": [0, 0, 1.5]}, r"counts\[2\]"),
        ({"counts": {"a": 1}}, "'counts' must be a list"),
    ],
)
def test_load_rejects_corrupt_or_hostile_files(tmp_path, change, message):
    payload = change if not isinstance(change, dict) else {**GOOD, **change}
    path = _write(tmp_path, payload)
    with pytest.raises(ValueError, match=message) as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


def test_load_rejects_a_number_too_long_for_python(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"format": 1' + "0" * 5000 + "}")
    with pytest.raises(ValueError, match="invalid UTF-8 JSON") as info:
        Vocabulary.load(path)
    assert str(path) in str(info.value)


def test_load_rejects_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "v.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ValueError, match="invalid UTF-8 JSON"):
        Vocabulary.load(path)


def test_load_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Vocabulary.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: Vocabulary.build("one string"), TypeError, "texts: expected an iterable"),
        (lambda: Vocabulary.build(["ok", 3]), TypeError, r"texts\[1\]: expected a str"),
        (
            lambda: Vocabulary.build(["a"], min_count=0),
            ValueError,
            "min_count: expected an int >= 1",
        ),
        (lambda: Vocabulary.build(["a"], min_count=1.5), TypeError, "min_count: expected an int"),
        (lambda: Vocabulary.build(["a"], max_size=1), ValueError, "max_size: expected at least 2"),
        (
            lambda: Vocabulary.build(["a"], max_size=3, replace_urls=True, replace_numbers=True),
            ValueError,
            "max_size: expected at least 4",
        ),
        (lambda: Vocabulary.build(["a"], lower="no"), TypeError, "lower: expected a bool"),
        (lambda: Vocabulary(["a", "a"]), ValueError, "appears twice"),
        (lambda: Vocabulary(["[UNK]"]), ValueError, "appears twice"),
        (lambda: Vocabulary.build(["a"]).tokenize(b"a"), TypeError, "text: expected a str"),
        (lambda: Vocabulary.build(["a"]).decode([[2]]), ValueError, "ids: expected a 1-D"),
        (lambda: Vocabulary.build(["a"]).decode([2.0]), TypeError, "ids: expected integer ids"),
        (lambda: Vocabulary.build(["a"]).decode([3]), ValueError, r"ids in \[0, 3\), got 3"),
        (lambda: Vocabulary.build(["a"]).decode([-1]), ValueError, "got -1"),
        (lambda: Vocabulary.build(["a"]).encode_batch("a"), TypeError, "texts: expected a seq"),
        (lambda: Vocabulary.build(["a"]).encode_batch([]), ValueError, "at least one text"),
        (lambda: Vocabulary.build(["a"]).encode_batch(["a", " "]), ValueError, r"texts\[1\]"),
        (lambda: Vocabulary.build(["a"]).encode_batch([None]), TypeError, r"texts\[0\]"),
        (
            lambda: Vocabulary.build(["a"]).encode_batch(["a"], max_length=0),
            ValueError,
            "max_length: expected an int >= 1",
        ),
    ],
)
def test_bad_input_gets_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("1.5e3 apples", ["[NUM]", "apples"]),  # was [NUM] . 5e3
        ("1e-3", ["[NUM]"]),  # was 1e - [NUM]
        ("2.5E+10.", ["[NUM]", "."]),
        ("x=1.5,y=2", ["x", "=", "[NUM]", ",", "y", "=", "[NUM]"]),
        ("1.5e3x", ["[NUM]", ".", "5e3x"]),  # as "2.5mm" has always been: [NUM] . 5mm
        ("3rd 5e 1,000", ["3rd", "5e", "[NUM]"]),
    ],
)
def test_numbers_with_an_exponent_are_one_number(text, tokens):
    vocab = Vocabulary(replace_numbers=True, lower=False)
    assert vocab.tokenize(text) == tokens
