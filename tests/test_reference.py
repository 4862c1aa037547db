"""Tests of the numpy reference (tests/reference.py) itself: against torch.nn.RNN/LSTM/GRU in
float64 (outputs and every gradient, with hx, lengths, reverse, bias=False, projection) and
against central finite differences, which also cover what torch lacks (peepholes, cell clip,
GRU reset_after=False)."""

import numpy as np
import pytest
from reference import (
    MODES,
    assert_close,
    choose_cell_clip,
    finite_difference_grads,
    flip_valid,
    make_inputs,
    make_params,
    mixed_lengths,
    reference_backward,
    reference_forward,
)
from torch_oracle import torch_run

RTOL, ATOL = 1e-10, 1e-12  # reference vs torch, float64
FD_RTOL, FD_ATOL = 1e-6, 1e-7  # analytic vs central differences (eps 1e-6), float64

# (mode, proj) pairs that torch implements
TORCH_VARIANTS = [
    ("rnn_tanh", 0),
    ("rnn_relu", 0),
    ("lstm", 0),
    ("lstm", 3),
    ("gru", 0),
]
# name -> (with_hx, lengths kind, reverse, bias)
CASES = {
    "plain": (False, None, False, True),
    "hx": (True, None, False, True),
    "no_bias": (True, None, False, False),
    "lengths": (True, "mixed", False, True),
    "equal_lengths": (False, "equal", False, True),
    "reverse": (True, None, True, True),
    "reverse_lengths": (True, "mixed", True, True),
    "reverse_lengths_no_bias": (False, "mixed", True, False),
}


def lengths_for(kind, T, N):
    if kind is None:
        return None
    if kind == "equal":
        return np.full(N, T, dtype=np.int64)
    if kind == "ones":
        return np.ones(N, dtype=np.int64)
    return mixed_lengths(T, N)


def variant_id(v):
    mode, proj = v
    return f"{mode}_proj{proj}" if proj else mode


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", TORCH_VARIANTS, ids=variant_id)
def test_reference_matches_torch(variant, case):
    mode, proj = variant
    with_hx, lengths_kind, reverse, bias = CASES[case]
    T, N, n_in, H = 7, 5, 4, 6
    rng = np.random.default_rng(123)
    params = make_params(mode, n_in, H, proj=proj, bias=bias, rng=rng)
    x, hx, dy, dstate = make_inputs(mode, T, N, n_in, H, proj=proj, with_hx=with_hx, rng=rng)
    lengths = lengths_for(lengths_kind, T, N)

    y, state, cache = reference_forward(mode, x, params, hx, lengths, reverse=reverse)
    dx, dhx, grads = reference_backward(cache, dy, dstate)
    t_y, t_state, t_dx, t_dhx, t_grads = torch_run(
        mode, x, params, hx, lengths, reverse=reverse, dy=dy, dstate=dstate
    )
    assert_close(y, t_y, RTOL, ATOL, "y")
    assert_close(state, t_state, RTOL, ATOL, "state")
    assert_close(dx, t_dx, RTOL, ATOL, "dx")
    assert_close(grads, t_grads, RTOL, ATOL, "grads")
    if with_hx:
        assert_close(dhx, t_dhx, RTOL, ATOL, "dhx")


@pytest.mark.parametrize("variant", TORCH_VARIANTS, ids=variant_id)
def test_reference_matches_torch_partial_dstate(variant):
    """dy alone, and for lstm a dstate with one item None."""
    mode, proj = variant
    T, N, n_in, H = 5, 3, 4, 5
    rng = np.random.default_rng(7)
    params = make_params(mode, n_in, H, proj=proj, rng=rng)
    x, hx, dy, dstate = make_inputs(mode, T, N, n_in, H, proj=proj, with_hx=True, rng=rng)
    dstates = [None] + ([(dstate[0], None), (None, dstate[1])] if mode == "lstm" else [])
    for ds in dstates:
        _, _, cache = reference_forward(mode, x, params, hx)
        got = reference_backward(cache, dy, ds)
        want = torch_run(mode, x, params, hx, dy=dy, dstate=ds)[2:]
        assert_close(got, want, RTOL, ATOL, f"dstate={ds is None}")


# name -> (mode, forward kwargs, proj, peephole, clip)
FD_VARIANTS = {
    "rnn_tanh": ("rnn_tanh", {}, 0, False, False),
    "rnn_relu": ("rnn_relu", {}, 0, False, False),
    "lstm": ("lstm", {}, 0, False, False),
    "lstm_proj": ("lstm", {}, 2, False, False),
    "lstm_peephole": ("lstm", {}, 0, True, False),
    "lstm_clip": ("lstm", {}, 0, False, True),
    "lstm_proj_peephole_clip": ("lstm", {}, 3, True, True),
    "gru": ("gru", {}, 0, False, False),
    "gru_reset_before": ("gru", {"reset_after": False}, 0, False, False),
}
FD_CASES = {
    "hx": (True, None, False, True),
    "reverse_lengths": (True, "mixed", True, True),
    "lengths_no_bias": (False, "mixed", False, False),
}


@pytest.mark.parametrize("case", list(FD_CASES))
@pytest.mark.parametrize("variant", list(FD_VARIANTS))
def test_reference_gradients_match_finite_differences(variant, case):
    mode, kwargs, proj, peephole, clip = FD_VARIANTS[variant]
    with_hx, lengths_kind, reverse, bias = FD_CASES[case]
    T, N, n_in, H = 4, 3, 3, 4
    rng = np.random.default_rng(5)
    params = make_params(mode, n_in, H, proj=proj, peephole=peephole, bias=bias, rng=rng)
    if peephole:  # larger peepholes so that their effect is not negligible
        params["weight_ch"] *= 3
    x, hx, dy, dstate = make_inputs(mode, T, N, n_in, H, proj=proj, with_hx=with_hx, rng=rng)
    x *= 2  # drive the cells away from their linear region (and into the clip)
    lengths = lengths_for(lengths_kind, T, N)
    kwargs = dict(kwargs, reverse=reverse)
    if clip:
        kwargs["cell_clip"] = choose_cell_clip(x, params, hx, lengths, reverse)

    _, _, cache = reference_forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = reference_backward(cache, dy, dstate)
    n_dx, n_dhx, n_grads = finite_difference_grads(
        reference_forward, mode, x, params, hx, dy, dstate, lengths=lengths, **kwargs
    )
    assert_close(dx, n_dx, FD_RTOL, FD_ATOL, "dx")
    assert_close(grads, n_grads, FD_RTOL, FD_ATOL, "grads")
    if with_hx:
        assert_close(dhx, n_dhx, FD_RTOL, FD_ATOL, "dhx")


def test_flip_valid_is_an_involution_and_keeps_padding():
    a = np.arange(5 * 3, dtype=np.float64).reshape(5, 3)
    lengths = np.array([2, 5, 1])
    f = flip_valid(a, lengths)
    np.testing.assert_array_equal(f[:2, 0], a[:2, 0][::-1])
    np.testing.assert_array_equal(f[:, 1], a[::-1, 1])
    np.testing.assert_array_equal(f[2:, 0], a[2:, 0])
    np.testing.assert_array_equal(f[:, 2], a[:, 2])
    np.testing.assert_array_equal(flip_valid(f, lengths), a)
    np.testing.assert_array_equal(flip_valid(a, None), a[::-1])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_lengths_equal_running_each_sequence_alone(mode, reverse):
    """A batch with lengths equals each sequence truncated to its length and run alone;
    padded outputs are zero and padded inputs get zero gradient."""
    T, N, n_in, H = 6, 4, 3, 5
    rng = np.random.default_rng(11)
    params = make_params(mode, n_in, H, rng=rng)
    x, hx, dy, dstate = make_inputs(mode, T, N, n_in, H, with_hx=True, rng=rng)
    lengths = mixed_lengths(T, N)
    y, state, cache = reference_forward(mode, x, params, hx, lengths, reverse=reverse)
    dx, dhx, _ = reference_backward(cache, dy, dstate)
    states = state if mode == "lstm" else (state,)
    hxs = hx if mode == "lstm" else (hx,)
    for n, length in enumerate(lengths):
        hx_n = tuple(h[n : n + 1] for h in hxs)
        y_n, state_n, _ = reference_forward(
            mode,
            x[:length, n : n + 1],
            params,
            hx_n if mode == "lstm" else hx_n[0],
            reverse=reverse,
        )
        np.testing.assert_allclose(y[:length, n], y_n[:, 0], rtol=1e-13, atol=1e-14)
        assert not np.any(y[length:, n])
        assert not np.any(dx[length:, n])
        for s, s_n in zip(states, state_n if mode == "lstm" else (state_n,), strict=True):
            np.testing.assert_allclose(s[n], s_n[0], rtol=1e-13, atol=1e-14)


def test_lstm_variants_reduce_to_plain_lstm():
    """Zero peepholes and a clip no cell reaches change nothing; a small clip bounds c."""
    T, N, n_in, H = 5, 3, 4, 5
    rng = np.random.default_rng(3)
    params = make_params("lstm", n_in, H, rng=rng)
    x, hx, _, _ = make_inputs("lstm", T, N, n_in, H, with_hx=True, rng=rng)
    y, (h, c), _ = reference_forward("lstm", x, params, hx)
    with_zero_peepholes = dict(params, weight_ch=np.zeros((3, H)))
    y2, (h2, c2), _ = reference_forward("lstm", x, with_zero_peepholes, hx, cell_clip=1e3)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(c, c2)
    _, (_, c3), cache = reference_forward("lstm", 5 * x, params, hx, cell_clip=0.25)
    assert np.all(np.abs(c3) <= 0.25)
    assert any(np.any(s["pass"] == 0) for s in cache["steps"])
