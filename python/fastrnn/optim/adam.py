"""Adam (Kingma & Ba 2015) with torch.optim.Adam's update rule and L2 weight decay added to the
gradient. A RowGrad parameter (sparse embedding) is updated lazily, row-wise: only the touched
rows' moments and values change, and the bias corrections use the parameter's step count (which
counts every step()). This is torch.optim.SparseAdam's rule with two precise differences:
  - eps is added after the bias correction, as in dense Adam:
    p -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t) + eps), where SparseAdam has
    p -= lr·sqrt(1-b2^t)/(1-b1^t) · m / (sqrt(v) + eps);
  - weight decay (which SparseAdam lacks) is lazy too: weight_decay * p is added to the touched
    rows' gradients only, so rows that are not in this step's batch neither decay nor move."""

from __future__ import annotations

import math

import numpy as np

from fastrnn.nn._checks import bool_flag, nonnegative_float
from fastrnn.nn.embedding import RowGrad
from fastrnn.optim.optimizer import Optimizer


class Adam(Optimizer):
    """m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²; p -= lr/(1-b1^t) · m / (sqrt(v)/sqrt(1-b2^t)
    + eps), with g += weight_decay * p first, or with decoupled_weight_decay=True (AdamW, as
    torch's flag) p *= 1 - lr·weight_decay first instead."""

    _hyper = ("betas", "eps", "weight_decay", "decoupled_weight_decay")
    _hyper_defaults = {"decoupled_weight_decay": False}  # state dicts from before the flag
    _buffers = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}

    def __init__(
        self,
        modules,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        *,
        decoupled_weight_decay=False,
    ):
        super().__init__(modules, lr)
        self.betas = self._check_hyper("betas", betas, "betas")
        self.eps = self._check_hyper("eps", eps, "eps")
        self.weight_decay = self._check_hyper("weight_decay", weight_decay, "weight_decay")
        self.decoupled_weight_decay = self._check_hyper(
            "decoupled_weight_decay", decoupled_weight_decay, "decoupled_weight_decay"
        )

    def _check_hyper(self, name: str, value, where: str):
        if name == "decoupled_weight_decay":
            return bool_flag(value, where)
        if name != "betas":
            return nonnegative_float(value, where)
        try:
            b1, b2 = value
        except (TypeError, ValueError):
            raise TypeError(f"{where}: expected a pair of floats, got {value!r}") from None
        return (
            nonnegative_float(b1, f"{where}[0]", upper=1.0),
            nonnegative_float(b2, f"{where}[1]", upper=1.0),
        )

    def _update(self, key, p, g) -> None:
        # p: any shape; g: p's shape, or a RowGrad of rows of p
        rows = None
        if isinstance(g, RowGrad):
            rows, g = g.indices, g.values
        s = self.state.get(key)
        if s is None:
            s = self.state[key] = {
                "step": 0,
                "exp_avg": np.zeros_like(p),
                "exp_avg_sq": np.zeros_like(p),
            }
        s["step"] += 1
        if rows is not None and rows.size == 0:
            return
        b1, b2 = self.betas
        t = s["step"]
        step_size = self.lr / (1.0 - b1**t)
        bias_correction2_sqrt = math.sqrt(1.0 - b2**t)
        l2 = 0.0 if self.decoupled_weight_decay else self.weight_decay
        shrink = 1.0 - self.lr * self.weight_decay if self.decoupled_weight_decay else 1.0
        if rows is None:
            if shrink != 1.0:
                p *= shrink
            if l2:
                g = g + l2 * p
            m, v = s["exp_avg"], s["exp_avg_sq"]
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            p -= step_size * (m / (np.sqrt(v) / bias_correction2_sqrt + self.eps))
        else:
            p_rows = p[rows] * shrink if shrink != 1.0 else p[rows]
            if l2:
                g = g + l2 * p_rows
            m = b1 * s["exp_avg"][rows] + (1.0 - b1) * g
            v = b2 * s["exp_avg_sq"][rows] + (1.0 - b2) * (g * g)
            s["exp_avg"][rows] = m
            s["exp_avg_sq"][rows] = v
            p[rows] = p_rows - step_size * (m / (np.sqrt(v) / bias_correction2_sqrt + self.eps))
