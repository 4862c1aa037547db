"""clip_grad_norm: scales all gradients together so their global L2 norm is at most max_norm
(torch.nn.utils.clip_grad_norm_'s rule), RowGrad values included; returns the norm before."""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastrnn.nn.embedding import RowGrad
from fastrnn.optim.optimizer import as_module_list, gradients


def clip_grad_norm(modules, max_norm: float) -> float:
    """Returns the total norm sqrt(sum of every gradient element squared) and, when it exceeds
    max_norm, multiplies every gradient in place by max_norm / (norm + 1e-6) (a nan norm makes
    every gradient nan and an inf norm multiplies them by 0, as torch)."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real):
        raise TypeError(f"max_norm: expected a float, got {type(max_norm).__name__}")
    if not max_norm >= 0:  # 0 zeroes every gradient, as torch's
        raise ValueError(f"max_norm: expected a value >= 0, got {max_norm}")
    grads = [g for _, _, g in gradients(as_module_list(modules))]
    arrays = [g.values if isinstance(g, RowGrad) else g for g in grads]
    total = math.sqrt(sum(float(np.vdot(a, a)) for a in arrays))
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # also nan: torch's clamp(coef, max=1) keeps a nan coefficient
        for a in arrays:
            a *= a.dtype.type(coef)
    return total
