"""fastrnn.text: turn raw text into token ids for the recurrent layers.

`Vocabulary.build(texts)` counts the tokens of some texts and keeps the frequent ones; the
vocabulary then tokenizes (lower-casing, optional [NUM] and [URL] replacements), encodes text to
ids ([UNK] for words it does not know), decodes ids back to text, pads a batch of texts into one
id array with its lengths (the `lengths` argument of fastrnn's layers), and saves itself as JSON
(atomically) and loads back with checks.

Ids: [PAD] = 0, [UNK] = 1, then [NUM] and [URL] when those replacements are on, then the regular
tokens by count (descending), ties by the token's text, so the same texts always give the same ids.

Tokens: a URL (http://, https:// or www., in any case, up to the next space, without trailing
punctuation), a number (digits with optional . or , groups and an optional exponent: 3.14,
1,000, 1.5e3, 1e-3; not followed by a letter: "2.5mm" is [NUM] "." "5mm"), a word
(letters, digits, underscores and the combining marks that follow them, with inner apostrophes:
"don't", "हिन्दी"), or any other single non-space character.
"""

from __future__ import annotations

import collections
import functools
import json
import numbers
import os
import re
import sys
import unicodedata
from collections.abc import Iterable

import numpy as np

from fastrnn._atomic import atomic_write
from fastrnn.nn._checks import bool_flag

__all__ = ["NUM", "PAD", "UNK", "URL", "Vocabulary"]

PAD, UNK, NUM, URL = "[PAD]", "[UNK]", "[NUM]", "[URL]"
_FORMAT = "fastrnn.text.Vocabulary"
_VERSION = 1
_MAX_FILE_BYTES = 1 << 30  # load() refuses larger files instead of reading them into memory


def _char_class(code_points) -> str:
    """A regex class "[...]" of the given (sorted) code points, as runs of consecutive ones."""
    runs = []  # [first, last]
    for c in code_points:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "[" + "".join(rf"\U{a:08x}-\U{b:08x}" for a, b in runs) + "]"


@functools.cache
def _token_pattern() -> re.Pattern:
    """The tokenizer's regex, compiled on first use. Its words are \\w runs joined by the
    combining marks (Unicode category M: accents, vowel signs, viramas), which \\w lacks: without
    them "हिन्दी", a decomposed "café" or "İ".lower() fall apart into letters and marks. Listing
    the marks takes tens of milliseconds, hence not at import."""
    marks = [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M"]
    # The BMP class compiles to a bitmap; the astral one (a list of ranges, slow) is only tried
    # on an astral character.
    mark = (
        f"(?:{_char_class(c for c in marks if c <= 0xFFFF)}"
        f"|(?=[^\\x00-\\uffff]){_char_class(c for c in marks if c > 0xFFFF)})"
    )
    word = rf"\w+(?:{mark}+\w*)*"
    return re.compile(
        r"(?P<url>(?ai:https?://|www\.)\S*[^\s.,;:!?'\")\]}])"
        rf"|(?P<num>\d+(?:[.,]\d+)*(?:[eE][+-]?\d+)?(?!\w|{mark}))"
        rf"|(?P<word>{word}(?:['’]{word})*)"
        r"|(?P<punct>[^\w\s])"
    )


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a str, got {type(value).__name__}")
    return value


class Vocabulary:
    """Token <-> id mapping with a fixed tokenizer.

    Usually made by `Vocabulary.build(texts, ...)` or `Vocabulary.load(path)`. The constructor
    takes the regular tokens in id order (specials are added in front) and their counts.
    """

    def __init__(
        self,
        tokens: Iterable[str] = (),
        counts: Iterable[int] | None = None,
        *,
        lower: bool = True,
        replace_numbers: bool = False,
        replace_urls: bool = False,
    ):
        self.lower = bool_flag(lower, "lower")
        self.replace_numbers = bool_flag(replace_numbers, "replace_numbers")
        self.replace_urls = bool_flag(replace_urls, "replace_urls")
        if isinstance(tokens, str):
            raise TypeError("tokens: expected an iterable of str tokens, got a str")
        tokens = list(tokens)
        for i, token in enumerate(tokens):
            _text(token, f"tokens[{i}]")
            if not token or any(c.isspace() for c in token):
                raise ValueError(
                    f"tokens[{i}]: expected a non-empty token without spaces, got {token!r}"
                )
        specials = self.specials
        seen = set(specials)
        for i, token in enumerate(tokens):
            if token in seen:
                raise ValueError(f"tokens[{i}]: {token!r} appears twice (or is a special token)")
            seen.add(token)
        self.itos = specials + tokens
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if counts is None:
            self.counts = [0] * len(self.itos)
        else:
            counts = list(counts)
            if len(counts) != len(self.itos):
                raise ValueError(
                    f"counts: expected {len(self.itos)} counts (specials first), got {len(counts)}"
                )
            for i, c in enumerate(counts):
                if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0:
                    raise ValueError(f"counts[{i}]: expected an int >= 0, got {c!r}")
            self.counts = [int(c) for c in counts]

    # ---- building ----

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        min_count: int = 1,
        max_size: int | None = None,
        lower: bool = True,
        replace_numbers: bool = False,
        replace_urls: bool = False,
    ) -> Vocabulary:
        """Counts the tokens of `texts` (an iterable of str, read once) and keeps those seen at
        least `min_count` times, at most `max_size` entries in all (specials included), the most
        frequent first (ties by the token's text)."""
        if isinstance(min_count, bool) or not isinstance(min_count, numbers.Integral):
            raise TypeError(f"min_count: expected an int, got {type(min_count).__name__}")
        if min_count < 1:
            raise ValueError(f"min_count: expected an int >= 1, got {min_count}")
        vocab = cls(lower=lower, replace_numbers=replace_numbers, replace_urls=replace_urls)
        n_specials = len(vocab.itos)
        if max_size is not None:
            if isinstance(max_size, bool) or not isinstance(max_size, numbers.Integral):
                raise TypeError(f"max_size: expected an int or None, got {type(max_size).__name__}")
            if max_size < n_specials:
                raise ValueError(
                    f"max_size: expected at least {n_specials} (the special tokens "
                    f"{vocab.specials}), got {max_size}"
                )
        if isinstance(texts, str):
            raise TypeError("texts: expected an iterable of str, got a single str")
        counter = collections.Counter()
        for i, text in enumerate(texts):
            counter.update(vocab.tokenize(_text(text, f"texts[{i}]")))
        special_counts = [counter.pop(s, 0) for s in vocab.specials]
        kept = sorted(
            ((token, c) for token, c in counter.items() if c >= min_count),
            key=lambda tc: (-tc[1], tc[0]),
        )
        if max_size is not None:
            kept = kept[: max_size - n_specials]
        return cls(
            [t for t, _ in kept],
            special_counts + [c for _, c in kept],
            lower=vocab.lower,
            replace_numbers=vocab.replace_numbers,
            replace_urls=vocab.replace_urls,
        )

    @property
    def specials(self) -> list[str]:
        """The special tokens in id order: [PAD], [UNK], then [NUM] and [URL] when replacing."""
        return (
            [PAD, UNK]
            + ([NUM] if self.replace_numbers else [])
            + ([URL] if self.replace_urls else [])
        )

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._settings() == other._settings() and (self.itos, self.counts) == (
            other.itos,
            other.counts,
        )

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens, {self._settings()})"

    def _settings(self) -> dict:
        return {
            "lower": self.lower,
            "replace_numbers": self.replace_numbers,
            "replace_urls": self.replace_urls,
        }

    # ---- text <-> ids ----

    def tokenize(self, text: str) -> list[str]:
        """The tokens of `text` after lower-casing and the [NUM]/[URL] replacements that are on."""
        text = _text(text, "text")
        if self.lower:
            text = text.lower()
        tokens = []
        for m in _token_pattern().finditer(text):
            kind = m.lastgroup
            if kind == "url" and self.replace_urls:
                tokens.append(URL)
            elif kind == "num" and self.replace_numbers:
                tokens.append(NUM)
            else:
                tokens.append(m.group())
        return tokens

    def encode(self, text: str) -> np.ndarray:
        """ids [len(tokenize(text))] int64; tokens not in the vocabulary become [UNK] (1)."""
        stoi, unk = self.stoi, self.unk_id
        return np.array([stoi.get(t, unk) for t in self.tokenize(text)], dtype=np.int64)

    def decode(self, ids, *, skip_pad: bool = True) -> str:
        """The tokens of `ids` (a 1-D int sequence) joined by single spaces; [PAD] is left out
        unless skip_pad=False."""
        skip_pad = bool_flag(skip_pad, "skip_pad")
        ids = np.asarray(ids)
        if ids.ndim != 1:
            raise ValueError(f"ids: expected a 1-D sequence of ids, got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"ids: expected integer ids, got dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.itos)):
            bad = ids[(ids < 0) | (ids >= len(self.itos))][0]
            raise ValueError(f"ids: expected ids in [0, {len(self.itos)}), got {bad}")
        return " ".join(self.itos[i] for i in ids.tolist() if not (skip_pad and i == self.pad_id))

    def encode_batch(
        self, texts, *, batch_first: bool = False, max_length: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Encodes and pads a batch.

        texts: a sequence of N str (each with at least one token; `max_length` keeps only the
        first max_length tokens of each). Returns (ids [T, N] int64 ([N, T] with batch_first)
        padded with [PAD], lengths [N] int64), T = the longest length.
        """
        batch_first = bool_flag(batch_first, "batch_first")
        if isinstance(texts, str):
            raise TypeError("texts: expected a sequence of str, got a single str")
        texts = list(texts)
        if not texts:
            raise ValueError("texts: expected at least one text, got none")
        if max_length is not None:
            if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral):
                raise TypeError(f"max_length: expected an int or None, got {max_length!r}")
            if max_length < 1:
                raise ValueError(f"max_length: expected an int >= 1, got {max_length}")
        encoded = []
        for i, text in enumerate(texts):
            ids = self.encode(_text(text, f"texts[{i}]"))
            if ids.size == 0:
                raise ValueError(
                    f"texts[{i}]: expected at least one token (a sequence needs one step), "
                    f"got {text!r}"
                )
            encoded.append(ids[:max_length])
        lengths = np.array([len(ids) for ids in encoded], dtype=np.int64)
        out = np.full((len(encoded), int(lengths.max())), self.pad_id, dtype=np.int64)  # [N, T]
        for n, ids in enumerate(encoded):
            out[n, : len(ids)] = ids
        if not batch_first:
            out = np.ascontiguousarray(out.T)  # [T, N]
        return out, lengths

    # ---- files ----

    def save(self, path) -> None:
        """Writes the vocabulary as JSON, atomically (a temporary file in the same directory,
        then os.replace), so `path` holds either the old file or the whole new one."""
        path = os.fspath(path)
        payload = {"format": _FORMAT, "version": _VERSION, **self._settings()}
        payload["tokens"] = self.itos
        payload["counts"] = self.counts
        try:  # lone surrogates (text decoded with errors="surrogateescape") have no UTF-8 form:
            "".join(self.itos).encode("utf-8")  # such a vocabulary is written with \u escapes
            ascii_only = False
        except UnicodeEncodeError:
            ascii_only = True
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=ascii_only)

    @classmethod
    def load(cls, path) -> Vocabulary:
        """Reads a file written by `save`, checking every field (ValueError naming the file and
        the field when it is corrupt or not a vocabulary)."""
        path = os.fspath(path)
        size = os.path.getsize(path)
        if size > _MAX_FILE_BYTES:
            raise ValueError(f"{path}: {size} bytes, more than a vocabulary file may hold")
        with open(path, "rb") as f:  # bounded: getsize may be 0 (a device) or stale (growing)
            raw = f.read(_MAX_FILE_BYTES + 1)
        if len(raw) > _MAX_FILE_BYTES:
            raise ValueError(
                f"{path}: over {_MAX_FILE_BYTES} bytes, more than a vocabulary file may hold"
            )
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as e:  # bad UTF-8 or JSON, a number too long
            raise ValueError(f"{path}: not a vocabulary file (invalid UTF-8 JSON: {e})") from None
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a vocabulary file (no 'format': '{_FORMAT}')")
        if type(payload.get("version")) is not int or payload["version"] != _VERSION:
            raise ValueError(
                f"{path}: vocabulary file version {payload.get('version')!r}, expected {_VERSION}"
            )
        expected = {
            "format",
            "version",
            "lower",
            "replace_numbers",
            "replace_urls",
            "tokens",
            "counts",
        }
        if set(payload) != expected:
            raise ValueError(
                f"{path}: expected the fields {sorted(expected)}, got {sorted(payload)}"
            )
        for key in ("lower", "replace_numbers", "replace_urls"):
            if not isinstance(payload[key], bool):
                raise ValueError(f"{path}: '{key}' must be true or false, got {payload[key]!r}")
        tokens, counts = payload["tokens"], payload["counts"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError(f"{path}: 'tokens' must be a list of strings")
        if not isinstance(counts, list):
            raise ValueError(f"{path}: 'counts' must be a list of ints")
        settings = {k: payload[k] for k in ("lower", "replace_numbers", "replace_urls")}
        specials = cls(**settings).specials
        if tokens[: len(specials)] != specials:
            raise ValueError(
                f"{path}: 'tokens' must start with the special tokens {specials}, "
                f"got {tokens[: len(specials)]}"
            )
        try:
            return cls(tokens[len(specials) :], counts, **settings)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {e}") from None
