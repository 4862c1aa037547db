"""Linear: y = x W^T + b over every leading position at once (one GEMM over all T·N rows, in C++
on fastrnn's own threads, GIL released), with torch.nn.Linear's parameter names, shapes and
initialisation."""

from __future__ import annotations

import numpy as np

from fastrnn import _C
from fastrnn._params import seeded_rng
from fastrnn.nn._checks import bool_flag, float_array, float_dtype, positive_int
from fastrnn.nn.module import Module


class Linear(Module):
    """torch.nn.Linear(in_features, out_features, bias): weight [out, in], bias [out], both
    uniform in [-1/sqrt(in), 1/sqrt(in)] drawn from `seed`."""

    def __init__(self, in_features, out_features, bias=True, *, dtype=np.float32, seed=None):
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")
        self.dtype = float_dtype(dtype)
        rng = seeded_rng(seed)
        bound = 1.0 / np.sqrt(self.in_features)
        self.params = {
            "weight": rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(
                self.dtype
            )
        }
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, self.out_features).astype(self.dtype)
        self.grads = self._new_grads()
        self._init_thread_state()

    def forward(self, x):
        """x: [..., in] -> y: [..., out]."""
        x = float_array(x, "x", self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"x: expected shape [..., {self.in_features}] (in_features last), got {x.shape}"
            )
        x2 = x.reshape(-1, self.in_features)  # [M, in]
        y = _C.linear_forward(x2, self.params["weight"], self.params.get("bias"))  # [M, out]
        self._set_thread_state((x2, x.shape[:-1]))
        return y.reshape(*x.shape[:-1], self.out_features)

    def backward(self, dy, *, input_grad: bool = True):
        """dy: [..., out] like forward's y -> dx: [..., in] (None with input_grad=False, which
        skips its GEMM: for an input that is data); accumulates weight and bias grads."""
        saved = self._thread_state()
        if saved is None:
            raise RuntimeError("backward: call forward first (in this thread)")
        x2, lead = saved  # x2: [M, in]
        dy = float_array(dy, "dy", self.dtype)
        expected = (*lead, self.out_features)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {dy.shape}")
        input_grad = bool_flag(input_grad, "input_grad")
        dy2 = dy.reshape(-1, self.out_features)  # [M, out]
        with self._grad_lock:
            dx = _C.linear_backward(
                dy2,
                x2,
                self.params["weight"],
                self.grads["weight"],
                self.grads.get("bias"),
                need_dx=input_grad,
            )
        return None if dx is None else dx.reshape(*lead, self.in_features)

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={'bias' in self.params})"
