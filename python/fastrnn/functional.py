"""Stateless numpy API: one recurrent layer, one direction, a whole sequence.

    y, state, ctx = forward(mode, x, params, hx, lengths, training=True, reverse=False)
    dx, dhx, grads = backward(ctx, dy, dstate)

`forward` runs the fused C++ kernel and, when training, returns a context holding what backward
needs (the inputs and the saved gate activations). `backward` reads the context and leaves it
intact, so it can be called again. Shape letters as in DESIGN.md: T steps, N batch, I inputs,
H hidden units, P projection, S state size (P with projection, else H), G gates.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from fastrnn import _C
from fastrnn.nn._checks import bool_flag

MODES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
PARAM_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ch")
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class Context:
    """What backward needs from a training forward. Opaque to users; never modified."""

    desc: _C.RnnDesc
    x: np.ndarray  # [T,N,I]
    lengths: np.ndarray | None  # [N] int64
    weights: tuple  # (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, weight_ch), None if absent
    reserve: np.ndarray  # saved activations
    reverse: bool
    keys: tuple  # the parameter names given to forward


def _shape(a) -> str:
    return str(tuple(np.shape(a)))


def as_float_array(value, name: str, dtype=None, *, of: str = "x") -> np.ndarray:
    """Returns `value` as a C-contiguous float32/float64 array (of exactly `dtype` when given,
    `of` saying whose dtype that is); raises TypeError naming `name`."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except Exception as e:  # noqa: BLE001 - any conversion failure is a type error here
            raise TypeError(f"{name}: expected a numpy array, got {type(value).__name__}") from e
    if dtype is None:
        if value.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    elif value.dtype != dtype:
        why = "" if name == of else f" (the dtype of {of})"
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}{why}, got {value.dtype}")
    return np.asarray(value, order="C")  # (ascontiguousarray would make a 0-d array 1-d)


def _check_shape(a: np.ndarray, name: str, expected: tuple) -> None:
    if a.shape != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {a.shape}")


def _check_no_overlap(reserve_out, inputs: dict) -> None:
    """A reserve_out the forward writes must not share memory with anything it reads
    (inputs: the arrays by the names the error message gives them)."""
    for name, a in inputs.items():
        if a is not None and np.may_share_memory(reserve_out, a):
            raise ValueError(f"reserve_out: must not share memory with {name}")


def check_lengths(lengths, T: int, N: int) -> np.ndarray | None:
    """Validates `lengths` ([N] integers in 1..T) and returns a copy as a contiguous int64 array
    (a copy: a backward context must not see the caller refill a lengths buffer)."""
    if lengths is None:
        return None
    if hasattr(lengths, "detach") and hasattr(lengths, "numpy"):
        lengths = lengths.detach().cpu().numpy()
    try:
        arr = np.asarray(lengths)
    except (TypeError, ValueError) as e:  # nested or ragged sequences
        raise TypeError(f"lengths: expected an integer array, got {type(lengths).__name__}") from e
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths: expected an integer array, got dtype {arr.dtype}")
    if arr.shape != (N,):
        raise ValueError(
            f"lengths: expected shape ({N},) (one length per sequence), got {arr.shape}"
        )
    if N and (arr.min() < 1 or arr.max() > T):
        raise ValueError(
            f"lengths: each length must be in 1..T={T}, got values from {arr.min()} to {arr.max()}"
        )
    return np.array(arr, dtype=np.int64, order="C")


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode: expected one of {sorted(MODES)}, got {mode!r}")
    return mode


def forward(
    mode: str,
    x,
    params: dict,
    hx=None,
    lengths=None,
    *,
    training: bool = True,
    reverse: bool = False,
    reset_after: bool = True,
    cell_clip: float | None = None,
    reserve_out=None,
):
    """Runs one layer in one direction over a whole sequence.

    mode: 'rnn_tanh', 'rnn_relu', 'lstm' or 'gru'.
    x: [T,N,I] float32 or float64, time-major; T >= 1. N = 0 (an empty batch) gives empty y and
        state, as torch.nn does.
    params: 'weight_ih' [G*H,I], 'weight_hh' [G*H,S]; optional 'bias_ih', 'bias_hh' [G*H] (both
        or neither); LSTM only: 'weight_hr' [P,H] (projection), 'weight_ch' [3,H] (peepholes i,f,o).
    hx: None (zeros), h0 [N,S], or for LSTM (h0 [N,S], c0 [N,H]) where either may be None.
    lengths: None (all T) or int [N] in 1..T.
    reverse: run time backwards, from each sequence's last real step.
    reset_after: GRU variant (True: PyTorch/cuDNN; False: Cho et al. 2014).
    cell_clip: LSTM cell clip κ > 0, or None.
    reserve_out: None, or in training a 1-D array of x's dtype to hold what backward needs, in
        place of a new one: the `reserve` of an earlier call's ctx that no backward will use
        again (a training loop reuses it so that a large reserve is not faulted in every step).

    Returns (y [T,N,S], state, ctx): state is h_n [N,S], or (h_n [N,S], c_n [N,H]) for LSTM;
    ctx is the backward context (None when training=False). ctx refers to x and the parameters
    without copying them: changing them in place before backward changes what backward computes
    (lengths is copied and hx is not kept, so those two may change).
    """
    mode = _check_mode(mode)
    x = as_float_array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x: expected 3 dimensions [T, N, I], got shape {x.shape}")
    T, N, I = x.shape
    if T < 1:
        raise ValueError(f"x: expected at least one time step (T >= 1), got shape {x.shape}")
    if I < 1:
        raise ValueError(f"x: expected I >= 1 input features, got shape {x.shape}")
    dtype = x.dtype
    if not isinstance(params, dict):
        raise TypeError(f"params: expected a dict of arrays, got {type(params).__name__}")
    unknown = set(params) - set(PARAM_KEYS)
    if unknown:
        raise ValueError(f"params: unknown keys {sorted(unknown)}; expected some of {PARAM_KEYS}")
    for key in ("weight_ih", "weight_hh"):
        if key not in params:
            raise ValueError(f"params: missing '{key}'")
    if ("bias_ih" in params) != ("bias_hh" in params):
        raise ValueError("params: give both 'bias_ih' and 'bias_hh', or neither")
    lstm = mode == "lstm"
    for key in ("weight_hr", "weight_ch"):
        if key in params and not lstm:
            raise ValueError(f"params: '{key}' is only for mode 'lstm', got mode {mode!r}")
    p = {k: as_float_array(v, f"params['{k}']", dtype) for k, v in params.items()}

    G = MODES[mode]
    w_hh = p["weight_hh"]
    if w_hh.ndim != 2 or w_hh.shape[0] % G or w_hh.shape[0] == 0:
        raise ValueError(
            f"params['weight_hh']: expected shape [{G}*H, S] for mode {mode!r}, got {w_hh.shape}"
        )
    H = w_hh.shape[0] // G
    P = 0
    if "weight_hr" in p:
        if p["weight_hr"].ndim != 2 or p["weight_hr"].shape[1] != H:
            raise ValueError(
                f"params['weight_hr']: expected shape [P, {H}], got {p['weight_hr'].shape}"
            )
        P = p["weight_hr"].shape[0]
        if not 0 < P < H:
            raise ValueError(f"params['weight_hr']: projection size must be in 1..{H - 1}, got {P}")
    S = P or H
    _check_shape(p["weight_ih"], "params['weight_ih']", (G * H, I))
    _check_shape(w_hh, "params['weight_hh']", (G * H, S))
    if "bias_ih" in p:
        _check_shape(p["bias_ih"], "params['bias_ih']", (G * H,))
        _check_shape(p["bias_hh"], "params['bias_hh']", (G * H,))
    if "weight_ch" in p:
        _check_shape(p["weight_ch"], "params['weight_ch']", (3, H))

    h0, c0 = _split_state(hx, lstm, "hx")
    if h0 is not None:
        h0 = as_float_array(h0, "hx", dtype) if not lstm else as_float_array(h0, "hx[0]", dtype)
        _check_shape(h0, "hx" if not lstm else "hx[0]", (N, S))
    if c0 is not None:
        c0 = as_float_array(c0, "hx[1]", dtype)
        _check_shape(c0, "hx[1]", (N, H))
    lengths = check_lengths(lengths, T, N)
    clip = _check_clip(cell_clip, lstm)

    desc = _C.RnnDesc(
        mode,
        I,
        H,
        proj_size=P,
        bias="bias_ih" in p,
        reset_after=bool(reset_after),
        peephole="weight_ch" in p,
        cell_clip=clip,
    )
    weights = tuple(p.get(k) for k in PARAM_KEYS)
    if training and reserve_out is not None:
        named = {f"params['{k}']": v for k, v in p.items()}
        _check_no_overlap(reserve_out, {"x": x, "hx": h0, "hx[1]": c0, **named})
    if N == 0:  # an empty batch, as torch.nn takes it: empty outputs and no kernel call
        y, h_n = np.zeros((T, 0, S), dtype), np.zeros((0, S), dtype)
        c_n = np.zeros((0, H), dtype) if lstm else None
        reserve = np.zeros(0, dtype) if training else None
    else:
        y, h_n, c_n, reserve = _C.rnn_forward(
            desc, x, lengths, h0, c0, *weights, bool(reverse), bool(training), reserve_out
        )
    state = (h_n, c_n) if lstm else h_n
    ctx = None
    if training:
        ctx = Context(desc, x, lengths, weights, reserve, bool(reverse), tuple(p))
    return y, state, ctx


def backward(ctx: Context, dy, dstate=None, grads: dict | None = None, *, input_grad: bool = True):
    """Backward of a training forward.

    dy: [T,N,S]; dstate: None, dh_n [N,S], or for LSTM (dh_n, dc_n) where either may be None.
    grads: optional dict (same keys as the forward's params) of arrays to accumulate into;
        by default new zero arrays are made.
    input_grad: False skips dx (its GEMM): for an input that is data, not a result to train.
    Returns (dx [T,N,I] or None, dhx, grads): dhx is dh0 [N,S], or (dh0, dc0) for LSTM.
    """
    if not isinstance(ctx, Context):
        raise TypeError(
            "ctx: expected the context returned by forward(training=True), "
            f"got {type(ctx).__name__}"
        )
    desc = ctx.desc
    lstm = desc.mode == "lstm"
    dtype = ctx.x.dtype
    T, N, _ = ctx.x.shape
    S, H = desc.state_size, desc.hidden_size
    dy = as_float_array(dy, "dy", dtype)
    _check_shape(dy, "dy", (T, N, S))
    dh_n, dc_n = _split_state(dstate, lstm, "dstate")
    if dh_n is not None:
        name = "dstate[0]" if lstm else "dstate"
        dh_n = as_float_array(dh_n, name, dtype)
        _check_shape(dh_n, name, (N, S))
    if dc_n is not None:
        dc_n = as_float_array(dc_n, "dstate[1]", dtype)
        _check_shape(dc_n, "dstate[1]", (N, H))
    if grads is not None and not isinstance(grads, dict):
        raise TypeError(f"grads: expected a dict of arrays, got {type(grads).__name__}")
    input_grad = bool_flag(input_grad, "input_grad")
    if grads is None:
        grads = {
            k: np.zeros_like(w)
            for k, w in zip(PARAM_KEYS, ctx.weights, strict=True)
            if w is not None
        }
    else:
        for k, w in zip(PARAM_KEYS, ctx.weights, strict=True):
            if w is None:
                continue
            if k not in grads:
                raise ValueError(f"grads: missing '{k}'")
            g = grads[k]
            if not isinstance(g, np.ndarray) or g.dtype != dtype or not g.flags.c_contiguous:
                raise TypeError(f"grads['{k}']: expected a C-contiguous {dtype} numpy array")
            _check_shape(g, f"grads['{k}']", w.shape)
    if N == 0:  # an empty batch: no kernel call, nothing to add to the weight gradients
        dx = np.zeros(ctx.x.shape, dtype) if input_grad else None
        dh0 = np.zeros((0, S), dtype)
        dc0 = np.zeros((0, H), dtype) if lstm else None
        return dx, ((dh0, dc0) if lstm else dh0), grads
    dx, dh0, dc0 = _C.rnn_backward(
        desc,
        dy,
        dh_n,
        dc_n,
        ctx.x,
        ctx.lengths,
        *ctx.weights,
        ctx.reserve,
        ctx.reverse,
        *(
            grads.get(k) if w is not None else None
            for k, w in zip(PARAM_KEYS, ctx.weights, strict=True)
        ),
        need_dx=input_grad,
    )
    dhx = (dh0, dc0) if lstm else dh0
    return dx, dhx, grads


def _split_state(state, lstm: bool, name: str):
    """Splits an LSTM (h, c) pair; returns (h, None) for the other modes."""
    if state is None:
        return None, None
    if lstm:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"{name}: expected a pair (h, c) for mode 'lstm'")
        return state[0], state[1]
    if isinstance(state, (tuple, list)):
        raise TypeError(f"{name}: expected an array (not a tuple) for this mode")
    return state, None


def _check_clip(cell_clip, lstm: bool) -> float:
    if cell_clip is None:
        return 0.0
    if not lstm:
        raise ValueError("cell_clip: only LSTM has a cell state to clip")
    if isinstance(cell_clip, (bool, np.bool_, str, bytes)):
        raise TypeError(f"cell_clip: expected a positive number, got {cell_clip!r}")
    try:
        clip = float(operator.index(cell_clip)) if isinstance(cell_clip, int) else float(cell_clip)
    except (TypeError, ValueError):
        raise TypeError(f"cell_clip: expected a positive number, got {cell_clip!r}") from None
    if not clip > 0 or clip == float("inf"):
        raise ValueError(f"cell_clip: expected a finite number > 0, got {cell_clip!r}")
    return clip
