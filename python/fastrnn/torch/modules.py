"""RNN, LSTM and GRU: torch.nn modules whose forward runs fastrnn's fused layer kernels.

Constructors, attributes, parameter names, state_dict, inputs (tensor or PackedSequence, sorted or
not, batch_first, unbatched, hx) and outputs are torch.nn.RNN/LSTM/GRU's; the fastrnn extras are
keyword-only: LSTM `peephole` (parameters `weight_ch_l{k}{_reverse}` [3,H], rows i, f, o) and
`cell_clip`, GRU `reset_after`. The classes derive from torch.nn.RNNBase, not from torch.nn.LSTM
and friends, because torch.compile refuses to trace anything that is an instance of those.

Each layer and direction is one `torch.ops.fastrnn.rnn_forward` call over the whole sequence
(through `_ops.layer_forward`); the stacking, the concatenation of directions and the dropout
between layers (torch's RNG, training only) are torch ops here, as in fastrnn/layers.py. Tensors
the kernels cannot take (another device, another dtype; CUDA without fastrnn's CUDA kernels and a
GPU), and calls that forward-mode AD carries a tangent into, run on torch's own implementation
after a one-time warning.

Shape letters as in DESIGN.md: T steps, N batch, I inputs, H hidden, P projection, S state size
(P with projection, else H), L layers, D directions.
"""

from __future__ import annotations

import math

import torch
from torch.nn.utils.rnn import PackedSequence

from fastrnn.functional import _check_clip
from fastrnn.torch._ops import (
    check_same_dtype,
    fx_leaf_call,
    kernel_refusal,
    layer_forward,
    raise_not_scriptable,
    warn_fallback,
)

_KERNEL_MODE = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "LSTM": "lstm", "GRU": "gru"}
_SUFFIX = ("", "_reverse")
_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ch")
_ABSENT = object()  # the default of RNN's and GRU's proj_size keyword: torch.nn refuses any value
_NO_PROJ_SIZE = "proj_size argument is only supported for LSTM, not RNN or GRU"  # torch.nn's words


class _RNNBase(torch.nn.RNNBase):
    """Shared forward of RNN, LSTM and GRU (not used directly)."""

    _torch_class: type  # the torch.nn class whose forward is the fallback

    def _init_extras(self, peephole=False, cell_clip=None, reset_after=True, factory=None):
        lstm, gru = self.mode == "LSTM", self.mode == "GRU"
        if not isinstance(peephole, bool):
            raise TypeError(f"peephole should be of type bool, got: {type(peephole).__name__}")
        if not isinstance(reset_after, bool):
            raise TypeError(
                f"reset_after should be of type bool, got: {type(reset_after).__name__}"
            )
        if peephole and not lstm:
            raise ValueError("peephole: only LSTM has peephole connections")
        if not reset_after and not gru:
            raise ValueError("reset_after: only GRU has a reset_after variant")
        self._clip = _check_clip(cell_clip, lstm)  # 0.0 = no clip
        self.peephole = peephole
        self.cell_clip = None if cell_clip is None else self._clip
        self.reset_after = reset_after
        if peephole:
            stdv = 1.0 / math.sqrt(self.hidden_size)
            for layer in range(self.num_layers):
                for d in range(2 if self.bidirectional else 1):
                    w = torch.nn.Parameter(torch.empty(3, self.hidden_size, **(factory or {})))
                    torch.nn.init.uniform_(w, -stdv, stdv)
                    self.register_parameter(f"weight_ch_l{layer}{_SUFFIX[d]}", w)
        self._init_slots()

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

    def _init_slots(self) -> None:
        """Caches _slots: per (layer, direction) in hx order, the names of (w_ih, w_hh, b_ih, b_hh,
        w_hr, w_ch), None where the structure has no such parameter."""
        present = (True, True, self.bias, self.bias, self.proj_size > 0, self.peephole)
        self._slots = [
            tuple(
                k + f"_l{layer}{_SUFFIX[d]}" if there else None
                for k, there in zip(_KEYS, present, strict=True)
            )
            for layer in range(self.num_layers)
            for d in range(2 if self.bidirectional else 1)
        ]

    def _weights(self) -> list:
        """The tensors named by _slots (through getattr, so parametrizations apply)."""
        return [tuple(None if n is None else getattr(self, n) for n in ns) for ns in self._slots]

    def __prepare_scriptable__(self):
        raise_not_scriptable(type(self).__name__)

    def forward(self, input, hx=None):
        """torch.nn's forward. input: [T,N,I] ([N,T,I] when batch_first), unbatched [T,I], or a
        PackedSequence; hx: h_0 [L*D,N,S] (LSTM: (h_0, c_0 [L*D,N,H])), unbatched without N.
        Returns (output [T,N,D*S] or a PackedSequence, h_n) or for LSTM (output, (h_n, c_n))."""
        traced = fx_leaf_call(self, input, hx)
        if traced is not None:
            return traced
        if isinstance(input, PackedSequence) and torch.compiler.is_compiling():
            # torch's packing ops have no fake implementation, so torch.compile cannot trace a
            # packed input: the call runs eagerly (a graph break), as torch.nn's RNNs do.
            return self._eager_forward(input, hx)
        return self._forward(input, hx)

    def _forward(self, input, hx):
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        weights = self._weights()
        states = () if hx is None else (tuple(hx) if lstm else (hx,))
        data = input.data if packed else input
        refusal = kernel_refusal(
            [data, *states, *(w for ws in weights for w in ws)], self._has_extras()
        )
        if refusal is not None:
            if self._has_extras():
                raise NotImplementedError(
                    f"fastrnn.torch.{type(self).__name__}: peephole, cell_clip and "
                    f"reset_after=False need fastrnn's kernels, but {refusal}"
                )
            warn_fallback(type(self).__name__, refusal)
            return self._torch_forward(input, hx)
        if lstm and hx is not None and len(states) != 2:
            raise RuntimeError("LSTM: expected hx to be a tuple (h_0, c_0)")

        D = 2 if self.bidirectional else 1
        S = self.proj_size or self.hidden_size
        name = type(self).__name__
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self.check_input(data, batch_sizes)
            # x: [T,N,I] in sorted order; lengths: int64 [N]
            x, lengths = torch._pad_packed_sequence(
                data, batch_sizes, False, 0.0, batch_sizes.size(0)
            )
            batched = True
        else:
            if input.dim() not in (2, 3):
                word = " tensor" if self._torch_class is torch.nn.RNN else ""  # torch.nn's words
                raise ValueError(
                    f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{word} instead"
                )
            batched = input.dim() == 3
            batch_dim = 0 if self.batch_first else 1
            x = input if batched else input.unsqueeze(batch_dim)
            self.check_input(x, None)
            if self.batch_first:
                x = x.transpose(0, 1)
            lengths = sorted_indices = unsorted_indices = None
        if x.shape[0] == 0:  # zero steps: torch.nn's error (an empty batch runs on the ops)
            return self._torch_forward(input, hx)
        check_same_dtype(
            [x, *(w for ws in weights for w in ws)],
            lambda: ["input", *(n for ns in self._slots for n in ns)],
        )
        x = x.contiguous()
        N = x.shape[1]
        LD = self.num_layers * D

        h0 = c0 = None
        if hx is not None:
            want = 3 if batched else 2
            if not packed and any(s.dim() != want for s in states):  # packed: the size check
                got = ", ".join(f"{s.dim()}-D" for s in states)
                raise RuntimeError(
                    f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx"
                    + (
                        f" and cx should also be {want}-D but got ({got}) tensors"
                        if lstm
                        else f" should also be {want}-D but got {got} tensor"
                    )
                )
            if not batched:
                states = tuple(s.unsqueeze(1) for s in states)
            sizes = ((LD, N, S), (LD, N, self.hidden_size))
            for k, s in enumerate(states):
                if s.shape != sizes[k]:
                    what = f"hidden[{k}]" if lstm else "hidden"
                    raise RuntimeError(f"Expected {what} size {sizes[k]}, got {list(s.shape)}")
            if lstm and isinstance(hx, torch.Tensor) and batched and sorted_indices is None:
                # torch.nn indexes hx[0] and hx[1] of a tensor too, and its kernel then refuses it
                # (unbatched or permuted, hx becomes a tuple first and works)
                raise TypeError(
                    f"{name}: expected hx to be a tuple (h_0, c_0) of tensors, got a Tensor"
                )
            if sorted_indices is not None:
                states = tuple(s.index_select(1, sorted_indices) for s in states)
            states = tuple(s.contiguous() for s in states)
            check_same_dtype([x, *states], lambda: ["input", "hx[0]", "hx[1]"])
            h0 = states[0]  # [L*D,N,S]
            c0 = states[1] if lstm else None  # [L*D,N,H]

        mode = _KERNEL_MODE[self.mode]
        inp, h_n, c_n = x, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                w = weights[k]
                h0_k = None if h0 is None else h0[k]
                c0_k = None if c0 is None else c0[k]
                y, h, c = layer_forward(
                    inp, lengths, h0_k, c0_k, *w, mode, d == 1, self.reset_after, self._clip
                )
                outs.append(y)  # [T,N,S]
                h_n.append(h)  # [N,S]
                c_n.append(c)  # [N,H]
            inp = outs[0] if D == 1 else torch.cat(outs, 2)  # [T,N,D*S]
            if self.dropout and self.training and layer < self.num_layers - 1:
                if packed:  # on the packed rows, as torch.nn does: the same masks from the RNG
                    rows, _ = torch._pack_padded_sequence(inp, lengths, False)
                    rows = torch.nn.functional.dropout(rows, self.dropout, True)
                    inp, _ = torch._pad_packed_sequence(rows, batch_sizes, False, 0.0, inp.shape[0])
                else:
                    inp = torch.nn.functional.dropout(inp, self.dropout, True)
        y = inp
        h_n = torch.stack(h_n)  # [L*D,N,S]
        state = (h_n, torch.stack(c_n)) if lstm else (h_n,)

        if packed:
            y_data, _ = torch._pack_padded_sequence(y, lengths, False)
            output = PackedSequence(y_data, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                state = tuple(s.index_select(1, unsorted_indices) for s in state)
        else:
            output = y.transpose(0, 1) if self.batch_first else y
            if not batched:
                output = output.squeeze(batch_dim)
                state = tuple(s.squeeze(1) for s in state)
        return output, (state if lstm else state[0])

    _eager_forward = torch.compiler.disable(_forward)

    def _torch_forward(self, input, hx):
        """torch.nn's own forward. Under torch.compile it runs eagerly (a graph break), as
        torch.nn's RNN modules do unless torch._dynamo.config.allow_rnn (which torch.export sets):
        dynamo does not trace them, and tracing torch's LSTM forward in bfloat16 or under
        autocast fails inside aot_autograd."""
        if torch.compiler.is_compiling() and not torch._dynamo.config.allow_rnn:
            return self._torch_forward_eagerly(input, hx)
        return self._torch_class.forward(self, input, hx)

    @torch.compiler.disable
    def _torch_forward_eagerly(self, input, hx):
        return self._torch_class.forward(self, input, hx)


class RNN(_RNNBase):
    """torch.nn.RNN on fastrnn kernels: h' = act(W_ih x + b_ih + W_hh h + b_hh), act tanh/relu."""

    _torch_class = torch.nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        proj_size=_ABSENT,  # as torch.nn.RNN: a ValueError, whatever its value
    ) -> None:
        if proj_size is not _ABSENT:
            raise ValueError(_NO_PROJ_SIZE)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        self.nonlinearity = nonlinearity
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self._init_extras()


class LSTM(_RNNBase):
    """torch.nn.LSTM on fastrnn kernels (gate order i, f, g, o; proj_size), plus keyword-only
    `peephole` (parameters weight_ch_l{k}{_reverse} [3,H]) and `cell_clip`."""

    _torch_class = torch.nn.LSTM
    get_expected_cell_size = torch.nn.LSTM.get_expected_cell_size
    check_forward_args = torch.nn.LSTM.check_forward_args
    permute_hidden = torch.nn.LSTM.permute_hidden

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        peephole: bool = False,
        cell_clip: float | None = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device=device,
            dtype=dtype,
        )
        self._init_extras(
            peephole=peephole, cell_clip=cell_clip, factory={"device": device, "dtype": dtype}
        )


class GRU(_RNNBase):
    """torch.nn.GRU on fastrnn kernels (gate order r, z, n), plus keyword-only `reset_after`
    (False: Cho et al.'s n = tanh(W_in x + b_in + W_hn (r h) + b_hn))."""

    _torch_class = torch.nn.GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        _proj_size: int = 0,  # torch.nn.GRU passes an 8th positional on as proj_size: 0 only
        device=None,
        dtype=None,
        *,
        reset_after: bool = True,
        proj_size=_ABSENT,  # as torch.nn.GRU: a ValueError, whatever its value
    ) -> None:
        if proj_size is not _ABSENT or _proj_size != 0:
            raise ValueError(_NO_PROJ_SIZE)
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device=device,
            dtype=dtype,
        )
        self._init_extras(reset_after=reset_after)
