"""Dropout: zeroes each element with probability p in training and scales the rest by 1/(1-p)
(inverted dropout), drawing from its own seeded generator; the identity at inference. p=1 zeroes
everything (as torch.nn.Dropout(1.0))."""

from __future__ import annotations

import numpy as np

from fastrnn._params import dropout_mask, seeded_rng
from fastrnn.nn._checks import as_array, nonnegative_float
from fastrnn.nn.parameter_free import ParameterFree


class Dropout(ParameterFree):
    """torch.nn.Dropout(p) with a seeded numpy generator (`seed`). No parameters."""

    def __init__(self, p: float = 0.5, *, seed=None):
        super().__init__()
        self.p = nonnegative_float(p, "p")
        if self.p > 1.0:
            raise ValueError(f"p: expected a probability in [0, 1], got {self.p}")
        self._rng = seeded_rng(seed)

    def forward(self, x, training: bool = True):
        """x: any shape, float. Returns x with dropped elements (training) or x itself."""
        x = as_array(x, "x")
        if x.dtype not in (np.float32, np.float64):
            raise TypeError(f"x: expected dtype float32 or float64, got {x.dtype}")
        if not training or self.p == 0.0:
            self._set_thread_state((None, x.shape))
            return x
        mask = dropout_mask(self._rng, x.shape, self.p, x.dtype)
        self._set_thread_state((mask, x.shape))
        return x * mask

    def backward(self, dy):
        """dy: like forward's output -> dx."""
        saved = self._thread_state()
        if saved is None:
            raise RuntimeError("backward: call forward first (in this thread)")
        mask, shape = saved
        dy = as_array(dy, "dy")
        if dy.dtype not in (np.float32, np.float64):
            raise TypeError(f"dy: expected dtype float32 or float64, got {dy.dtype}")
        if dy.shape != shape:
            raise ValueError(f"dy: expected shape {shape}, got {dy.shape}")
        return dy if mask is None else dy * mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
