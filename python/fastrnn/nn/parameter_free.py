"""The base of the fastrnn.nn modules that have no parameters (Dropout, SoftmaxCrossEntropy):
empty per-instance `params` and `grads` dicts, and the zero_grad / state_dict /
load_state_dict a Sequential and the optimisers expect of every module; what a forward keeps
for its backward is the calling thread's (ThreadState)."""

from __future__ import annotations

from fastrnn._params import IncompatibleKeys, ThreadState, check_state_dict


class ParameterFree(ThreadState):
    """A module without parameters; `__call__` is the subclass's `forward`."""

    def __init__(self):
        self.params: dict = {}
        self.grads: dict = {}
        self._init_thread_state()

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def zero_grad(self) -> None:
        """Nothing to reset (no parameters)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        strict = check_state_dict(state_dict, strict)
        if strict and state_dict:
            raise ValueError(f"state_dict: unexpected keys {sorted(state_dict, key=str)}")
        return IncompatibleKeys([], sorted(state_dict, key=str))
