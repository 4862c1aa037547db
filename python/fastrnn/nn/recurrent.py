"""Recurrent: adapts a numpy recurrent layer (fastrnn.RNN / LSTM / GRU), whose forward returns
(y, state), to the one-input one-output module protocol of Sequential, and optionally carries its
final state into the next forward (truncated backpropagation through time)."""

from __future__ import annotations

import numpy as np

from fastrnn._params import ThreadState


def _copy_state(state):
    return tuple(s.copy() for s in state) if isinstance(state, tuple) else state.copy()


def _check_carried(h, x_shape: tuple) -> None:
    """The state carried from the previous forward must be for this forward's batch:
    h [L*D, N, S] ([L*D, S] unbatched) against x [T, N, I] ([T, I]); x of another rank is the
    layer's to refuse."""
    if len(x_shape) not in (2, 3) or tuple(x_shape[1:-1]) == h.shape[1:-1]:
        return

    def batch(dims):
        return f"a batch of N={dims[0]}" if dims else "an unbatched sequence"

    raise ValueError(
        f"x: {batch(tuple(x_shape[1:-1]))} (shape {tuple(x_shape)}), but the state carried from "
        f"the previous forward (carry_state=True) is for {batch(h.shape[1:-1])}; call "
        "reset_state() when the batch changes"
    )


class Recurrent(ThreadState):
    """Recurrent(layer, output="sequence" | "last", carry_state=False).

    forward(x [T, N, I], training=True, *, hx=None, lengths=None) returns
      - output="sequence": the layer's y [T, N, D*S];
      - output="last": the top layer's final hidden state [N, D*S] (both directions concatenated,
        forward first), i.e. the state after each sequence's last real step when `lengths` is
        given — what a sequence classifier reads.
    The final state is kept in `.state` (h_n, or (h_n, c_n) for LSTM).

    carry_state=True is truncated BPTT: each forward without `hx` starts from the previous
    forward's final state (copied), and backward drops the gradient with respect to that initial
    state, so no gradient flows into the previous chunk. `reset_state()` starts again from zeros.

    params, grads, zero_grad, state_dict and load_state_dict are the layer's (unprefixed names).
    backward(dy) returns dx and keeps the initial-state gradient in `.dhx`.
    """

    def __init__(self, layer, output: str = "sequence", *, carry_state: bool = False):
        if output not in ("sequence", "last"):
            raise ValueError(f"output: expected 'sequence' or 'last', got {output!r}")
        if not hasattr(layer, "num_layers") or not hasattr(layer, "backward"):
            raise TypeError(
                f"layer: expected a fastrnn.RNN, LSTM or GRU, got {type(layer).__name__}"
            )
        if getattr(layer, "batch_first", False):
            raise ValueError("layer: Recurrent expects a time-major layer (batch_first=False)")
        self.layer = layer
        self.output = output
        self.carry_state = bool(carry_state)
        self.state = None
        self.dhx = None
        self._lstm = layer.mode == "lstm"
        # this thread's state: (y, h_n, c_n or None) shapes of its last training forward
        self._init_thread_state()

    @property
    def params(self) -> dict:
        return self.layer.params

    @property
    def grads(self) -> dict:
        return self.layer.grads

    @property
    def _rng(self):
        return self.layer._rng

    def zero_grad(self) -> None:
        self.layer.zero_grad()

    def state_dict(self) -> dict:
        return self.layer.state_dict()

    def load_state_dict(self, state_dict, strict: bool = True):
        return self.layer.load_state_dict(state_dict, strict)

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros."""
        self.state = None

    def forward(self, x, training: bool = True, *, hx=None, lengths=None):
        """x: [T, N, I]. Returns y [T, N, D*S] or, with output="last", [N, D*S]."""
        if hx is None and self.carry_state and self.state is not None:
            hx = self.state
            _check_carried(hx[0] if self._lstm else hx, np.shape(x))
        y, state = self.layer.forward(x, hx, lengths=lengths, training=training)
        self.state = _copy_state(state)
        h_n = state[0] if self._lstm else state
        c_shape = state[1].shape if self._lstm else None
        self._set_thread_state((y.shape, h_n.shape, c_shape) if training else None)
        if self.output == "sequence":
            return y
        D = self.layer.num_directions
        return np.concatenate(list(h_n[-D:]), axis=1) if D > 1 else h_n[-1]

    __call__ = forward

    def backward(self, dy, *, input_grad: bool = True):
        """dy: like forward's output -> dx [T, N, I] (None with input_grad=False, which skips its
        GEMM: for an input that is data); the layer's grads accumulate."""
        shapes = self._thread_state()
        if shapes is None:
            raise RuntimeError("backward: call forward(..., training=True) first (in this thread)")
        if self.output == "sequence":
            dx, dhx = self.layer.backward(dy, input_grad=input_grad)
        else:
            y_shape, h_shape, c_shape = shapes
            L_D, N, S = h_shape
            D = self.layer.num_directions
            dy = np.asarray(dy)
            if dy.shape != (N, D * S):
                raise ValueError(f"dy: expected shape {(N, D * S)}, got {dy.shape}")
            if dy.dtype != self.layer.dtype:
                raise TypeError(f"dy: expected dtype {self.layer.dtype}, got {dy.dtype}")
            dh_n = np.zeros(h_shape, dy.dtype)  # [L*D, N, S]
            for d in range(D):
                dh_n[L_D - D + d] = dy[:, d * S : (d + 1) * S]
            dstate = (dh_n, np.zeros(c_shape, dy.dtype)) if self._lstm else dh_n
            dx, dhx = self.layer.backward(
                np.zeros(y_shape, dy.dtype), dstate, input_grad=input_grad
            )
        self.dhx = dhx
        return dx

    def __repr__(self) -> str:
        return f"Recurrent({self.layer!r}, output={self.output!r})"
