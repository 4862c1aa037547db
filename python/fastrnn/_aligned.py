"""Arrays whose data starts on a 64-byte boundary (a cache line, one AVX-512 vector), for the
parameters and gradients fastrnn allocates (made or loaded; a copy or an unpickled object keeps
numpy's placement, so that arrays objects share stay shared). numpy aligns only to 16 bytes, and
the step kernel reads the weights in place, a vector at a time: on rows that start mid-line each
load spans two lines (a one-row LSTM step at H = 256 took 1.3-1.4x the time). On AVX-512 the
kernel reads long rows on the line boundaries all the same (csrc/cpu/rnn_step.inc), but not short
ones (up to 1.3x at H = 64) nor on AVX2 (bench/BENCHMARKS.md, "Twenty-third session"). Results do
not depend on where an array starts; only the speed does."""

from __future__ import annotations

import numpy as np

ALIGNMENT = 64  # bytes


def aligned_empty(shape, dtype, offset: int = 0) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype` starting on a 64-byte boundary
    (a view into a slightly larger byte buffer), or `offset` bytes (0-63) past one: the tests
    and bench/step_paths.py place arrays mid-line so."""
    if not 0 <= offset < ALIGNMENT:
        raise ValueError(f"offset: expected 0-{ALIGNMENT - 1} bytes, got {offset}")
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + 2 * ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT + offset
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def aligned_copy(a, dtype=None, offset: int = 0) -> np.ndarray:
    """A C-contiguous copy of array `a`, cast to `dtype` (default: a's), starting on a 64-byte
    boundary (or `offset` bytes past one, as aligned_empty)."""
    a = np.asarray(a)
    out = aligned_empty(a.shape, a.dtype if dtype is None else dtype, offset)
    np.copyto(out, a, casting="unsafe")
    return out


def aligned_zeros_like(a: np.ndarray) -> np.ndarray:
    """Zeros of a's shape and dtype, 64-byte aligned."""
    out = aligned_empty(a.shape, a.dtype)
    out.fill(0)
    return out
