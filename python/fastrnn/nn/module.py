"""The base of the fastrnn.nn modules: parameters and gradients in dicts keyed by PyTorch's
names (the numpy layers' protocol), zero_grad, state_dict and a checked load_state_dict."""

from __future__ import annotations

import numpy as np

from fastrnn._params import IncompatibleKeys, ParameterHolder


class Module(ParameterHolder):
    """A subclass sets self.dtype, self.params and self.grads and defines _param_shapes().

    `forward(...)` remembers what `backward` needs; `backward(dy)` accumulates into `grads` and
    returns the input gradient. `__call__` is `forward`."""

    def _param_shapes(self) -> dict:
        return {k: v.shape for k, v in self.params.items()}

    def _new_grads(self) -> dict:
        return {k: np.zeros_like(v) for k, v in self.params.items()}

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        result = super().load_state_dict(state_dict, strict)
        if self.grads:  # gradients keep their arrays' shapes; reset them for the new parameters
            self.zero_grad()
        return result

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)
