"""The optimisers' base: walks the (module, parameter, gradient) triples of a list of modules
(anything with `params` and `grads` dicts: numpy layers, cells, fastrnn.nn modules), keeps
per-parameter state keyed "index.name", and saves/loads that state for checkpoints."""

from __future__ import annotations

import numpy as np

from fastrnn.nn._checks import nonnegative_float
from fastrnn.nn.embedding import RowGrad


def as_module_list(modules, name: str = "modules") -> list:
    """A list of objects with .params and .grads (a single such object is accepted too)."""
    if hasattr(modules, "params") and hasattr(modules, "grads"):
        modules = [modules]
    try:
        modules = list(modules)
    except TypeError:
        raise TypeError(
            f"{name}: expected a list of modules with .params and .grads, "
            f"got {type(modules).__name__}"
        ) from None
    for i, m in enumerate(modules):
        if not hasattr(m, "params") or not hasattr(m, "grads"):
            raise TypeError(f"{name}[{i}]: {type(m).__name__} has no .params/.grads")
    return modules


def gradients(modules):
    """Yields (key, param, grad) for every parameter that has a gradient; grad is an ndarray of
    the parameter's shape or a RowGrad. Frozen parameters (no entry in grads) are skipped."""
    for i, m in enumerate(modules):
        params, grads = m.params, m.grads
        for name, g in grads.items():
            key = f"{i}.{name}"
            p = params[name]
            if isinstance(g, RowGrad):
                if g.values.shape[1:] != p.shape[1:]:
                    raise ValueError(
                        f"grads[{key!r}]: rows of shape {g.values.shape[1:]} for a "
                        f"parameter of shape {p.shape}"
                    )
            elif g.shape != p.shape:
                raise ValueError(f"grads[{key!r}]: expected shape {p.shape}, got {g.shape}")
            yield key, p, g


class Optimizer:
    """Base class: `lr` attribute (schedules set it), step(), zero_grad(), state_dict() and
    load_state_dict(). Subclasses define `_hyper` and _update(key, p, g): p a parameter of any
    shape, updated in place; g its gradient, of p's shape, or a RowGrad of rows of p."""

    _hyper: tuple = ()

    def __init__(self, modules, lr):
        self.modules = as_module_list(modules)
        self.lr = nonnegative_float(lr, "lr")
        self.state: dict = {}

    def zero_grad(self) -> None:
        for m in self.modules:
            m.zero_grad()

    def step(self) -> None:
        """Updates every parameter in place from its gradient."""
        for key, p, g in gradients(self.modules):
            self._update(key, p, g)

    def state_dict(self) -> dict:
        """{"lr", hyper-parameters, "state": {"index.name": {buffer: array or int}}} (copies)."""
        return {
            "lr": self.lr,
            **{h: getattr(self, h) for h in self._hyper},
            "state": {
                k: {b: (v.copy() if isinstance(v, np.ndarray) else v) for b, v in s.items()}
                for k, s in self.state.items()
            },
        }

    def load_state_dict(self, state_dict: dict) -> None:
        expected = {"lr", "state", *self._hyper}
        if set(state_dict) != expected:
            raise ValueError(
                f"state_dict: expected keys {sorted(expected)}, got {sorted(state_dict)}"
            )
        shapes = {key: p.shape for key, p, _ in gradients(self.modules)}
        state = {}
        for key, buffers in state_dict["state"].items():
            if key not in shapes:
                raise ValueError(f"state_dict: no parameter {key!r} in these modules")
            state[key] = {}
            for b, v in buffers.items():
                if isinstance(v, np.ndarray) or isinstance(v, list):
                    v = np.array(v)
                    if v.shape != shapes[key]:
                        raise ValueError(
                            f"state_dict['state'][{key!r}][{b!r}]: expected shape "
                            f"{shapes[key]}, got {v.shape}"
                        )
                state[key][b] = v
        self.lr = float(state_dict["lr"])
        for h in self._hyper:
            value = state_dict[h]
            setattr(self, h, tuple(value) if isinstance(value, list) else value)
        self.state = state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{h}={getattr(self, h)}" for h in self._hyper)
        return f"{type(self).__name__}(lr={self.lr}, {hyper})"
