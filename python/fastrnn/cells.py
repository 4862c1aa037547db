"""Step cells for streaming and custom loops (decoders, teacher forcing): RNNCell, LSTMCell,
GRUCell.

Constructors, parameter names (weight_ih, weight_hh, bias_ih, bias_hh) and initialisation follow
torch.nn.*Cell. Three ways to run a cell:

- `step(x, state)`: one inference step, a single C++ call that allocates only its outputs.
- `forward(x, state)` (also `cell(x, state)`, torch's idiom): one training step; the cell keeps a
  tape of the steps the caller drives until backward or reset() (as torch's cell builds a graph
  outside torch.no_grad), so a decoding or inference loop calls `step`.
- `backward(dstate)`: backward of the most recent forward step still on the tape (last in, first
  out); accumulates into `grads` and returns (dx, gradient of the state that step received).

Shapes: x [N,I] (or unbatched [I]); h [N,H]; c [N,H] (LSTM).
"""

from __future__ import annotations

import numpy as np

from fastrnn import _C
from fastrnn import functional as F
from fastrnn._params import ParameterHolder, seeded_rng
from fastrnn.layers import _positive_int

_KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ch")


class RNNCellBase(ParameterHolder):
    """Shared machinery of the step cells (not used directly)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
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
        self.bias = bool(bias)
        self.reset_after = bool(reset_after)
        if peephole and mode != "lstm":
            raise ValueError("peephole: only LSTM has peephole connections")
        self.peephole = bool(peephole)
        self.cell_clip = F._check_clip(cell_clip, mode == "lstm")
        dtype = np.dtype(dtype)
        if dtype not in F.FLOAT_DTYPES:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
        self.dtype = dtype
        self._rng = seeded_rng(seed)
        # Made first: it refuses sizes the core cannot run before any parameter is allocated.
        self._desc = _C.RnnDesc(
            mode,
            self.input_size,
            self.hidden_size,
            bias=self.bias,
            reset_after=self.reset_after,
            peephole=self.peephole,
            cell_clip=self.cell_clip,
        )
        self._init_parameters()

    def _param_shapes(self) -> dict:
        G, H = F.MODES[self.mode], self.hidden_size
        shapes = {"weight_ih": (G * H, self.input_size), "weight_hh": (G * H, H)}
        if self.bias:
            shapes["bias_ih"] = (G * H,)
            shapes["bias_hh"] = (G * H,)
        if self.peephole:
            shapes["weight_ch"] = (3, H)
        return shapes

    # ---- running ----

    def _input(self, x, name: str = "x"):
        """Returns (x [N,I] contiguous of the cell's dtype, whether x was unbatched)."""
        if not (type(x) is np.ndarray and x.dtype == self.dtype and x.flags.c_contiguous):
            x = F.as_float_array(x, name, self.dtype, of=f"this {type(self).__name__}")
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: expected shape [N, I] or [I], got {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected {self.input_size} input features, got shape {x.shape}"
            )
        return (x[None], True) if x.ndim == 1 else (x, False)

    def _state(self, state, N: int, unbatched: bool, name: str):
        """Returns (h [N,H] or None, c [N,H] or None) as contiguous arrays."""
        if state is None:
            return None, None
        if self.mode == "lstm":
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError(f"{name}: expected a pair (h, c) for LSTMCell")
            return (
                self._state_part(state[0], N, unbatched, name, 0),
                self._state_part(state[1], N, unbatched, name, 1),
            )
        if isinstance(state, (tuple, list)):
            raise TypeError(f"{name}: expected an array h, not a tuple")
        return self._state_part(state, N, unbatched, name, None), None

    def _state_part(self, value, N: int, unbatched: bool, name: str, index):
        """One part of a state as a contiguous [N,H] array of the cell's dtype (None stays None);
        `name` (`name[index]` for a part of a pair) names it in errors."""
        if value is None:
            return None
        ready = type(value) is np.ndarray and value.dtype == self.dtype and value.flags.c_contiguous
        if ready and not unbatched and value.shape == (N, self.hidden_size):
            return value  # the usual case (a step's own result fed back), before any label is made
        label = name if index is None else f"{name}[{index}]"
        if not ready:
            value = F.as_float_array(value, label, self.dtype, of=f"this {type(self).__name__}")
        if unbatched:  # as torch: an unbatched x takes unbatched states [H]
            if value.shape != (self.hidden_size,):
                raise ValueError(
                    f"{label}: expected shape {(self.hidden_size,)} (x is unbatched), got "
                    f"{value.shape}"
                )
            value = value[None]
        if value.shape != (N, self.hidden_size):
            raise ValueError(f"{label}: expected shape {(N, self.hidden_size)}, got {value.shape}")
        return value

    def _result(self, h, c, unbatched: bool):
        if unbatched:
            h = h[0]
            c = None if c is None else c[0]
        return (h, c) if self.mode == "lstm" else h

    def step(self, x, state=None):
        """One inference step: x [N,I] (or [I]), state h [N,H] (LSTM: (h, c)) or None (zeros).
        Returns the new state, shaped like the input's batch."""
        x, unbatched = self._input(x)
        h, c = self._state(state, x.shape[0], unbatched, "state")
        if x.shape[0] == 0:  # an empty batch, as torch.nn's cells take it: no kernel call
            empty = np.zeros((0, self.hidden_size), self.dtype)
            return self._result(empty, empty.copy() if self.mode == "lstm" else None, unbatched)
        try:
            h_new, c_new = self._step_kernel(x, h, c, self.params)
        except (TypeError, ValueError):
            # a parameter in another memory order (or not an array): as forward() takes it,
            # copied to C order, checked here rather than on every call's fast path
            params = {
                k: F.as_float_array(v, f"params['{k}']", self.dtype, of=f"this {self.mode} cell")
                for k, v in self.params.items()
            }
            h_new, c_new = self._step_kernel(x, h, c, params)
        return self._result(h_new, c_new, unbatched)

    def _step_kernel(self, x, h, c, p: dict):
        """_C.rnn_step on x [N, I], h [N, H], c [N, H] (LSTM) or None, the parameters p."""
        return _C.rnn_step(
            self._desc,
            x,
            h,
            c,
            p["weight_ih"],
            p["weight_hh"],
            p.get("bias_ih"),
            p.get("bias_hh"),
            p.get("weight_ch"),
        )

    def forward(self, x, state=None):
        """One training step; remembers it for backward. Returns the new state like step().
        The tape keeps a copy of x, so the caller may refill its input buffer for the next step."""
        x, unbatched = self._input(x)
        x = x.copy()  # ([N, I], one step: backward must not see the caller's later values)
        h, c = self._state(state, x.shape[0], unbatched, "state")
        hx = (h, c) if self.mode == "lstm" else h
        if self.mode == "lstm" and h is None and c is None:
            hx = None
        _, new_state, ctx = F.forward(
            self.mode,
            x[None],
            self.params,
            hx,
            training=True,
            reset_after=self.reset_after,
            cell_clip=self.cell_clip or None,
        )
        self._tape().append((ctx, unbatched))
        if self.mode == "lstm":
            return self._result(new_state[0], new_state[1], unbatched)
        return self._result(new_state, None, unbatched)

    __call__ = forward

    def backward(self, dstate):
        """Backward of the latest forward step on the tape.

        dstate: gradient of that step's new state (LSTM: (dh, dc), either may be None).
        Returns (dx, dstate_prev) shaped like that step's x and state.
        """
        tape = self._tape()
        if not tape:
            raise RuntimeError("backward: no forward step left on the tape (of this thread)")
        ctx, unbatched = tape[-1]
        N = ctx.x.shape[1]
        dh, dc = self._state(dstate, N, unbatched, "dstate")
        if dh is None:
            dh = np.zeros((N, self.hidden_size), self.dtype)
        grads = {k: self.grads[k] for k in self.params}
        with self._grad_lock:
            dx, dhx, _ = F.backward(
                ctx, dh[None], (None, dc) if self.mode == "lstm" else None, grads=grads
            )
        tape.pop()
        dx = dx[0]
        if self.mode == "lstm":
            dprev = self._result(dhx[0], dhx[1], unbatched)
        else:
            dprev = self._result(dhx, None, unbatched)
        return (dx[0] if unbatched else dx), dprev

    def _tape(self) -> list:
        """This thread's training steps, oldest first: (ctx, unbatched) pairs."""
        tape = self._thread_state()
        if tape is None:
            tape = []
            self._set_thread_state(tape)
        return tape

    def reset(self) -> None:
        """Forgets the steps this thread kept for backward."""
        self._set_thread_state(None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"


class RNNCell(RNNCellBase):
    """h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu (torch.nn.RNNCell)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        dtype=np.float32,
        seed: int | None = None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            f"rnn_{nonlinearity}", input_size, hidden_size, bias, dtype=dtype, seed=seed
        )


class LSTMCell(RNNCellBase):
    """torch.nn.LSTMCell (gates i, f, g, o) plus peepholes (`weight_ch`, rows i, f, o) and a cell
    clip."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
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
            bias,
            dtype=dtype,
            seed=seed,
            peephole=peephole,
            cell_clip=cell_clip,
        )


class GRUCell(RNNCellBase):
    """torch.nn.GRUCell (gates r, z, n); reset_after=False gives Cho et al.'s variant."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype=np.float32,
        seed: int | None = None,
        reset_after: bool = True,
    ):
        super().__init__(
            "gru", input_size, hidden_size, bias, dtype=dtype, seed=seed, reset_after=reset_after
        )
