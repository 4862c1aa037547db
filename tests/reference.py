"""Plain-numpy float64 reference (the test oracle) for fastrnn's recurrent layers.

Forward and hand-written backpropagation through time for the modes 'rnn_tanh', 'rnn_relu',
'lstm' (with optional projection, peepholes, cell clip) and 'gru' (reset_after True/False),
with per-sequence lengths and reverse time, following the equations in DESIGN.md.

API (the same calling convention as ``fastrnn.functional``):

    y, state, cache = reference_forward(mode, x, params, hx=None, lengths=None,
                                        reverse=False, reset_after=True, cell_clip=None)
    dx, dhx, grads = reference_backward(cache, dy, dstate=None)

Shapes: x [T,N,I]; params as in DESIGN.md without the ``_l0`` suffix ('weight_ih' [G*H,I],
'weight_hh' [G*H,S], optional 'bias_ih'/'bias_hh' [G*H], 'weight_hr' [P,H], 'weight_ch' [3,H]);
hx None, h0 [N,S] or for lstm (h0 [N,S], c0 [N,H]); y [T,N,S]; state h_n [N,S] or (h_n, c_n).
dhx always holds the gradient of the initial state (zeros when hx was None); grads has the
keys of params.  Everything is computed in float64 whatever the input dtype.

Also here: ``loss_and_grads``/``finite_difference_grads`` to gradcheck any function with
``reference_forward``'s signature, and ``make_params`` to draw random parameters.
"""

import numpy as np

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


def _linear(x, w, b=None):
    """x [N,K] @ w[M,K]^T (+ b [M]) -> [N,M]."""
    out = x @ w.T
    return out if b is None else out + b


def flip_valid(a, lengths):
    """Reverse the first lengths[n] steps of every sequence n of a [T,N,...]; padding unchanged.

    flip_valid is its own inverse.  With lengths=None every sequence is reversed whole.
    """
    out = a.copy()
    if lengths is None:
        return out[::-1].copy()
    for n, length in enumerate(lengths):
        out[:length, n] = a[:length, n][::-1]
    return out


def step_masks(T, N, lengths):
    """masks [T,N,1] float64: 1 where step t of sequence n exists (t < lengths[n]), else 0."""
    if lengths is None:
        return np.ones((T, N, 1))
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :]).astype(np.float64)[..., None]


# ---------------------------------------------------------------------------------------------
# vanilla RNN


def rnn_forward(x, p, h0, masks, relu):
    """x [T,N,I], h0 [N,H], masks [T,N,1] -> y [T,N,H], h_n [N,H], steps (per-step cache)."""
    T = x.shape[0]
    h = h0
    y = np.zeros((T,) + h0.shape)
    steps = []
    for t in range(T):
        a = _linear(x[t], p["weight_ih"], p.get("bias_ih")) + _linear(
            h, p["weight_hh"], p.get("bias_hh")
        )
        h_new = np.maximum(a, 0.0) if relu else np.tanh(a)
        steps.append({"h_prev": h, "a": a, "h": h_new})
        m = masks[t]
        # np.where, not a blend: a padded row's NaN or Inf must not reach the carried state.
        y[t] = np.where(m > 0, h_new, 0.0)
        h = np.where(m > 0, h_new, h)
    return y, h, steps


def rnn_backward(x, p, masks, steps, dy, dh, relu, grads):
    """Returns dx [T,N,I], dh0 [N,H]; adds the parameter gradients into grads."""
    dx = np.zeros_like(x)
    for t in reversed(range(x.shape[0])):
        s, m = steps[t], masks[t]
        dh = dh + m * dy[t]
        dh_cell = m * dh  # padded steps give and get no gradient
        if relu:
            da = dh_cell * (s["a"] > 0)
        else:
            da = dh_cell * (1 - s["h"] ** 2)
        dx[t] = da @ p["weight_ih"]
        grads["weight_ih"] += da.T @ x[t]
        grads["weight_hh"] += da.T @ s["h_prev"]
        if "bias_ih" in grads:
            grads["bias_ih"] += da.sum(0)
        if "bias_hh" in grads:
            grads["bias_hh"] += da.sum(0)
        dh = da @ p["weight_hh"] + (1 - m) * dh
    return dx, dh


# ---------------------------------------------------------------------------------------------
# LSTM (projection, peepholes, cell clip)


def lstm_forward(x, p, h0, c0, masks, cell_clip):
    """x [T,N,I], h0 [N,S], c0 [N,H] -> y [T,N,S], h_n [N,S], c_n [N,H], steps."""
    T = x.shape[0]
    H = c0.shape[1]
    w_ch = p.get("weight_ch")
    h, c = h0, c0
    y = np.zeros((T,) + h0.shape)
    steps = []
    for t in range(T):
        a = _linear(x[t], p["weight_ih"], p.get("bias_ih")) + _linear(
            h, p["weight_hh"], p.get("bias_hh")
        )
        a_i, a_f, a_g, a_o = (a[:, k * H : (k + 1) * H] for k in range(4))
        if w_ch is not None:
            a_i = a_i + w_ch[0] * c
            a_f = a_f + w_ch[1] * c
        i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g)
        c_pre = f * c + i * g
        if cell_clip is None:
            c_new, pass_mask = c_pre, np.ones_like(c_pre)
        else:
            c_new = np.clip(c_pre, -cell_clip, cell_clip)
            pass_mask = (np.abs(c_pre) <= cell_clip).astype(np.float64)
        if w_ch is not None:
            a_o = a_o + w_ch[2] * c_new
        o = sigmoid(a_o)
        tanh_c = np.tanh(c_new)
        m_out = o * tanh_c  # [N,H]
        h_new = m_out @ p["weight_hr"].T if "weight_hr" in p else m_out
        steps.append(
            {
                "h_prev": h,
                "c_prev": c,
                "i": i,
                "f": f,
                "g": g,
                "o": o,
                "c_pre": c_pre,
                "c": c_new,
                "tanh_c": tanh_c,
                "m": m_out,
                "pass": pass_mask,
            }
        )
        mk = masks[t]
        y[t] = np.where(mk > 0, h_new, 0.0)
        h = np.where(mk > 0, h_new, h)
        c = np.where(mk > 0, c_new, c)
    return y, h, c, steps


def lstm_backward(x, p, masks, steps, dy, dh, dc, grads):
    """Returns dx [T,N,I], dh0 [N,S], dc0 [N,H]; adds the parameter gradients into grads."""
    w_ch = p.get("weight_ch")
    dx = np.zeros_like(x)
    for t in reversed(range(x.shape[0])):
        s, mk = steps[t], masks[t]
        dh = dh + mk * dy[t]
        dh_cell, dc_cell = mk * dh, mk * dc  # padded steps give and get no gradient
        if "weight_hr" in p:
            grads["weight_hr"] += dh_cell.T @ s["m"]
            dm = dh_cell @ p["weight_hr"]
        else:
            dm = dh_cell
        i, f, g, o, c_prev = s["i"], s["f"], s["g"], s["o"], s["c_prev"]
        da_o = dm * s["tanh_c"] * o * (1 - o)
        dc_new = dc_cell + dm * o * (1 - s["tanh_c"] ** 2)
        if w_ch is not None:
            dc_new = dc_new + da_o * w_ch[2]
        dc_pre = dc_new * s["pass"]  # no gradient through clipped elements
        da_i = dc_pre * g * i * (1 - i)
        da_f = dc_pre * c_prev * f * (1 - f)
        da_g = dc_pre * i * (1 - g**2)
        dc_prev = dc_pre * f
        if w_ch is not None:
            dc_prev = dc_prev + da_i * w_ch[0] + da_f * w_ch[1]
            grads["weight_ch"][0] += (da_i * c_prev).sum(0)
            grads["weight_ch"][1] += (da_f * c_prev).sum(0)
            grads["weight_ch"][2] += (da_o * s["c"]).sum(0)
        da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)  # [N,4H]
        dx[t] = da @ p["weight_ih"]
        grads["weight_ih"] += da.T @ x[t]
        grads["weight_hh"] += da.T @ s["h_prev"]
        if "bias_ih" in grads:
            grads["bias_ih"] += da.sum(0)
        if "bias_hh" in grads:
            grads["bias_hh"] += da.sum(0)
        dh = da @ p["weight_hh"] + (1 - mk) * dh
        dc = dc_prev + (1 - mk) * dc
    return dx, dh, dc


# ---------------------------------------------------------------------------------------------
# GRU (reset_after True: PyTorch/cuDNN; False: Cho et al. 2014)


def gru_forward(x, p, h0, masks, reset_after):
    """x [T,N,I], h0 [N,H] -> y [T,N,H], h_n [N,H], steps."""
    T = x.shape[0]
    H = h0.shape[1]
    w_hh, b_hh = p["weight_hh"], p.get("bias_hh")
    h = h0
    y = np.zeros((T,) + h0.shape)
    steps = []
    for t in range(T):
        gi = _linear(x[t], p["weight_ih"], p.get("bias_ih"))  # [N,3H]
        ghrz = _linear(h, w_hh[: 2 * H], None if b_hh is None else b_hh[: 2 * H])
        r = sigmoid(gi[:, :H] + ghrz[:, :H])
        z = sigmoid(gi[:, H : 2 * H] + ghrz[:, H:])
        b_hn = None if b_hh is None else b_hh[2 * H :]
        if reset_after:
            hn = _linear(h, w_hh[2 * H :], b_hn)  # W_hn h + b_hn
            n = np.tanh(gi[:, 2 * H :] + r * hn)
        else:
            hn = _linear(r * h, w_hh[2 * H :], b_hn)  # W_hn (r h) + b_hn
            n = np.tanh(gi[:, 2 * H :] + hn)
        h_new = (1 - z) * n + z * h
        steps.append({"h_prev": h, "r": r, "z": z, "n": n, "hn": hn})
        mk = masks[t]
        y[t] = np.where(mk > 0, h_new, 0.0)
        h = np.where(mk > 0, h_new, h)
    return y, h, steps


def gru_backward(x, p, masks, steps, dy, dh, reset_after, grads):
    """Returns dx [T,N,I], dh0 [N,H]; adds the parameter gradients into grads."""
    H = dh.shape[1]
    w_hh = p["weight_hh"]
    dx = np.zeros_like(x)
    for t in reversed(range(x.shape[0])):
        s, mk = steps[t], masks[t]
        dh = dh + mk * dy[t]
        dh_cell = mk * dh  # padded steps give and get no gradient
        h_prev, r, z, n = s["h_prev"], s["r"], s["z"], s["n"]
        da_n = dh_cell * (1 - z) * (1 - n**2)
        da_z = dh_cell * (h_prev - n) * z * (1 - z)
        dh_prev = dh_cell * z
        if reset_after:
            da_r = da_n * s["hn"] * r * (1 - r)
            dhn = da_n * r  # gradient of W_hn h + b_hn
            dgh = np.concatenate([da_r, da_z, dhn], axis=1)
            grads["weight_hh"] += dgh.T @ h_prev
            dh_prev = dh_prev + dgh @ w_hh
        else:
            drh = da_n @ w_hh[2 * H :]  # gradient of r h
            da_r = drh * h_prev * r * (1 - r)
            dgh = np.concatenate([da_r, da_z, da_n], axis=1)
            grads["weight_hh"][: 2 * H] += dgh[:, : 2 * H].T @ h_prev
            grads["weight_hh"][2 * H :] += da_n.T @ (r * h_prev)
            dh_prev = dh_prev + dgh[:, : 2 * H] @ w_hh[: 2 * H] + drh * r
        dgi = np.concatenate([da_r, da_z, da_n], axis=1)
        dx[t] = dgi @ p["weight_ih"]
        grads["weight_ih"] += dgi.T @ x[t]
        if "bias_ih" in grads:
            grads["bias_ih"] += dgi.sum(0)
        if "bias_hh" in grads:
            grads["bias_hh"] += dgh.sum(0)
        dh = dh_prev + (1 - mk) * dh
    return dx, dh


# ---------------------------------------------------------------------------------------------
# dispatch


def state_sizes(mode, params):
    """(H, S): hidden units and recurrent-state features (S = P with projection)."""
    H = np.shape(params["weight_hh"])[0] // GATES[mode]
    S = np.shape(params["weight_hr"])[0] if "weight_hr" in params else H
    return H, S


def reference_forward(
    mode, x, params, hx=None, lengths=None, reverse=False, reset_after=True, cell_clip=None
):
    """Run one recurrent layer over x [T,N,I]; returns (y [T,N,S], state, cache) in float64."""
    if mode not in GATES:
        raise ValueError(f"unknown mode {mode!r}")
    x = _f64(x)
    p = {k: _f64(v) for k, v in params.items()}
    T, N, _ = x.shape
    H, S = state_sizes(mode, p)
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.int64)
        assert lengths.shape == (N,) and lengths.min() >= 1 and lengths.max() <= T
    masks = step_masks(T, N, lengths)
    if mode == "lstm":
        h0, c0 = (np.zeros((N, S)), np.zeros((N, H))) if hx is None else map(_f64, hx)
    else:
        h0 = np.zeros((N, S)) if hx is None else _f64(hx)
    # Reverse time: reverse each sequence's real steps, run forward, and reverse the outputs back.
    xs = flip_valid(x, lengths) if reverse else x
    if mode == "lstm":
        y, h_n, c_n, steps = lstm_forward(xs, p, h0, c0, masks, cell_clip)
        state = (h_n, c_n)
    elif mode == "gru":
        y, h_n, steps = gru_forward(xs, p, h0, masks, reset_after)
        state = h_n
    else:
        y, h_n, steps = rnn_forward(xs, p, h0, masks, relu=mode == "rnn_relu")
        state = h_n
    if reverse:
        y = flip_valid(y, lengths)
    cache = {
        "mode": mode,
        "x": xs,
        "params": p,
        "lengths": lengths,
        "masks": masks,
        "reverse": reverse,
        "reset_after": reset_after,
        "steps": steps,
    }
    return y, state, cache


def reference_backward(cache, dy, dstate=None):
    """Backprop through time.  dy [T,N,S]; dstate None, dh_n, or for lstm (dh_n, dc_n) whose
    items may be None.  Returns (dx [T,N,I], dhx, grads) with dhx = dh0 or (dh0, dc0)."""
    mode, p, x, masks = cache["mode"], cache["params"], cache["x"], cache["masks"]
    N = x.shape[1]
    H, S = state_sizes(mode, p)
    dy = _f64(dy)
    if cache["reverse"]:
        dy = flip_valid(dy, cache["lengths"])
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    if mode == "lstm":
        dh_n, dc_n = (None, None) if dstate is None else dstate
        dh_n = np.zeros((N, S)) if dh_n is None else _f64(dh_n)
        dc_n = np.zeros((N, H)) if dc_n is None else _f64(dc_n)
        dx, dh0, dc0 = lstm_backward(x, p, masks, cache["steps"], dy, dh_n, dc_n, grads)
        dhx = (dh0, dc0)
    else:
        dh_n = np.zeros((N, S)) if dstate is None else _f64(dstate)
        if mode == "gru":
            dx, dhx = gru_backward(
                x, p, masks, cache["steps"], dy, dh_n, cache["reset_after"], grads
            )
        else:
            relu = mode == "rnn_relu"
            dx, dhx = rnn_backward(x, p, masks, cache["steps"], dy, dh_n, relu, grads)
    if cache["reverse"]:
        dx = flip_valid(dx, cache["lengths"])
    return dx, dhx, grads


# ---------------------------------------------------------------------------------------------
# helpers for tests: random parameters, scalar loss, finite differences


def make_params(mode, n_in, H, *, proj=0, peephole=False, bias=True, dtype=np.float64, rng=None):
    """Random parameters drawn like PyTorch's init, uniform(-1/sqrt(H), 1/sqrt(H))."""
    rng = np.random.default_rng(0) if rng is None else rng
    G = GATES[mode]
    S = proj or H
    k = 1.0 / np.sqrt(H)
    shapes = {"weight_ih": (G * H, n_in), "weight_hh": (G * H, S)}
    if bias:
        shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
    if proj:
        shapes["weight_hr"] = (proj, H)
    if peephole:
        shapes["weight_ch"] = (3, H)
    return {name: rng.uniform(-k, k, size=shape).astype(dtype) for name, shape in shapes.items()}


def state_like(state, make):
    """Apply make(array) -> array to an h or (h, c) state."""
    return tuple(make(s) for s in state) if isinstance(state, tuple) else make(state)


def loss(y, state, dy, dstate):
    """The scalar sum(y*dy) + sum(state*dstate), whose gradients backward(dy, dstate) returns."""
    total = np.sum(np.asarray(y, np.float64) * dy)
    states = state if isinstance(state, tuple) else (state,)
    dstates = dstate if isinstance(dstate, tuple) else (dstate,)
    for s, ds in zip(states, dstates, strict=True):
        if ds is not None:
            total += np.sum(np.asarray(s, np.float64) * ds)
    return float(total)


def finite_difference_grads(forward, mode, x, params, hx, dy, dstate, eps=1e-6, **kwargs):
    """Central differences of loss(forward(mode, x, params, hx, **kwargs), dy, dstate) with
    respect to x, hx (when given) and every parameter.  Returns (dx, dhx, grads) like backward.

    forward is any function with reference_forward's signature (e.g. fastrnn.functional.forward);
    all arrays should be float64.
    """

    def f(x_, params_, hx_):
        y, state = forward(mode, x_, params_, hx_, **kwargs)[:2]
        return loss(y, state, dy, dstate)

    def numgrad(a, evaluate):
        g = np.zeros(a.shape)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = evaluate()
            a[idx] = old - eps
            minus = evaluate()
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        return g

    x = np.array(x, dtype=np.float64)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    if hx is not None:
        hx = state_like(hx, lambda a: np.array(a, dtype=np.float64))

    def evaluate():
        return f(x, params, hx)

    dx = numgrad(x, evaluate)
    grads = {k: numgrad(v, evaluate) for k, v in params.items()}
    if hx is None:
        dhx = None
    elif isinstance(hx, tuple):
        dhx = tuple(numgrad(a, evaluate) for a in hx)
    else:
        dhx = numgrad(hx, evaluate)
    return dx, dhx, grads


def mixed_lengths(T, N):
    """Unsorted lengths in 1..T with a 1 and a T among them (N <= 5)."""
    return np.array([T // 2 + 1, T, 1, max(1, T - 2), 2][:N], dtype=np.int64)


def make_inputs(mode, T, N, n_in, H, *, proj=0, with_hx=False, dtype=np.float64, rng=None):
    """Random (x [T,N,I], hx or None, dy [T,N,S], dstate like the final state)."""
    rng = np.random.default_rng(1) if rng is None else rng
    S = proj or H

    def draw(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x = draw(T, N, n_in)
    dy = draw(T, N, S)
    if mode == "lstm":
        hx = (draw(N, S), draw(N, H)) if with_hx else None
        dstate = (draw(N, S), draw(N, H))
    else:
        hx = draw(N, S) if with_hx else None
        dstate = draw(N, S)
    return x, hx, dy, dstate


def choose_cell_clip(x, params, hx=None, lengths=None, reverse=False):
    """A clip value that clips some cell values and lies well away from every pre-clip value,
    so that central differences do not straddle the kink."""
    for kappa in np.linspace(0.2, 1.5, 27):
        _, _, cache = reference_forward(
            "lstm", x, params, hx, lengths, reverse=reverse, cell_clip=kappa
        )
        real = cache["masks"][..., 0] > 0  # [T,N]
        c_pre = np.stack([s["c_pre"] for s in cache["steps"]])[real]
        gap = np.min(np.abs(np.abs(c_pre) - kappa))
        if gap > 1e-3 and np.any(np.abs(c_pre) > kappa):
            return float(kappa)
    raise AssertionError("no suitable cell clip value")


def assert_close(actual, expected, rtol, atol, what=""):
    """assert_allclose over arrays, tuples of arrays and dicts of arrays (same keys).

    atol is meant for values of O(1): it is scaled by max(1, max|expected|) per array."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (
            f"{what}: keys {sorted(actual)} != {sorted(expected)}"
        )
        for key in expected:
            assert_close(actual[key], expected[key], rtol, atol, f"{what}[{key!r}]")
    elif isinstance(expected, tuple):
        assert isinstance(actual, tuple | list) and len(actual) == len(expected), what
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, rtol, atol, f"{what}[{k}]")
    else:
        actual = np.asarray(actual)
        assert actual.shape == np.shape(expected), f"{what}: shape {actual.shape}"
        expected = np.asarray(expected, np.float64)
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(
            np.asarray(actual, np.float64), expected, rtol=rtol, atol=atol * scale, err_msg=what
        )
