"""Sequential: chains modules; forward runs them in order and backward in reverse, and the
parameters, gradients and state_dict carry torch.nn.Sequential's index prefixes ("0.weight")."""

from __future__ import annotations

import inspect

from fastrnn._params import IncompatibleKeys, check_state_dict
from fastrnn.nn._checks import bool_flag


def _takes(method, argument: str) -> bool:
    """Whether `method` takes the keyword `argument` (by name, or through **kwargs)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return argument in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


class Sequential:
    """Sequential(*modules): each module has forward(x[, training]) -> y and backward(dy) -> dx
    (backward(dy, input_grad=False) -> None too, where it can skip dx).

    A recurrent layer (fastrnn.RNN / LSTM / GRU, whose forward returns (y, state)) goes in
    through `fastrnn.nn.Recurrent(layer)`. `forward(x, training=True)` passes `training` to the
    modules whose forward accepts it (Dropout, Recurrent). `params` and `grads` are fresh dicts
    each time they are read, holding the modules' own arrays under "index.name"."""

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            for attr in ("forward", "backward", "params", "grads"):
                if not hasattr(m, attr):
                    raise TypeError(
                        f"modules[{i}]: {type(m).__name__} has no {attr!r} (wrap a recurrent "
                        "layer in fastrnn.nn.Recurrent)"
                    )
        self.modules = list(modules)
        self._training_arg = [_takes(m.forward, "training") for m in self.modules]

    def __getitem__(self, i):
        return self.modules[i]

    def __len__(self) -> int:
        return len(self.modules)

    @property
    def params(self) -> dict:
        return {f"{i}.{k}": v for i, m in enumerate(self.modules) for k, v in m.params.items()}

    @property
    def grads(self) -> dict:
        return {f"{i}.{k}": v for i, m in enumerate(self.modules) for k, v in m.grads.items()}

    def zero_grad(self) -> None:
        for m in self.modules:
            m.zero_grad()

    def state_dict(self) -> dict:
        return {
            f"{i}.{k}": v for i, m in enumerate(self.modules) for k, v in m.state_dict().items()
        }

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Each module's keys under its index ("0.weight", ...), as torch.nn.Sequential's."""
        strict = check_state_dict(state_dict, strict)
        parts = [{} for _ in self.modules]
        unexpected = []
        for key, value in state_dict.items():
            index, _, name = str(key).partition(".")
            if not index.isdigit() or int(index) >= len(self.modules) or not name:
                if strict:
                    raise ValueError(f"state_dict: unexpected key {key!r}")
                unexpected.append(key)
                continue
            parts[int(index)][name] = value
        # A module of the user's may take load_state_dict(sd) alone and return nothing: it is
        # strict then, and its keys all matched. Checked for every module before any loads.
        takes_strict = [_takes(m.load_state_dict, "strict") for m in self.modules]
        if not strict and not all(takes_strict):
            i = takes_strict.index(False)
            raise TypeError(
                f"strict=False: module {i} ({type(self.modules[i]).__name__}) has a "
                "load_state_dict without a strict argument"
            )
        missing = []
        for i, (m, part) in enumerate(zip(self.modules, parts, strict=True)):
            try:
                result = (
                    m.load_state_dict(part, strict=strict)
                    if takes_strict[i]
                    else (m.load_state_dict(part))
                )
            except ValueError as e:
                raise ValueError(f"state_dict (module {i}): {e}") from e
            # (torch's result and any other with the two lists count too)
            missing += [f"{i}.{k}" for k in getattr(result, "missing_keys", ())]
            unexpected += [f"{i}.{k}" for k in getattr(result, "unexpected_keys", ())]
        return IncompatibleKeys(missing, unexpected)

    def forward(self, x, training: bool = True):
        for m, takes_training in zip(self.modules, self._training_arg, strict=True):
            x = m.forward(x, training=training) if takes_training else m.forward(x)
        return x

    __call__ = forward

    def backward(self, dy, *, input_grad: bool = True):
        """Runs the modules' backward in reverse and returns the gradient of the input, or None
        with input_grad=False (the input is data): then the first module skips that gradient
        where it can (Recurrent: the first layer's input-gradient GEMM)."""
        input_grad = bool_flag(input_grad, "input_grad")
        if not self.modules:
            return dy if input_grad else None
        for i in reversed(range(len(self.modules))):
            m = self.modules[i]
            if i == 0 and not input_grad:
                if _takes(m.backward, "input_grad"):
                    m.backward(dy, input_grad=False)
                else:
                    m.backward(dy)
                return None
            dy = m.backward(dy)
        return dy

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {m!r}" for i, m in enumerate(self.modules))
        return f"Sequential({inner}\n)"
