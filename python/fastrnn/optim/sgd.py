"""SGD with momentum, Nesterov momentum and L2 weight decay: torch.optim.SGD's update rule
(dampening 0). A RowGrad parameter (sparse embedding) is updated on its touched rows only when
plain SGD (no momentum, no weight decay) makes that exact; with momentum or weight decay every row
moves (the buffer keeps carrying rows that had a gradient before, and weight decay shrinks all
rows), so the RowGrad is made dense and the update is torch.optim.SGD's on the dense gradient."""

from __future__ import annotations

import numpy as np

from fastrnn.nn._checks import bool_flag, nonnegative_float
from fastrnn.nn.embedding import RowGrad
from fastrnn.optim.optimizer import Optimizer


class SGD(Optimizer):
    """g += weight_decay * p; buf = momentum * buf + g; g = g + momentum * buf (nesterov) or
    buf; p -= lr * g."""

    _hyper = ("momentum", "weight_decay", "nesterov")
    _buffers = {"momentum_buffer": "array"}

    def __init__(self, modules, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(modules, lr)
        self.momentum = self._check_hyper("momentum", momentum, "momentum")
        self.weight_decay = self._check_hyper("weight_decay", weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0")

    def _check_hyper(self, name: str, value, where: str):
        if name != "nesterov":
            return nonnegative_float(value, where)
        return bool_flag(value, where)

    def load_state_dict(self, state_dict: dict) -> None:
        nesterov = state_dict.get("nesterov") if isinstance(state_dict, dict) else None
        if isinstance(nesterov, (bool, np.bool_)) and nesterov:
            if not state_dict.get("momentum"):
                raise ValueError("state_dict['nesterov']: Nesterov momentum requires momentum > 0")
        super().load_state_dict(state_dict)

    def _update(self, key, p, g) -> None:
        # p: any shape; g: p's shape, or a RowGrad of rows of p
        if isinstance(g, RowGrad):
            if not self.momentum and not self.weight_decay:
                p[g.indices] -= self.lr * g.values
                return
            g = g.to_dense(p.shape[0])
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            buf = self.state.setdefault(key, {"momentum_buffer": np.zeros_like(p)})[
                "momentum_buffer"
            ]
            buf *= self.momentum
            buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g
