"""Numpy recurrent layers with torch.nn's constructors, parameter names and state_dict.

`RNN`, `LSTM` and `GRU` hold their parameters in `layer.params` and gradients in `layer.grads`
(dicts keyed by PyTorch's names: weight_ih_l0, weight_hh_l0_reverse, ...). `forward` runs the
fused C++ kernel once per layer and direction (no Python loop over time steps) and remembers what
`backward` needs; `backward` accumulates into `layer.grads` and returns the input and initial-state
gradients.
"""

from __future__ import annotations

import numbers
import operator
import sys

import numpy as np

from fastrnn import _C
from fastrnn import functional as F
from fastrnn._params import ParameterHolder, dropout_mask, seeded_rng
from fastrnn.nn._checks import bool_flag

_SUFFIX = ("", "_reverse")


def _positive_int(value, name: str) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}") from None
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return value


def _drop_batch_axis(state):
    if isinstance(state, tuple):
        return tuple(s[:, 0] for s in state)
    return state[:, 0]


class RNNBase(ParameterHolder):
    """Shared machinery of RNN, LSTM and GRU (not used directly)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        dtype=np.float32,
        seed: int | None = None,
        reset_after: bool = True,
        peephole: bool = False,
        cell_clip: float | None = None,
    ):
        self.mode = mode
        self.input_size = _positive_int(input_size, "input_size")
        self.hidden_size = _positive_int(hidden_size, "hidden_size")
        self.num_layers = _positive_int(num_layers, "num_layers")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.reset_after = bool(reset_after)
        self.peephole = bool(peephole)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"dropout: expected a float in [0, 1], got {dropout!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout}")
        self.dropout = float(dropout)
        try:
            proj_size = operator.index(proj_size)
        except TypeError:
            raise TypeError(f"proj_size: expected an int, got {type(proj_size).__name__}") from None
        if proj_size < 0:
            raise ValueError(f"proj_size: expected an int >= 0, got {proj_size}")
        if proj_size and mode != "lstm":
            raise ValueError("proj_size: only LSTM supports a projection")
        if proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size: expected a size smaller than hidden_size={self.hidden_size}, "
                f"got {proj_size}"
            )
        self.proj_size = proj_size
        if peephole and mode != "lstm":
            raise ValueError("peephole: only LSTM has peephole connections")
        self.cell_clip = F._check_clip(cell_clip, mode == "lstm")
        dtype = np.dtype(dtype)
        if dtype not in F.FLOAT_DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
        self.dtype = dtype
        self.seed = seed
        self._rng = seeded_rng(seed)
        self._check_core_limits()
        self._init_parameters()

    # ---- parameters ----

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def state_size(self) -> int:
        return self.proj_size or self.hidden_size

    def _check_core_limits(self) -> None:
        """Raises ValueError for sizes the core cannot run (32-bit BLAS extents), before any
        parameter is allocated."""
        deeper = [self.num_directions * self.state_size] if self.num_layers > 1 else []
        for in_size in [self.input_size, *deeper]:
            _C.RnnDesc(self.mode, in_size, self.hidden_size, proj_size=self.proj_size)

    def _param_shapes(self) -> dict:
        G = F.MODES[self.mode]
        H, S, D = self.hidden_size, self.state_size, self.num_directions
        shapes = {}
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else D * S
            for d in range(D):
                sfx = f"_l{layer}{_SUFFIX[d]}"
                shapes["weight_ih" + sfx] = (G * H, in_size)
                shapes["weight_hh" + sfx] = (G * H, S)
                if self.bias:
                    shapes["bias_ih" + sfx] = (G * H,)
                    shapes["bias_hh" + sfx] = (G * H,)
                if self.proj_size:
                    shapes["weight_hr" + sfx] = (self.proj_size, H)
                if self.peephole:
                    shapes["weight_ch" + sfx] = (3, H)
        return shapes

    def _layer_params(self, layer: int, d: int) -> dict:
        sfx = f"_l{layer}{_SUFFIX[d]}"
        return {k: self.params[k + sfx] for k in F.PARAM_KEYS if k + sfx in self.params}

    # ---- forward / backward ----

    def _split_hx(self, hx, N: int, arg: str = "hx", unbatched: bool = False):
        """Returns per-(layer, direction) initial states: lists of h0 [N,S] and c0 [N,H] (N = 1
        for unbatched x, whose states are [L*D,S] and [L*D,H], as torch.nn takes them).
        arg names the argument in error messages ("hx", or "dh_n" for backward)."""
        LD = self.num_layers * self.num_directions
        lstm = self.mode == "lstm"
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{arg}: expected a pair (h, c) for LSTM")
                h0, c0 = hx
            else:
                if isinstance(hx, (tuple, list)):
                    raise TypeError(f"{arg}: expected an array, not a tuple")
                h0 = hx
        out = []
        for name, value, size, what in (
            (arg if not lstm else f"{arg}[0]", h0, self.state_size, "proj_size or hidden_size"),
            (f"{arg}[1]", c0, self.hidden_size, "hidden_size"),
        ):
            if value is None:
                out.append([None] * LD)
                continue
            value = F.as_float_array(value, name, self.dtype, of=f"this {type(self).__name__}")
            expected = (LD, size) if unbatched else (LD, N, size)
            if value.shape != expected:
                axes = "num_layers*num_directions, " + ("" if unbatched else "N, ") + what
                raise ValueError(
                    f"{name}: expected shape {expected} ({axes}"
                    f"{', as x is unbatched' if unbatched else ''}), got {value.shape}"
                )
            out.append(list(value[:, None] if unbatched else value))
        return out

    def forward(self, x, hx=None, lengths=None, training: bool = True):
        """Runs the whole stack.

        x: [T,N,I] ([N,T,I] when batch_first), or unbatched [T,I] as torch.nn accepts.
        hx: h_0 [L*D,N,S] (LSTM: (h_0, c_0 [L*D,N,H])); [L*D,S] with unbatched x.
        lengths: int [N] in 1..T (like a PackedSequence's lengths; need not be sorted).
        Returns (y [T,N,D*S], h_n [L*D,N,S]) or for LSTM (y, (h_n, c_n [L*D,N,H])); without the
        N axis for unbatched x. A training forward keeps x (time-major) and the parameters for
        backward without copying them: change them in place only after backward. An inference
        forward (training=False) keeps nothing and leaves the last training forward's for
        backward, as a forward under torch.no_grad leaves the graph before it.
        """
        x = F.as_float_array(x, "x", self.dtype, of=f"this {type(self).__name__}")
        given = x.shape  # for error messages: the caller's layout
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]
        elif x.ndim != 3:
            layout = "[N, T, I]" if self.batch_first else "[T, N, I]"
            raise ValueError(f"x: expected 3 dimensions {layout} (or [T, I]), got shape {x.shape}")
        elif self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        T, N, I = x.shape
        if T == 0:  # (N = 0, an empty batch, gives empty outputs as in torch.nn)
            raise ValueError(f"x: expected at least one time step (T >= 1), got shape {given}")
        if I != self.input_size:
            raise ValueError(f"x: expected {self.input_size} input features, got shape {given}")
        lengths = F.check_lengths(lengths, T, N)
        h0s, c0s = self._split_hx(hx, N, unbatched=unbatched)
        # x, hx and lengths are valid: what the previous training forward kept for backward is
        # replaced by this one's, so free it now rather than after this forward has allocated its
        # own (in a training loop both would otherwise be alive at once, doubling the peak
        # memory). Its reserves, when nothing else holds them, are written over by this
        # forward's. An inference forward keeps nothing and leaves it for backward (as a forward
        # under torch.no_grad leaves the graph before it).
        spare = []
        if training:
            spare = self._spare_reserves(T, N)
            self._set_thread_state(None)
        lstm = self.mode == "lstm"
        D = self.num_directions
        ctxs, masks, h_n, c_n = [], [], [], []
        inp = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                i = layer * D + d
                state0 = (h0s[i], c0s[i]) if lstm else h0s[i]
                y, state, ctx = F.forward(
                    self.mode,
                    inp,
                    self._layer_params(layer, d),
                    None
                    if (state0 is None or (lstm and h0s[i] is None and c0s[i] is None))
                    else state0,
                    lengths,
                    training=training,
                    reverse=d == 1,
                    reset_after=self.reset_after,
                    cell_clip=self.cell_clip or None,
                    reserve_out=_unshared(spare, i),
                )
                outs.append(y)
                ctxs.append(ctx)
                if lstm:
                    h_n.append(state[0])
                    c_n.append(state[1])
                else:
                    h_n.append(state)
            inp = outs[0] if D == 1 else np.concatenate(outs, axis=2)
            mask = None
            if training and self.dropout > 0 and layer < self.num_layers - 1:
                mask = dropout_mask(self._rng, inp.shape, self.dropout, self.dtype)
                inp = inp * mask
            masks.append(mask)
        y = inp
        if training:
            self._set_thread_state((ctxs, masks, T, N, unbatched))
        h_n = np.stack(h_n)
        state = (h_n, np.stack(c_n)) if lstm else h_n
        if unbatched:
            return y[:, 0], _drop_batch_axis(state)
        if self.batch_first:
            y = np.ascontiguousarray(y.transpose(1, 0, 2))
        return y, state

    __call__ = forward

    def _spare_reserves(self, T: int, N: int) -> list:
        """The reserves of this thread's previous training forward when it ran T steps of N
        sequences (so each is the size this one's needs), one per layer and direction."""
        cache = self._thread_state()
        if cache is None or cache[2:4] != (T, N):
            return []
        return [ctx.reserve for ctx in cache[0]]

    def backward(self, dy, dh_n=None, *, input_grad: bool = True):
        """Backward of the last training forward; accumulates into self.grads.

        dy: like forward's y. dh_n: like forward's h_n (LSTM: (dh_n, dc_n), either may be None).
        input_grad=False skips dx (the first layer's input-gradient GEMM), for an x that is data.
        Returns (dx, dhx): dx like x (None with input_grad=False); dhx like hx (dh_0, or
        (dh_0, dc_0) for LSTM).
        """
        cache = self._thread_state()
        if cache is None:
            raise RuntimeError("backward: call forward(..., training=True) first (in this thread)")
        input_grad = bool_flag(input_grad, "input_grad")
        with self._grad_lock:
            return self._backward(cache, dy, dh_n, input_grad)

    def _backward(self, cache, dy, dh_n, input_grad: bool):
        ctxs, masks, T, N, unbatched = cache
        lstm = self.mode == "lstm"
        D, S = self.num_directions, self.state_size
        dy = F.as_float_array(dy, "dy", self.dtype, of=f"this {type(self).__name__}")
        if unbatched:
            expected = (T, D * S)
        else:
            expected = (N, T, D * S) if self.batch_first else (T, N, D * S)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {dy.shape}")
        if unbatched:
            dy = dy[:, None, :]
        elif self.batch_first:
            dy = np.ascontiguousarray(dy.transpose(1, 0, 2))
        dh_list, dc_list = (
            self._split_hx(dh_n, N, "dh_n", unbatched)
            if dh_n is not None
            else ([None] * len(ctxs), [None] * len(ctxs))
        )
        dh0, dc0 = [None] * len(ctxs), [None] * len(ctxs)
        grad = dy
        for layer in reversed(range(self.num_layers)):
            if masks[layer] is not None:
                grad = grad * masks[layer]
            dx = None
            for d in range(D):
                i = layer * D + d
                dy_d = grad if D == 1 else np.ascontiguousarray(grad[:, :, d * S : (d + 1) * S])
                sfx = f"_l{layer}{_SUFFIX[d]}"
                grads = {k: self.grads[k + sfx] for k in F.PARAM_KEYS if k + sfx in self.grads}
                dstate = (dh_list[i], dc_list[i]) if lstm else dh_list[i]
                wanted = input_grad or layer > 0  # the layers above take the one below's y
                dx_d, dhx, _ = F.backward(ctxs[i], dy_d, dstate, grads=grads, input_grad=wanted)
                dx = dx_d if dx is None else dx + dx_d
                if lstm:
                    dh0[i], dc0[i] = dhx
                else:
                    dh0[i] = dhx
            grad = dx
        dh0 = np.stack(dh0)
        dhx = (dh0, np.stack(dc0)) if lstm else dh0
        if grad is None:
            return None, (_drop_batch_axis(dhx) if unbatched else dhx)
        if unbatched:
            return grad[:, 0], _drop_batch_axis(dhx)
        if self.batch_first:
            grad = np.ascontiguousarray(grad.transpose(1, 0, 2))
        return grad, dhx

    def __repr__(self) -> str:
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        extra += ", bidirectional=True" if self.bidirectional else ""
        extra += f", proj_size={self.proj_size}" if self.proj_size else ""
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"


def _unshared(spare: list, i: int, report=None):
    """Takes spare[i] out of the list; returns it if nothing else refers to it (no context or view
    still sees it, so it may be written over), else None. `report`, when given, receives the
    reference count read (how _sole_reference_count measures the baseline)."""
    if i >= len(spare):
        return None
    array, spare[i] = spare[i], None
    count = sys.getrefcount(array) if hasattr(sys, "getrefcount") else None
    if report is not None:
        report(count)
    if count is None or count != _SOLE_REFERENCE_COUNT:
        return None
    return array


def _sole_reference_count():
    """What sys.getrefcount says, inside _unshared, of an array nothing else refers to (CPython
    counts the call's own argument up to 3.13 and may not from 3.14): read off _unshared itself,
    given a list holding the only reference to a new array; None where there is no getrefcount
    (PyPy): never reuse there."""
    counts = []
    _unshared([np.empty(0)], 0, counts.append)
    return counts[0]


_SOLE_REFERENCE_COUNT = None  # while _sole_reference_count reads it
_SOLE_REFERENCE_COUNT = _sole_reference_count()


class RNN(RNNBase):
    """Elman RNN, h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu (torch.nn.RNN)."""

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
        *,
        dtype=np.float32,
        seed: int | None = None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            f"rnn_{nonlinearity}",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            seed=seed,
        )


class LSTM(RNNBase):
    """LSTM with torch.nn.LSTM's semantics (gate order i, f, g, o; proj_size), plus peepholes
    (`weight_ch_l{k}`, rows i, f, o) and a cell clip."""

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
        *,
        dtype=np.float32,
        seed: int | None = None,
        peephole: bool = False,
        cell_clip: float | None = None,
    ):
        super().__init__(
            "lstm",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            dtype=dtype,
            seed=seed,
            peephole=peephole,
            cell_clip=cell_clip,
        )


class GRU(RNNBase):
    """GRU with torch.nn.GRU's semantics (gate order r, z, n); reset_after=False gives Cho et
    al.'s variant n = tanh(W_in x + b_in + W_hn (r h) + b_hn)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype=np.float32,
        seed: int | None = None,
        reset_after: bool = True,
    ):
        super().__init__(
            "gru",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            seed=seed,
            reset_after=reset_after,
        )
