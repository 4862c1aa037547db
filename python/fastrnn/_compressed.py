"""Files compressed by their name, as gensim treats them: a path ending in .gz or .bz2 (in any
case) is read and written through gzip or bz2. Shared by the word2vec corpus readers and the
word2vec file formats, with one way to report a corrupt or truncated compressed file."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import os
import zlib


def compression(path):
    """The gzip or bz2 module for a path ending in .gz or .bz2 in any case (.GZ too, as gensim's
    smart_open), else None."""
    name = os.fspath(path).lower()
    return gzip if name.endswith(".gz") else bz2 if name.endswith(".bz2") else None


def open_read(path):
    """A binary file object for reading `path`, decompressing .gz and .bz2."""
    module = compression(path)
    return open(path, "rb") if module is None else module.open(path, "rb")


def open_text(path, encoding: str = "utf8"):
    """A text file object for reading `path` in `encoding`, decompressing .gz and .bz2."""
    module = compression(path)
    if module is None:
        return open(path, encoding=encoding)
    return module.open(path, "rt", encoding=encoding)


@contextlib.contextmanager
def naming_corruption(path, error: type[ValueError] = ValueError, truncated=None):
    """Turns the bare errors of a corrupt or truncated compressed file (zlib.error, EOFError,
    BadGzipFile, bz2's OSError) into `error` naming the file, or a truncated one's EOFError into
    `truncated` when given; a missing or unreadable file keeps its own error, and so does any
    error of an uncompressed one."""
    try:
        yield
    except (zlib.error, EOFError, OSError) as e:
        if compression(path) is None or isinstance(e, (FileNotFoundError, PermissionError)):
            raise
        kind = truncated if truncated is not None and isinstance(e, EOFError) else error
        raise kind(
            f"{os.fspath(path)}: corrupt or truncated compressed file ({type(e).__name__}: {e})"
        ) from e
