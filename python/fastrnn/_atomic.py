"""Atomic file writing: every file fastrnn saves goes through atomic_write, so a crash, a kill or
an error mid-save leaves the previous file (or no file) at the path, never a partial one."""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    """The process's umask, read without changing it where /proc says it (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (briefly process-wide)
    os.umask(mask)
    return mask


def _plain_mode(path: Path) -> int:
    """The permissions the file would have if written in place: the existing file's, or those
    of a new file (0o666 less the umask) — not mkstemp's owner-only 0o600."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def replace_problem(path) -> str | None:
    """Why atomic_write must not rename a new file over `path` (symbolic links followed), or
    None: it exists as something other than a regular file or a directory (a device such as
    /dev/null, a FIFO, a socket), which the rename would replace with a regular file."""
    try:
        kind = os.stat(path).st_mode
    except OSError:  # absent, or unreadable: the write itself will say
        return None
    if stat.S_ISREG(kind) or stat.S_ISDIR(kind):
        return None
    return (
        "is not a regular file (a device, a pipe or a socket), which saving would replace with "
        "a regular file"
    )


@contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Yields a temporary file beside `path` (same directory, so os.replace is atomic) that
    replaces `path` only when the block succeeds; on an error the temporary file is removed. A
    process killed mid-write leaves the temporary file `.<name>.<random>.tmp` behind. The file
    gets the permissions of the one it replaces, or a new file's. A path through symbolic links
    writes the file they lead to (beside it), so a link stays a link. A path that exists as
    something other than a regular file or a directory (a device such as /dev/null, a FIFO, a
    socket) is a ValueError: the rename would replace it with a regular file."""
    path = Path(os.path.realpath(os.fspath(path)))
    problem = replace_problem(path)
    if problem:
        raise ValueError(f"{path}: {problem}; give a file path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _plain_mode(path))
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
