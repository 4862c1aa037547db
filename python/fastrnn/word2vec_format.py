"""The word2vec file formats (word2vec.c's and gensim's, text and binary), plain or compressed
(a path ending in .gz or .bz2, in any case, is read and written through gzip or bz2, as gensim
does).

Text: a header line `V E`, then one line per word: the word and E numbers separated by spaces.
The numbers are written as str() writes them in the vectors' dtype (float16, float32 or float64:
a float64 table keeps all its digits, as gensim's).
Binary: the same header, then per word its UTF-8 bytes, a space and E little-endian float32
(word2vec.c ends each record with a newline, gensim does not; both are read).

Reading trusts nothing in the file: the header's counts are checked against the file's size
before anything is allocated, every record is bounds-checked, and a malformed, truncated or
non-finite entry raises Word2VecFormatError (a ValueError) naming the line or record; a file
that ends too soon raises its subclass Word2VecTruncatedError, also an EOFError, and a word that
does not decode Word2VecDecodeError, also a UnicodeDecodeError (the errors gensim raises). A text
file cut inside its last number still parses, so a text file whose last vector lacks the newline
that word2vec.c and gensim write after every line loads with a Word2VecFormatWarning naming it.
A word that appears twice keeps its first vector, with a Word2VecFormatWarning (as gensim).

Text files without the header line (GloVe's format) are read with no_header=True: the vector size
is the first line's count of numbers and the word count the file's count of lines.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import mmap
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from fastrnn._atomic import atomic_write
from fastrnn._compressed import compression, naming_corruption, open_read
from fastrnn.nn._checks import int_at_least


class Word2VecFormatError(ValueError):
    """A malformed or truncated word2vec file; the message names the line (or record)."""


class Word2VecTruncatedError(Word2VecFormatError, EOFError):
    """A word2vec file that ends before the vectors its header announces, or inside one; also an
    EOFError, as gensim raises for it."""


class Word2VecDecodeError(Word2VecFormatError, UnicodeDecodeError):
    """A word (or header) that does not decode in the given encoding; also the UnicodeDecodeError
    gensim raises (its encoding, object, start, end and reason are the decoder's), with a message
    naming the line or record."""

    def __init__(self, message: str, cause: UnicodeDecodeError):
        UnicodeDecodeError.__init__(
            self, cause.encoding, cause.object, cause.start, cause.end, cause.reason
        )
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # (pickled as the two arguments __init__ takes, not the decoder's five)
        cause = UnicodeDecodeError(self.encoding, self.object, self.start, self.end, self.reason)
        return type(self), (self.message, cause)


class Word2VecFormatWarning(UserWarning):
    """A word2vec file that loads but may have been cut short."""


# What a key cannot hold: the word2vec formats end a word at a space and a line at a newline, and
# the -save-vocab readers (fastrnn's, gensim's, word2vec.c's) split on tabs and \r too. Any other
# character, Unicode whitespace included (fastText's .vec files hold words with U+00A0, U+3000),
# reads back as written.
_SEPARATORS = frozenset(" \t\n\r")

# The numbers save_word2vec_format converts to text at a time (2 MiB as numpy str).
_TEXT_BLOCK = 1 << 14


def write_word2vec(
    path,
    keys: list,
    vectors: np.ndarray,
    binary: bool = False,
    *,
    header_count: int | None = None,
    write_header: bool = True,
    append: bool = False,
) -> None:
    """Writes keys and vectors ([V, E]) in word2vec format, atomically. The header line says
    `header_count` vectors (default V) or is left out (write_header=False, GloVe's format);
    append=True adds to the end of an existing file (through a copy: still atomic)."""
    given = np.asarray(vectors)
    # as gensim: text holds each number as str() of it in the vectors' own float dtype (all of a
    # float64's digits), binary holds float32
    kept = not binary and given.dtype in (np.float16, np.float32, np.float64)
    with np.errstate(over="ignore"):
        vectors = given if kept else given.astype(np.float32, copy=False)
    V, E = vectors.shape
    if len(keys) != V:
        raise ValueError(f"{len(keys)} keys for {V} vectors")
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        what = (
            "NaN or Inf" if not np.isfinite(given[bad[0]]).all() else "values past float32's range"
        )
        raise ValueError(
            f"vectors: row {bad[0]} ({keys[bad[0]]!r}) holds {what}; word2vec files hold "
            f"finite {vectors.dtype} numbers (and fastrnn refuses to read others)"
        )
    for k in keys:
        if not isinstance(k, str) or not k or any(c in _SEPARATORS for c in k):
            raise ValueError(
                f"key {k!r}: word2vec files need non-empty keys without the whitespace that "
                "separates their fields and lines (space, tab, \\n, \\r; other whitespace, such "
                "as the no-break spaces of fastText's .vec files, is kept)"
            )
    with atomic_write(path) as raw:
        if append:
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as old:
                shutil.copyfileobj(old, raw, 1 << 20)
        # appending to a compressed file adds a gzip member or bz2 stream: readers join them
        with _compressing(raw, path) as f:
            if write_header:
                f.write(f"{V if header_count is None else header_count} {E}\n".encode())
            if binary:
                little = vectors.astype("<f4", copy=False)
                for key, row in zip(keys, little, strict=True):
                    f.write(key.encode("utf8") + b" " + row.tobytes() + b"\n")
            else:
                # the shortest repr that reads back to the same number of the vectors' dtype
                # (gensim's str() of each), a block of rows at a time: as str each number takes
                # 128 bytes (32x a float32), so the whole table at once needed 32x its size
                rows = max(1, _TEXT_BLOCK // max(E, 1))
                for start in range(0, V, rows):
                    text = vectors[start : start + rows].astype(str)
                    for key, row in zip(keys[start : start + rows], text, strict=True):
                        f.write((key + " " + " ".join(row.tolist()) + "\n").encode("utf8"))


@contextlib.contextmanager
def vocab_counts_written(path, keys: list, counts: np.ndarray, append: bool = False):
    """Writes word2vec.c's -save-vocab file: a line `word count` per key ([V] counts),
    atomically, compressed when the path ends in .gz or .bz2 (as gensim); append=True adds to
    the end of an existing file (through a copy). The file replaces `path` when the with-block
    succeeds too: a save of two files writes the other in the block, so an error in either
    changes neither."""
    with atomic_write(path) as raw:
        if append:
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as old:
                shutil.copyfileobj(old, raw, 1 << 20)
        with _compressing(raw, path) as f:
            for key, count in zip(keys, counts.tolist(), strict=True):
                f.write(f"{key} {count}\n".encode())
        yield


def read_vocab_counts(path, encoding: str = "utf8", unicode_errors: str = "strict") -> dict:
    """Reads a -save-vocab file (plain, .gz or .bz2): {word: count}; a malformed line is a
    ValueError naming it."""
    counts = {}
    with _naming_corruption(path), open_read(path) as f:
        for line_no, raw in enumerate(f, 1):
            line = _decode(raw, lambda n=line_no: f"{path}: line {n}", encoding, unicode_errors)
            # spaces or tabs between and around the two; other whitespace, such as a no-break
            # space, belongs to the word: save_word2vec_format writes such words (gensim splits
            # on any whitespace, so cannot read back its own fvocab of them)
            fields = line.strip(" \t\r\n")
            gap = max(fields.rfind(" "), fields.rfind("\t"))
            word, count = fields[:gap].rstrip(" \t"), fields[gap + 1 :]
            if gap < 0 or not word or " " in word or "\t" in word or not count.isdecimal():
                raise ValueError(
                    f"{path}: line {line_no}: expected 'word count', got {line[:80]!r}"
                )
            counts[word] = int(count)
    return counts


def _naming_corruption(path):
    """A corrupt compressed file as a Word2VecFormatError, a truncated one (EOFError) as a
    Word2VecTruncatedError."""
    return naming_corruption(path, Word2VecFormatError, truncated=Word2VecTruncatedError)


def _parse_header(line: bytes, path, encoding: str) -> tuple[int, int]:
    parts = line.split()
    try:
        if len(parts) != 2:
            raise ValueError
        V, E = int(parts[0]), int(parts[1])
    except ValueError:
        where = f"{path}: line 1: expected a header 'count vector_size', got {line[:80]!r}"
        try:  # as gensim: a header that does not decode is a UnicodeDecodeError
            line.decode(encoding)
        except UnicodeDecodeError as e:
            raise Word2VecDecodeError(f"{where} (it does not decode: {e})", e) from None
        raise Word2VecFormatError(where) from None
    if V < 0 or E < 1:
        raise Word2VecFormatError(f"{path}: line 1: bad header sizes {V} {E}")
    return V, E


@contextlib.contextmanager
def _compressing(raw, path):
    """`raw` (a binary file), compressed on the way when `path` asks for it."""
    module = compression(path)
    if module is None:
        yield raw
    elif module is gzip:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            yield f
    else:
        with bz2.BZ2File(raw, "wb") as f:
            yield f


@contextlib.contextmanager
def _opened(path):
    """The file at `path` for reading; a compressed one is decompressed into a temporary file
    first (the readers check records against the file's size and map binary files)."""
    if compression(path) is None:
        with open(path, "rb") as f:
            yield f
        return
    with tempfile.TemporaryFile() as f:
        with _naming_corruption(path), open_read(path) as packed:
            shutil.copyfileobj(packed, f, 1 << 20)
        f.seek(0)
        yield f


# The longest header line read (two decimal numbers and a newline need far less).
_MAX_HEADER = 1024


class Word2VecTable(NamedTuple):
    """What read_word2vec returns: the keys, their vectors [V, E] and the number of records read
    (more than V when a repeated word was dropped)."""

    keys: list
    vectors: np.ndarray
    records: int


def read_word2vec(
    path,
    binary: bool = False,
    limit: int | None = None,
    encoding: str = "utf8",
    unicode_errors: str = "strict",
    datatype=np.float32,
    no_header: bool = False,
    only=None,
    vector_size: int | None = None,
) -> Word2VecTable:
    """Reads a word2vec file. `limit` reads only the first vectors (None or 0: all, as gensim).
    A repeated word keeps its first vector (with a warning). With `only` (a set or dict of
    words) just those words are kept, each with its last record (KeyedVectors'
    intersect_word2vec_format, as gensim's): memory for them alone, whatever the file's size.
    With `vector_size`, a file of other vectors is refused right after its header. `datatype`
    is the vectors' dtype: a text file's numbers are parsed once into it, a binary file's float32
    values converted (as gensim)."""
    if limit is not None:
        limit = int_at_least(limit, "limit", 0) or None
    if no_header and binary:
        raise NotImplementedError(
            "no_header=True reads text files only: a binary file's vector size cannot be told "
            "without its header (as gensim)"
        )
    with _opened(path) as f:
        size = os.fstat(f.fileno()).st_size
        if no_header:
            V, E = _text_sizes(f, path, enough=limit)
            header, first_line = b"", 1
            f.seek(0)
        else:
            header = f.readline(_MAX_HEADER)
            if not header:
                raise Word2VecFormatError(f"{path}: line 1: empty file (expected a header)")
            if not header.endswith(b"\n") and len(header) == _MAX_HEADER:
                raise Word2VecFormatError(f"{path}: line 1: no header line 'count vector_size'")
            V, E = _parse_header(header, path, encoding)
            first_line = 2
        if vector_size is not None and E != vector_size:
            raise ValueError(f"{path}: vectors of size {E}, this table's are {vector_size}")
        n = V if limit is None else min(V, limit)
        # The smallest record is a 1-byte word, a space and E floats (binary) or E one-digit
        # numbers each after a space (text), so the file holds at most `fits` records: the array
        # is never larger than that, whatever the header claims (reading stops with an error at
        # the first record the file lacks).
        fits = (size - len(header)) // (4 * E + 2 if binary else 2 * E + 1)
        capacity = min(n, fits) if only is None else min(n, fits, len(only))
        rows = _Rows(capacity, E, only, datatype)
        if binary:
            _read_binary(f, len(header), n, E, rows, path, encoding, unicode_errors)
        else:
            _read_text(f, n, E, fits, rows, path, encoding, unicode_errors, first_line)
    keys, vectors = rows.keys, rows.vectors[: len(rows.keys)]
    if only is None:
        keys, vectors = _first_of_each_word(keys, vectors, path)
    return Word2VecTable(keys, vectors.astype(datatype, copy=False), n)


class _Rows:
    """Where a reader puts the records: every record in order (only=None), or just the words in
    `only`, each in one row that its later records overwrite. vectors: [capacity, E]."""

    def __init__(self, capacity: int, E: int, only, dtype=np.float32):
        self.vectors = np.empty((capacity, E), dtype=dtype)
        self.keys: list = []
        self.only = only
        self.row_of: dict = {}

    def slot(self, word: str) -> int | None:
        """The row for this record of `word`, or None to skip it."""
        if self.only is None:
            self.keys.append(word)
            return len(self.keys) - 1
        if word not in self.only:
            return None
        row = self.row_of.get(word)
        if row is None:
            row = self.row_of[word] = len(self.keys)
            self.keys.append(word)
        return row


def _text_sizes(f, path, enough: int | None = None) -> tuple[int, int]:
    """(lines, numbers on the first line) of a text file without a header; with `enough`, the
    count may stop once it reaches that many lines (all a limit reads)."""
    first = f.readline()
    if not first.strip():
        raise Word2VecFormatError(f"{path}: line 1: expected a word and its vector, got {first!r}")
    E = len(first.rstrip().split(b" ")) - 1
    if E < 1:
        raise Word2VecFormatError(f"{path}: line 1: a word without numbers: {first[:80]!r}")
    lines, last = 1, b"\n"
    while (enough is None or lines < enough) and (chunk := f.read(1 << 20)):
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    if first.endswith(b"\n") and last != b"\n":
        lines += 1  # a last line without its newline
    return lines, E


def _first_of_each_word(keys: list, vectors: np.ndarray, path) -> tuple[list, np.ndarray]:
    """Drops the later vectors of a repeated word, with a warning (gensim keeps the first)."""
    if len(set(keys)) == len(keys):
        return keys, vectors
    first: dict = {}
    repeats = [i for i, k in enumerate(keys) if first.setdefault(k, i) != i]
    warnings.warn(
        f"{path}: {len(repeats)} repeated word(s) (the first: {keys[repeats[0]]!r} in vector "
        f"{repeats[0] + 1}, already in vector {first[keys[repeats[0]]] + 1}); each keeps its first "
        "vector, as gensim",
        Word2VecFormatWarning,
        stacklevel=4,  # the caller of KeyedVectors.load_word2vec_format
    )
    keep = np.ones(len(keys), dtype=bool)
    keep[repeats] = False
    return [k for k, kept in zip(keys, keep, strict=True) if kept], vectors[keep]


def _decode(raw: bytes, where: Callable[[], str], encoding: str, errors: str) -> str:
    try:
        return raw.decode(encoding, errors=errors)
    except UnicodeDecodeError as e:
        raise Word2VecDecodeError(f"{where()}: cannot decode the word: {e}", e) from None


def _read_text(f, n, E, fits, rows, path, encoding, unicode_errors, first_line) -> None:
    for i in range(n):
        line_no = i + first_line
        line = f.readline()
        if not line or i == fits:
            raise Word2VecTruncatedError(
                f"{path}: line {line_no}: unexpected end of file after {i} of {n} vectors"
            )
        parts = line.rstrip().split(b" ")
        if len(parts) != E + 1:
            cut = len(parts) < E + 1 and not line.endswith(b"\n")  # the file ends inside it
            raise (Word2VecTruncatedError if cut else Word2VecFormatError)(
                f"{path}: line {line_no}: expected a word and {E} numbers, got {len(parts) - 1} "
                f"fields (is this really the text format?)"
            )
        where = lambda n=line_no: f"{path}: line {n}"  # noqa: E731
        if not parts[0]:
            raise Word2VecFormatError(f"{where()}: empty word")
        word = _decode(parts[0], where, encoding, unicode_errors)
        try:  # as gensim: each number parsed once into the table's dtype (float32 by default)
            with np.errstate(over="ignore"):  # (past the dtype's range: named below)
                vector = np.array(parts[1:], dtype=_parsed_dtype(rows.vectors.dtype))
                vector = vector.astype(rows.vectors.dtype, copy=False)
        except ValueError:
            raise Word2VecFormatError(f"{path}: line {line_no}: malformed number") from None
        _check_finite(vector, where, parts[1:])
        row = rows.slot(word)
        if row is not None:
            rows.vectors[row] = vector
        if not line.endswith(b"\n"):
            warnings.warn(
                f"{path}: line {line_no}: the file ends without a newline after this vector; if "
                "it was cut short, the vector's last number may be cut too",
                Word2VecFormatWarning,
                stacklevel=4,  # the caller of KeyedVectors.load_word2vec_format
            )


def _read_binary(f, offset, n, E, rows, path, encoding, unicode_errors) -> None:
    size = os.fstat(f.fileno()).st_size
    if n == 0:
        return
    if size <= offset:
        raise Word2VecTruncatedError(
            f"{path}: line 2: unexpected end of file after 0 of {n} vectors"
        )
    nbytes = 4 * E
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = offset
        for i in range(n):

            def where(i=i, pos=pos):
                return f"{path}: record {i + 1} (line {i + 2}, byte {pos})"

            while pos < size and buf[pos] == 0x0A:  # word2vec.c's newline after a vector
                pos += 1
            end = min(size, pos + 1_000_000)
            space = buf.find(b" ", pos, end)
            if space < 0:
                raise (Word2VecTruncatedError if end == size else Word2VecFormatError)(
                    f"{where()}: unexpected end of file after {i} of {n} vectors (no word)"
                )
            word = _decode(buf[pos:space], where, encoding, unicode_errors)
            if space + 1 + nbytes > size:
                raise Word2VecTruncatedError(
                    f"{where()}: truncated vector for {word!r}: "
                    f"{size - space - 1} of {nbytes} bytes"
                )
            if not word:
                raise Word2VecFormatError(f"{where()}: empty word")
            row = rows.slot(word)
            if row is not None:
                # a copy (not a view that would keep the map open), checked before any cast
                vector = np.frombuffer(buf, dtype="<f4", count=E, offset=space + 1).copy()
                _check_finite(vector, where)
                with np.errstate(over="ignore"):  # (past float16's range: named below)
                    cast = vector.astype(rows.vectors.dtype, copy=False)
                _check_finite(cast, where, vector)
                rows.vectors[row] = cast
            pos = space + 1 + nbytes


def _parsed_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a text file's numbers are parsed into for a table of `dtype`: float32 for
    float32, else float64 (cast to `dtype` once: gensim's datatype(x) rounds once, a float32
    parse first would round float16's twice and cut float64's digits)."""
    return dtype if dtype == np.float32 else np.dtype(np.float64)


def _check_finite(row: np.ndarray, where: Callable[[], str], read=None) -> None:
    """Refuses a vector with a NaN or an Inf; `read` (its numbers as read: text or float32),
    when given, tells a number past `row`'s dtype's range from one that is not finite."""
    if np.isfinite(row).all():
        return
    with np.errstate(over="ignore"):
        finite = read is not None and np.isfinite(np.asarray(read, dtype=np.float64)).all()
    if finite:
        raise Word2VecFormatError(
            f"{where()}: a number past {row.dtype}'s range (largest {np.finfo(row.dtype).max:g}); "
            "load with a wider datatype (datatype=np.float64)"
        )
    raise Word2VecFormatError(f"{where()}: NaN or Inf in the vector")
