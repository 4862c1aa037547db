"""Atomic file writing: every file fastrnn saves goes through atomic_write, so a crash, a kill or
an error mid-save leaves the previous file (or no file) at the path, never a partial one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Yields a temporary file beside `path` (same directory, so os.replace is atomic) that
    replaces `path` only when the block succeeds; on an error the temporary file is removed. A
    process killed mid-write leaves the temporary file `.<name>.<random>.tmp` behind."""
    path = Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
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
