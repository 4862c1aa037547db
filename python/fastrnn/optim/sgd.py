"""SGD with momentum, Nesterov momentum and L2 weight decay: torch.optim.SGD's update rule
(dampening 0). RowGrad parameters (sparse embeddings) are updated on their touched rows only;
with momentum their buffer rows are updated lazily (only when the row appears)."""

from __future__ import annotations

import numpy as np

from fastrnn.nn.embedding import RowGrad
from fastrnn.optim.optimizer import Optimizer, check_rate


class SGD(Optimizer):
    """g += weight_decay * p; buf = momentum * buf + g; g = g + momentum * buf (nesterov) or
    buf; p -= lr * g."""

    _hyper = ("momentum", "weight_decay", "nesterov")

    def __init__(self, modules, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(modules, lr)
        self.momentum = check_rate(momentum, "momentum")
        self.weight_decay = check_rate(weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0")

    def _update(self, key, p, g) -> None:
        rows = None
        if isinstance(g, RowGrad):
            rows, g = g.indices, g.values
            if rows.size == 0:
                return
        p_view = p if rows is None else p[rows]
        if self.weight_decay:
            g = g + self.weight_decay * p_view
        if self.momentum:
            buf = self.state.setdefault(key, {"momentum_buffer": np.zeros_like(p)})[
                "momentum_buffer"
            ]
            if rows is None:
                buf *= self.momentum
                buf += g
                b = buf
            else:
                b = self.momentum * buf[rows] + g
                buf[rows] = b
            g = g + self.momentum * b if self.nesterov else b
        if rows is None:
            p -= self.lr * g
        else:
            p[rows] = p_view - self.lr * g
