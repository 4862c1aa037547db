"""RNNCell, LSTMCell and GRUCell: torch.nn cells on fastrnn's kernels (a call with a gradient due
runs the layer kernel with T=1, which saves what backward needs; one without, the core's step
kernel).

Subclasses of torch.nn.RNNCell / LSTMCell / GRUCell with the same constructors, parameters
(weight_ih, weight_hh, bias_ih, bias_hh), inputs ([N,I] or unbatched [I], optional hx) and outputs
(h' or (h', c')). Extras, keyword-only: LSTMCell `peephole` (parameter `weight_ch` [3,H], rows
i, f, o) and `cell_clip`; GRUCell `reset_after`. Tensors the kernels cannot take, and calls that
forward-mode AD carries a tangent into, run on torch's implementation after a one-time warning.

Shape letters as in DESIGN.md: N batch, I inputs, H hidden.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from fastrnn.functional import _check_clip
from fastrnn.torch._ops import (
    check_same_dtype,
    fx_leaf_call,
    inference_step,
    kernel_refusal,
    layer_forward,
    plain_step,
    raise_not_scriptable,
    step_applies,
    training_step,
    warn_fallback,
)


class _CellMixin:
    """The shared step of the three cells (not used directly)."""

    _kernel_mode: str

    def __prepare_scriptable__(self):
        raise_not_scriptable(type(self).__name__)

    def _init_extras(self, peephole=False, cell_clip=None, reset_after=True, factory=None):
        lstm = self._kernel_mode == "lstm"
        if not isinstance(peephole, bool):
            raise TypeError(f"peephole should be of type bool, got: {type(peephole).__name__}")
        if not isinstance(reset_after, bool):
            raise TypeError(
                f"reset_after should be of type bool, got: {type(reset_after).__name__}"
            )
        self._clip = _check_clip(cell_clip, lstm)  # 0.0 = no clip
        self.peephole = peephole
        self.cell_clip = None if cell_clip is None else self._clip
        self.reset_after = reset_after
        if peephole:
            stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0  # as torch
            self.weight_ch = torch.nn.Parameter(torch.empty(3, self.hidden_size, **(factory or {})))
            torch.nn.init.uniform_(self.weight_ch, -stdv, stdv)

    def _has_extras(self) -> bool:
        return self.peephole or self.cell_clip is not None or not self.reset_after

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.peephole:
            s += ", peephole=True"
        if self.cell_clip is not None:
            s += f", cell_clip={self.cell_clip}"
        if not self.reset_after:
            s += ", reset_after=False"
        return s

    def _step(self, input: Tensor, states: tuple, w: tuple):
        """states: () or (h,) or (h, c), each [N,H] or unbatched [H]; w: _weights(). Returns (h',
        c' or None)."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for k, s in enumerate(states):
            if s.dim() not in (1, 2):
                what = f"hx[{k}]" if len(states) == 2 else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.dim()}D instead")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)  # [N,I]
        N, H = x.shape[0], self.hidden_size
        if x.shape[1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}"
            )
        for k, s in enumerate(states):  # in the caller's shapes
            if batched and s.shape != (N, H):
                raise RuntimeError(
                    f"hidden{k}: expected shape {(N, H)} (batch {N}, hidden_size {H}), "
                    f"got {tuple(s.shape)}"
                )
            if not batched and s.shape != (H,):
                raise RuntimeError(
                    f"hidden{k}: expected shape {(H,)} (hidden_size {H}, as the input is "
                    f"unbatched), got {tuple(s.shape)}"
                )
        states = tuple(s if batched else s.unsqueeze(0) for s in states)
        states = tuple(s.contiguous() for s in states)
        h0 = states[0] if states else None
        c0 = states[1] if len(states) == 2 else None
        check_same_dtype(
            [x, *states, *w],
            lambda: [
                "input",
                *(f"hx[{k}]" for k in range(len(states))),
                "weight_ih",
                "weight_hh",
                "bias_ih",
                "bias_hh",
                "weight_hr",
                "weight_ch",
            ],
        )
        if step_applies(x, h0, c0, w):
            h, c = inference_step(self._kernel_mode, x, h0, c0, w, self.reset_after, self._clip)
        else:
            x = x.contiguous().unsqueeze(0)  # [1,N,I]
            _, h, c = layer_forward(
                x, None, h0, c0, *w, self._kernel_mode, False, self.reset_after, self._clip
            )
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if self._kernel_mode == "lstm" else c
        return h, c

    def _plain_call(self, input, states: tuple):
        """The common call, taken straight to the kernels: a step on a batch x [N,I] (states: ()
        or (h,) or (h, c), each [N,H]) with the module's own parameters, eager, with or without
        a gradient due (plain_step); returns (h', c' or [0]). None for any other call, which the
        general path (_fallback, _step) then runs with its checks and torch.nn's messages. Those
        checks cost about 40 µs a call on the AVX2 EPYC, ten times the step kernel at N = 1,
        H = 64."""
        # torch.fx.symbolic_trace hands out Proxies for parameters through Module.__getattr__,
        # which it swaps while it traces; the _parameters read below would bypass it.
        if (
            type(self) not in _OWN_CELLS  # (a subclass may define its weights otherwise)
            or type(input) is not Tensor
            or any(type(s) is not Tensor for s in states)
            or torch.nn.Module.__getattr__ is not _MODULE_GETATTR
        ):
            return None
        p = self._parameters  # (a parametrization takes its parameter out of _parameters)
        try:
            w = (p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], None)
            w += (p["weight_ch"] if self.peephole else None,)
        except KeyError:  # a parameter replaced by a plain attribute
            return None
        if w[0] is None or w[1] is None:
            return None
        # The shapes last: plain_step says None under torch.jit.trace, where each comparison of
        # a size would warn.
        kind = plain_step((*w, input, *states))
        if kind is None or input.dim() != 2:
            return None
        N, I = input.shape
        H = self.hidden_size
        if N == 0 or I == 0 or H == 0 or I != self.input_size:
            return None
        if any(s.dim() != 2 or s.shape[0] != N or s.shape[1] != H for s in states):
            return None
        h0 = states[0] if states else None
        c0 = states[1] if len(states) == 2 else None
        step = inference_step if kind == "inference" else training_step
        return step(self._kernel_mode, input, h0, c0, w, self.reset_after, self._clip)

    def _weights(self) -> tuple:
        """(w_ih, w_hh, b_ih, b_hh, w_hr, w_ch) as layer_forward takes them (None: absent)."""
        return (
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            None,
            self.weight_ch if self.peephole else None,
        )

    def _fallback(self, input: Tensor, states: tuple, w: tuple) -> bool:
        if input.dim() in (1, 2) and input.shape[-1] == 0 and not self._has_extras():
            return True  # no input features (torch.nn's cells allow input_size=0, the kernels not)
        if self.hidden_size == 0:
            return True  # no hidden units: as above, and the extras change nothing then
        refusal = kernel_refusal([input, *states, *w], self._has_extras())
        if refusal is None:
            return False
        if self._has_extras():
            raise NotImplementedError(
                f"fastrnn.torch.{type(self).__name__}: peephole, cell_clip and reset_after=False "
                f"need fastrnn's kernels, but {refusal}"
            )
        warn_fallback(type(self).__name__, refusal)
        return True


class RNNCell(_CellMixin, torch.nn.RNNCell):
    """torch.nn.RNNCell on fastrnn kernels."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, nonlinearity, device=device, dtype=dtype)
        self._init_extras()

    @property
    def _kernel_mode(self) -> str:
        return "rnn_tanh" if self.nonlinearity == "tanh" else "rnn_relu"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        states = () if hx is None else (hx,)
        plain = self._plain_call(input, states)
        if plain is not None:
            return plain[0]
        traced = fx_leaf_call(self, input, hx)  # under torch.fx.symbolic_trace
        if traced is not None:
            return traced
        w = self._weights()  # (once a call: a parametrization computes them)
        if self._fallback(input, states, w):
            return torch.nn.RNNCell.forward(self, input, hx)
        return self._step(input, states, w)[0]


class LSTMCell(_CellMixin, torch.nn.LSTMCell):
    """torch.nn.LSTMCell on fastrnn kernels, plus keyword-only `peephole` (parameter weight_ch
    [3,H]) and `cell_clip`."""

    _kernel_mode = "lstm"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        peephole: bool = False,
        cell_clip: float | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self._init_extras(
            peephole=peephole, cell_clip=cell_clip, factory={"device": device, "dtype": dtype}
        )

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        if hx is None or (type(hx) is tuple and len(hx) == 2):
            plain = self._plain_call(input, () if hx is None else hx)
            if plain is not None:
                return plain
        traced = fx_leaf_call(self, input, hx)  # under torch.fx.symbolic_trace
        if traced is not None:
            return traced
        states = () if hx is None else tuple(hx)
        if hx is not None and len(states) != 2:
            raise RuntimeError("LSTMCell: expected hx to be a tuple (h_0, c_0)")
        w = self._weights()  # (once a call: a parametrization computes them)
        if self._fallback(input, states, w):
            return torch.nn.LSTMCell.forward(self, input, hx)
        if isinstance(hx, Tensor) and input.dim() == 2 and all(s.dim() in (1, 2) for s in states):
            # as torch.nn: its kernel refuses a tensor (unbatched, hx becomes a tuple and works)
            raise TypeError(
                "LSTMCell: expected hx to be a tuple (h_0, c_0) of tensors, got a Tensor"
            )
        return self._step(input, states, w)


class GRUCell(_CellMixin, torch.nn.GRUCell):
    """torch.nn.GRUCell on fastrnn kernels, plus keyword-only `reset_after`."""

    _kernel_mode = "gru"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device=None,
        dtype=None,
        *,
        reset_after: bool = True,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self._init_extras(reset_after=reset_after)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        states = () if hx is None else (hx,)
        plain = self._plain_call(input, states)
        if plain is not None:
            return plain[0]
        traced = fx_leaf_call(self, input, hx)  # under torch.fx.symbolic_trace
        if traced is not None:
            return traced
        w = self._weights()  # (once a call: a parametrization computes them)
        if self._fallback(input, states, w):
            return torch.nn.GRUCell.forward(self, input, hx)
        return self._step(input, states, w)[0]


_OWN_CELLS = (RNNCell, LSTMCell, GRUCell)  # classes whose parameters are in _parameters
_MODULE_GETATTR = torch.nn.Module.__getattr__  # torch.fx.symbolic_trace swaps it while tracing
