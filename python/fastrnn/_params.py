"""Parameter dicts under PyTorch's names, shared by the numpy layers and step cells: PyTorch's
initialisation from a checked `seed`, gradients of the same shapes, state_dict() and a checked
load_state_dict(); the inverted-dropout mask; and the per-thread training state that lets several
Python threads train one object at once."""

from __future__ import annotations

import numbers
import threading
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from fastrnn._aligned import aligned_copy, aligned_zeros_like


def seeded_rng(seed) -> np.random.Generator:
    """np.random.default_rng(seed) for a `seed` argument: None (fresh entropy) or an int >= 0;
    anything else is a TypeError or ValueError naming `seed`."""
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed: expected None or an int >= 0, got {type(seed).__name__}")
        if seed < 0:
            raise ValueError(f"seed: expected None or an int >= 0, got {seed}")
    return np.random.default_rng(seed)


class IncompatibleKeys(NamedTuple):
    """What load_state_dict returns, as torch.nn.Module's does: the keys the module has that the
    state_dict lacked, and the state_dict's keys the module does not have (both empty unless
    strict=False)."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )


def check_state_dict(state_dict, strict) -> bool:
    """Checks load_state_dict's arguments (a mapping; strict a bool); returns strict."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"state_dict: expected a dict-like mapping of names to arrays, got "
            f"{type(state_dict).__name__}"
        )
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"strict: expected a bool, got {type(strict).__name__}")
    return bool(strict)


def dropout_mask(rng: np.random.Generator, shape, p: float, dtype) -> np.ndarray:
    """An inverted-dropout mask of `shape`: 0 with probability p, else 1/(1-p); all zeros at
    p = 1 (as torch's dropout, with no 0/0 scale)."""
    keep = 1.0 - p
    if keep == 0.0:
        return np.zeros(shape, dtype)
    return (rng.random(shape) < keep).astype(dtype) / np.dtype(dtype).type(keep)


class ThreadState:
    """Mixin: what a forward keeps for its backward belongs to the calling thread, so threads that
    share an object each pair their own forward with their own backward; `_grad_lock` makes their
    backward calls accumulate gradients in turn. A subclass calls _init_thread_state() in its
    constructor."""

    def _init_thread_state(self) -> None:
        self._grad_lock = threading.Lock()
        # what each thread's forward kept for its backward; a thread's entry goes with the thread
        # (a dict keyed by thread id would hand a dead thread's step to a new thread given its id)
        self._per_thread = threading.local()

    def _thread_state(self, default=None):
        return getattr(self._per_thread, "kept", default)

    def _set_thread_state(self, value) -> None:
        if value is None:
            self._per_thread.__dict__.pop("kept", None)
        else:
            self._per_thread.kept = value

    def __getstate__(self) -> dict:  # copy/deepcopy/pickle: locks and other threads' state stay
        state = dict(self.__dict__)
        state.pop("_grad_lock", None)
        state.pop("_per_thread", None)
        return state

    def __setstate__(self, state: dict) -> None:
        state.pop("_per_thread", None)  # pickles made when it was a dict
        self.__dict__.update(state)
        self._grad_lock = threading.Lock()
        self._per_thread = threading.local()


class ParameterHolder(ThreadState):
    """Mixin: a subclass defines _param_shapes() -> {name: shape} and sets dtype, hidden_size
    and _rng before calling _init_parameters()."""

    def _init_parameters(self) -> None:
        # PyTorch's initialisation: every parameter uniform in [-1/sqrt(H), 1/sqrt(H)].
        k = 1.0 / np.sqrt(self.hidden_size)
        self.params = {
            name: aligned_copy(self._rng.uniform(-k, k, size=shape), self.dtype)
            for name, shape in self._param_shapes().items()
        }
        self.grads = {name: aligned_zeros_like(v) for name, v in self.params.items()}
        self._init_thread_state()

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def state_dict(self) -> dict:
        """Copies of the parameters under PyTorch's names."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Loads parameters (numpy arrays or torch tensors) saved by this class or by torch.nn.
        strict=True (torch's default): the keys must be exactly this module's; strict=False
        loads the keys both have and leaves the others. A shape or dtype that does not fit is
        an error either way, and nothing is loaded then. Returns the missing and unexpected
        keys, as torch does."""
        strict = check_state_dict(state_dict, strict)
        expected = self._param_shapes()
        missing = sorted(set(expected) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(expected), key=str)
        if strict and (missing or unexpected):
            raise ValueError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        new = dict(self.params)
        for name, shape in expected.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != shape:
                raise ValueError(f"state_dict['{name}']: expected shape {shape}, got {value.shape}")
            if not np.issubdtype(value.dtype, np.floating):
                raise TypeError(f"state_dict['{name}']: expected a float array, got {value.dtype}")
            new[name] = aligned_copy(value, self.dtype)
        self.params = new
        return IncompatibleKeys(missing, unexpected)
