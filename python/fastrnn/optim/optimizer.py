"""The optimisers' base: walks the (module, parameter, gradient) triples of a list of modules
(anything with `params` and `grads` dicts: numpy layers, cells, fastrnn.nn modules), keeps
per-parameter state keyed "index.name", and saves/loads that state for checkpoints."""

from __future__ import annotations

import numpy as np

from fastrnn.nn._checks import as_array, int_at_least, nonnegative_float
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
    _check_distinct(modules, name)
    return modules


def _check_distinct(modules, name: str) -> None:
    """Each module with trainable parameters listed once and no trainable parameter array held
    in two places: an optimiser would update such an array twice and clip_grad_norm count it
    twice (tied weights, one array with the gradients of both uses summed, are not supported).
    Only parameters with an entry in `grads` count: a frozen one (an Embedding's with
    freeze=True, a module's alias of an array it trains under one name) is never updated."""
    first_module: dict = {}
    first_param: dict = {}
    for i, m in enumerate(modules):
        trainable = [(pname, m.params[pname]) for pname in m.grads if pname in m.params]
        if not trainable:
            continue
        if id(m) in first_module:
            raise ValueError(
                f"{name}[{i}]: the same module as {name}[{first_module[id(m)]}] (list each once)"
            )
        first_module[id(m)] = i
        for pname, p in trainable:
            where = f"{name}[{i}].params[{pname!r}]"
            if id(p) in first_param:
                raise ValueError(
                    f"{where}: the same array as {first_param[id(p)]} (tied parameters are not "
                    "supported: it would be updated twice)"
                )
            first_param[id(p)] = where


def gradients(modules):
    """Yields (key, param, grad) for every parameter that has a gradient; grad is an ndarray of
    the parameter's shape or a RowGrad. Frozen parameters (no entry in grads) are skipped, and
    so are those whose gradient is None (as torch.optim skips a parameter whose .grad is None)."""
    for i, m in enumerate(modules):
        params, grads = m.params, m.grads
        for name, g in grads.items():
            if g is None:
                continue
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


def _checked_buffer(value, kind: str, param, where: str):
    """A saved buffer: a step count (an int >= 0), or an array of the parameter's shape and a
    float dtype (returned as a copy in the parameter's dtype)."""
    if kind == "count":
        return int_at_least(value, where, 0)
    a = as_array(value, where)
    if a.shape != param.shape:
        raise ValueError(f"{where}: expected shape {param.shape}, got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{where}: expected a float array, got dtype {a.dtype}")
    return np.array(a, dtype=param.dtype)


class Optimizer:
    """Base class: `lr` attribute (schedules set it), step(), zero_grad(), state_dict() and
    load_state_dict(). Subclasses define `_hyper` (hyper-parameter names) with _check_hyper(name,
    value, where) returning the checked value, `_buffers` ({buffer name: "array" (a parameter's
    shape) or "count"}: the per-parameter state, all of it created at a parameter's first update)
    and _update(key, p, g): p a parameter of any shape, updated in place; g its gradient, of p's
    shape, or a RowGrad of rows of p."""

    _hyper: tuple = ()
    _buffers: dict = {}
    _hyper_defaults: dict = {}  # values for hyper-parameters older state dicts lack

    def __init__(self, modules, lr):
        self.modules = as_module_list(modules)
        if not self.modules:
            raise ValueError("modules: expected at least one module, got an empty list")
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

    def _check_hyper(self, name: str, value, where: str):
        raise NotImplementedError

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores lr, the hyper-parameters and the buffers, each checked as the constructor
        checks it (a ValueError or TypeError names the entry); nothing changes on an error."""
        expected = {"lr", "state", *self._hyper}
        given = state_dict  # the error names the keys given, not the defaults filled in
        if isinstance(state_dict, dict):
            state_dict = {**self._hyper_defaults, **state_dict}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(given) if isinstance(given, dict) else type(given).__name__
            raise ValueError(f"state_dict: expected keys {sorted(expected)}, got {got}")
        lr = nonnegative_float(state_dict["lr"], "state_dict['lr']")
        hyper = {h: self._check_hyper(h, state_dict[h], f"state_dict[{h!r}]") for h in self._hyper}
        params = {  # every trainable parameter, whether or not it has a gradient now
            f"{i}.{name}": m.params[name] for i, m in enumerate(self.modules) for name in m.grads
        }
        saved = state_dict["state"]
        if not isinstance(saved, dict):
            raise TypeError(f"state_dict['state']: expected a dict, got {type(saved).__name__}")
        state = {}
        for key, buffers in saved.items():
            where = f"state_dict['state'][{key!r}]"
            if key not in params:
                raise ValueError(f"state_dict: no parameter {key!r} in these modules")
            if not isinstance(buffers, dict) or set(buffers) != set(self._buffers):
                got = sorted(buffers) if isinstance(buffers, dict) else type(buffers).__name__
                raise ValueError(f"{where}: expected buffers {sorted(self._buffers)}, got {got}")
            state[key] = {
                b: _checked_buffer(v, self._buffers[b], params[key], f"{where}[{b!r}]")
                for b, v in buffers.items()
            }
        self.lr = lr
        for h, value in hyper.items():
            setattr(self, h, value)
        self.state = state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{h}={getattr(self, h)}" for h in self._hyper)
        return f"{type(self).__name__}(lr={self.lr}, {hyper})"
