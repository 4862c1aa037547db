"""The word2vec file formats (word2vec.c's and gensim's, text and binary) and atomic file writing.

Text: a header line `V E`, then one line per word: the word and E numbers separated by spaces.
Binary: the same header, then per word its UTF-8 bytes, a space and E little-endian float32
(word2vec.c ends each record with a newline, gensim does not; both are read).
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np


class Word2VecFormatError(ValueError):
    """A malformed or truncated word2vec file; the message names the line (or record)."""


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Yields a temporary file beside `path` that replaces `path` only when the block succeeds."""
    path = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_word2vec(path, keys: list, vectors: np.ndarray, binary: bool = False) -> None:
    """Writes keys and vectors ([V, E]) in word2vec format, atomically."""
    vectors = np.asarray(vectors, dtype=np.float32)
    V, E = vectors.shape
    if len(keys) != V:
        raise ValueError(f"{len(keys)} keys for {V} vectors")
    for k in keys:
        if not isinstance(k, str) or not k or any(c.isspace() for c in k):
            raise ValueError(f"key {k!r}: word2vec files need non-empty keys without whitespace")
    with atomic_write(path) as f:
        f.write(f"{V} {E}\n".encode())
        if binary:
            little = vectors.astype("<f4", copy=False)
            for key, row in zip(keys, little, strict=True):
                f.write(key.encode("utf8") + b" " + row.tobytes() + b"\n")
        else:
            text = vectors.astype(str)  # shortest repr that reads back to the same float32
            for key, row in zip(keys, text, strict=True):
                f.write((key + " " + " ".join(row.tolist()) + "\n").encode("utf8"))


def _parse_header(line: bytes, path) -> tuple[int, int]:
    parts = line.split()
    try:
        if len(parts) != 2:
            raise ValueError
        V, E = int(parts[0]), int(parts[1])
    except ValueError:
        raise Word2VecFormatError(
            f"{path}: line 1: expected a header 'count vector_size', got {line[:80]!r}"
        ) from None
    if V < 0 or E < 1:
        raise Word2VecFormatError(f"{path}: line 1: bad header sizes {V} {E}")
    return V, E


def read_word2vec(
    path,
    binary: bool = False,
    limit: int | None = None,
    encoding: str = "utf8",
    unicode_errors: str = "strict",
    datatype=np.float32,
) -> tuple[list, np.ndarray]:
    """Reads a word2vec file: (keys, vectors [V, E]). `limit` reads only the first vectors."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit: expected None or >= 0, got {limit}")
    with open(path, "rb") as f:
        header = f.readline()
        if not header:
            raise Word2VecFormatError(f"{path}: line 1: empty file (expected a header)")
        V, E = _parse_header(header, path)
        n = V if limit is None else min(V, limit)
        vectors = np.empty((n, E), dtype=np.float32)
        keys: list = []
        if binary:
            _read_binary(f, len(header), n, E, vectors, keys, path, encoding, unicode_errors)
        else:
            _read_text(f, n, E, vectors, keys, path, encoding, unicode_errors)
    return keys, vectors.astype(datatype, copy=False)


def _decode(raw: bytes, where: Callable[[], str], encoding: str, errors: str) -> str:
    try:
        return raw.decode(encoding, errors=errors)
    except UnicodeDecodeError as e:
        raise Word2VecFormatError(f"{where()}: cannot decode the word: {e}") from None


def _read_text(f, n, E, vectors, keys, path, encoding, unicode_errors) -> None:
    for i in range(n):
        line_no = i + 2
        line = f.readline()
        if not line:
            raise Word2VecFormatError(
                f"{path}: line {line_no}: unexpected end of file after {i} of {n} vectors"
            )
        parts = line.rstrip().split(b" ")
        if len(parts) != E + 1:
            raise Word2VecFormatError(
                f"{path}: line {line_no}: expected a word and {E} numbers, got {len(parts) - 1} "
                f"fields (is this really the text format?)"
            )
        where = lambda n=line_no: f"{path}: line {n}"  # noqa: E731
        keys.append(_decode(parts[0], where, encoding, unicode_errors))
        try:
            vectors[i] = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise Word2VecFormatError(f"{path}: line {line_no}: malformed number") from None


def _read_binary(f, offset, n, E, vectors, keys, path, encoding, unicode_errors) -> None:
    size = os.fstat(f.fileno()).st_size
    if n == 0:
        return
    if size <= offset:
        raise Word2VecFormatError(f"{path}: line 2: unexpected end of file after 0 of {n} vectors")
    nbytes = 4 * E
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = offset
        for i in range(n):

            def where(i=i, pos=pos):
                return f"{path}: record {i + 1} (line {i + 2}, byte {pos})"

            while pos < size and buf[pos] == 0x0A:  # word2vec.c's newline after a vector
                pos += 1
            space = buf.find(b" ", pos, min(size, pos + 1_000_000))
            if space < 0:
                raise Word2VecFormatError(
                    f"{where()}: unexpected end of file after {i} of {n} vectors (no word)"
                )
            word = _decode(buf[pos:space], where, encoding, unicode_errors)
            if space + 1 + nbytes > size:
                raise Word2VecFormatError(
                    f"{where()}: truncated vector for {word!r}: "
                    f"{size - space - 1} of {nbytes} bytes"
                )
            keys.append(word)
            vectors[i] = np.frombuffer(buf, dtype="<f4", count=E, offset=space + 1)
            pos = space + 1 + nbytes
