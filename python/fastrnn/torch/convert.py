"""convert(model) / revert(model): swap torch.nn's recurrent modules for fastrnn's and back.

    model = fastrnn.torch.convert(model)  # every torch.nn.RNN/LSTM/GRU/*Cell now runs on fastrnn
    model = fastrnn.torch.revert(model)   # and back to torch.nn

A swapped module is a new object of the other class holding the same Parameter objects (so an
optimizer built before the swap keeps updating them), the same hooks (handles made before the swap
remove them from it), the same train/eval mode and, after Module.compile(), the same compile
settings.
Children are replaced in place (a module reachable under several names is swapped once and stays
one object); the return value is `model`, or its replacement when `model` itself is one of these
modules. Only exact torch.nn classes are converted (not subclasses, which may override forward;
but a module with tensors parametrized by torch.nn.utils.parametrize, whose generated subclass
only adds their properties, gets the same subclass of the other class), and a fastrnn module
that uses an extra torch.nn lacks (peephole, cell_clip, reset_after=False) cannot be reverted.
"""

from __future__ import annotations

import copy

import torch
from torch.nn.utils import parametrize

from fastrnn.torch.cells import GRUCell, LSTMCell, RNNCell
from fastrnn.torch.modules import GRU, LSTM, RNN

_PAIRS = (
    (torch.nn.RNN, RNN),
    (torch.nn.LSTM, LSTM),
    (torch.nn.GRU, GRU),
    (torch.nn.RNNCell, RNNCell),
    (torch.nn.LSTMCell, LSTMCell),
    (torch.nn.GRUCell, GRUCell),
)
_TO_FASTRNN = dict(_PAIRS)
_TO_TORCH = {fast: base for base, fast in _PAIRS}
_EXTRAS = ("peephole", "cell_clip", "reset_after", "_clip", "_slots")


def _swap_class(module: torch.nn.Module, cls: type) -> torch.nn.Module:
    """A `cls` object sharing `module`'s parameters, buffers, hooks and flags.

    Each gets containers of its own with the same contents. The new module takes over the hook
    dicts themselves, and `module` gets the copies: a RemovableHandle returned before the swap
    removes its hook from the module that replaced `module` in the model."""
    new = cls.__new__(cls)
    state = module.__dict__.copy()
    for key, value in state.items():
        if isinstance(value, (dict, list)):
            if "hooks" in key:  # _forward_hooks, _forward_hooks_with_kwargs, ...
                module.__dict__[key] = copy.copy(value)
            else:
                state[key] = copy.copy(value)
    new.__dict__.update(state)
    if "_compiled_call_impl" in state:  # Module.compile() was called on `module`
        new._compiled_call_impl = _recompile(state["_compiled_call_impl"], new)
    return new


def _recompile(compiled, module: torch.nn.Module):
    """Module.compile() stores torch.compile(module._call_impl), bound to the module it was called
    on: `compiled` would run the old module (its forward, its train/eval flag). The same compile
    settings (the dynamo context held by `compiled`) applied to `module`'s _call_impl instead, or
    torch.compile's defaults when they cannot be found."""
    context_type = torch._dynamo.eval_frame._TorchDynamoContext
    for cell in getattr(compiled, "__closure__", None) or ():
        try:
            context = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(context, context_type):
            return context(module._call_impl)
    return torch.compile(module._call_impl)


def _counterpart(module: torch.nn.Module, table: dict) -> type | None:
    """The class `module` swaps to under `table`, or None (left alone).

    torch.nn.utils.parametrize moves a parametrized module into a generated subclass holding a
    property per parametrized tensor (and __getstate__/__deepcopy__); such a module gets the
    same subclass of its counterpart (removing the parametrizations then leaves the counterpart)."""
    cls = type(module)
    if cls in table:
        return table[cls]
    base = cls.__bases__[0]
    if len(cls.__bases__) == 1 and base in table and parametrize.is_parametrized(module):
        members = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
        return type(f"Parametrized{table[base].__name__}", (table[base],), members)
    return None


def convert(model: torch.nn.Module) -> torch.nn.Module:
    """Replaces every torch.nn RNN/LSTM/GRU/RNNCell/LSTMCell/GRUCell in `model` by fastrnn's."""

    def swap(module):
        cls = _counterpart(module, _TO_FASTRNN)
        if cls is None:
            return None
        new = _swap_class(module, cls)
        new.peephole, new.cell_clip, new.reset_after, new._clip = False, None, True, 0.0
        if isinstance(new, torch.nn.RNNBase):
            new._init_slots()
        return new

    return _apply(model, swap)


def revert(model: torch.nn.Module) -> torch.nn.Module:
    """Replaces every fastrnn.torch module in `model` by the torch.nn one (undoes `convert`)."""

    def swap(module):
        cls = _counterpart(module, _TO_TORCH)
        if cls is None:
            return None
        if module._has_extras():
            raise ValueError(
                f"revert: {type(module).__name__} uses peephole, cell_clip or reset_after=False, "
                f"which torch.nn.{cls.__name__.removeprefix('Parametrized')} does not have"
            )
        new = _swap_class(module, cls)
        for key in _EXTRAS:
            new.__dict__.pop(key, None)
        return new

    return _apply(model, swap)


def _apply(model: torch.nn.Module, swap, done: dict | None = None) -> torch.nn.Module:
    """`model` with swapped modules. done: id(module) -> (module, result) of those already seen, so
    that a module reachable under several names (shared) is swapped once and stays one object
    (named_children() would yield it only once, leaving its other names on the old module)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    done = {} if done is None else done
    if id(model) in done:
        return done[id(model)][1]
    replaced = swap(model)
    done[id(model)] = (model, model if replaced is None else replaced)
    if replaced is not None:
        return replaced
    for name, child in list(model._modules.items()):
        if child is not None:
            new = _apply(child, swap, done)
            if new is not child:
                setattr(model, name, new)
    return model
