"""Tests of fastrnn.functional (the stateless forward/backward API) in float32 and float64:
against the numpy reference (tests/reference.py), against central finite differences (float64
gradcheck), and against torch.nn.RNN/LSTM/GRU; all modes, lengths, reverse, hx, bias=False,
LSTM projection/peepholes/cell clip, GRU reset_after=False.  Also: backward twice on one ctx,
inputs left unmodified, training=False, non-contiguous inputs, partial dstate."""

import numpy as np
import pytest
from fastrnn import functional as F
from reference import (
    assert_close,
    choose_cell_clip,
    finite_difference_grads,
    make_inputs,
    make_params,
    mixed_lengths,
    reference_backward,
    reference_forward,
)
from torch_oracle import torch_run

DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}  # rtol, atol for O(1) values
FD_RTOL, FD_ATOL = 1e-6, 1e-7

# name -> (mode, proj, peephole, clip, reset_after)
VARIANTS = {
    "rnn_tanh": ("rnn_tanh", 0, False, False, True),
    "rnn_relu": ("rnn_relu", 0, False, False, True),
    "lstm": ("lstm", 0, False, False, True),
    "lstm_proj": ("lstm", 3, False, False, True),
    "lstm_peephole": ("lstm", 0, True, False, True),
    "lstm_clip": ("lstm", 0, False, True, True),
    "lstm_proj_peephole_clip": ("lstm", 2, True, True, True),
    "gru": ("gru", 0, False, False, True),
    "gru_reset_before": ("gru", 0, False, False, False),
}
TORCH_VARIANTS = ["rnn_tanh", "rnn_relu", "lstm", "lstm_proj", "gru"]
# name -> (with_hx, lengths kind, reverse, bias)
CASES = {
    "plain": (False, None, False, True),
    "hx": (True, None, False, True),
    "no_bias": (True, None, False, False),
    "lengths": (True, "mixed", False, True),
    "equal_lengths": (False, "equal", False, True),
    "unit_lengths": (True, "ones", False, True),
    "reverse": (True, None, True, True),
    "reverse_lengths": (True, "mixed", True, True),
    "reverse_lengths_no_bias": (False, "mixed", True, False),
}
FD_CASES = ["hx", "reverse_lengths", "reverse_lengths_no_bias"]


def lengths_for(kind, T, N):
    if kind is None:
        return None
    if kind == "equal":
        return np.full(N, T, dtype=np.int64)
    if kind == "ones":
        return np.ones(N, dtype=np.int64)
    return mixed_lengths(T, N)


def setup_problem(variant, case, dtype, sizes=(7, 5, 4, 6), seed=0):
    """Parameters, inputs and forward kwargs for one test.

    Returns (mode, x, params, hx, lengths, kwargs, dy, dstate); kwargs holds reverse,
    reset_after and cell_clip."""
    mode, proj, peephole, clip, reset_after = VARIANTS[variant]
    with_hx, lengths_kind, reverse, bias = CASES[case]
    T, N, n_in, H = sizes
    rng = np.random.default_rng(seed)
    params = make_params(mode, n_in, H, proj=proj, peephole=peephole, bias=bias, rng=rng)
    if peephole:
        params["weight_ch"] *= 3
    x, hx, dy, dstate = make_inputs(mode, T, N, n_in, H, proj=proj, with_hx=with_hx, rng=rng)
    x *= 2
    params = {k: v.astype(dtype) for k, v in params.items()}
    x, dy = x.astype(dtype), dy.astype(dtype)
    cast = (lambda a: tuple(v.astype(dtype) for v in a)) if mode == "lstm" else None
    if hx is not None:
        hx = cast(hx) if cast else hx.astype(dtype)
    dstate = cast(dstate) if cast else dstate.astype(dtype)
    lengths = lengths_for(lengths_kind, T, N)
    kwargs = {"reverse": reverse, "reset_after": reset_after, "cell_clip": None}
    if clip:
        kwargs["cell_clip"] = choose_cell_clip(x, params, hx, lengths, reverse)
    return mode, x, params, hx, lengths, kwargs, dy, dstate


def check_dtypes(dtype, *arrays):
    for a in arrays:
        if isinstance(a, dict):
            check_dtypes(dtype, *a.values())
        elif isinstance(a, tuple):
            check_dtypes(dtype, *a)
        else:
            assert isinstance(a, np.ndarray) and a.dtype == dtype, getattr(a, "dtype", type(a))


def check_dhx(dhx, want, with_hx, rtol, atol):
    """dhx is checked when hx was given; without hx it may be None or the zero-state gradient."""
    if with_hx or dhx is not None:
        assert_close(dhx, want, rtol, atol, "dhx")


# ---------------------------------------------------------------------------------------------
# against the numpy reference


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_reference(variant, case, dtype):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(variant, case, dtype)
    rtol, atol = TOL[dtype]
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = F.backward(ctx, dy, dstate)
    r_y, r_state, cache = reference_forward(mode, x, params, hx, lengths, **kwargs)
    r_dx, r_dhx, r_grads = reference_backward(cache, dy, dstate)

    assert_close(y, r_y, rtol, atol, "y")
    assert_close(state, r_state, rtol, atol, "state")
    assert_close(dx, r_dx, rtol, atol, "dx")
    assert_close(grads, r_grads, rtol, atol, "grads")
    check_dhx(dhx, r_dhx, hx is not None, rtol, atol)
    check_dtypes(np.dtype(dtype), y, state, dx, grads)
    if lengths is not None:  # padding: zero outputs, zero input gradients, exactly
        pad = np.arange(x.shape[0])[:, None] >= lengths[None, :]
        assert not np.any(y[pad]) and not np.any(dx[pad])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "lstm_proj_peephole_clip", "gru"])
def test_partial_dstate(variant, dtype):
    """dstate=None (dy only) and, for lstm, a dstate tuple with one item None."""
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(variant, "lengths", dtype)
    rtol, atol = TOL[dtype]
    options = [None] + ([(dstate[0], None), (None, dstate[1])] if mode == "lstm" else [])
    for ds in options:
        _, _, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
        got = F.backward(ctx, dy, ds)
        _, _, cache = reference_forward(mode, x, params, hx, lengths, **kwargs)
        want = reference_backward(cache, dy, ds)
        assert_close(got[0], want[0], rtol, atol, "dx")
        assert_close(got[1], want[1], rtol, atol, "dhx")
        assert_close(got[2], want[2], rtol, atol, "grads")


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "gru"])
def test_single_step_and_single_sequence(variant):
    for sizes in [(1, 3, 4, 5), (6, 1, 4, 5), (1, 1, 1, 1)]:
        mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
            variant, "hx", np.float64, sizes=sizes
        )
        y, state, ctx = F.forward(mode, x, params, hx, **kwargs)
        got = F.backward(ctx, dy, dstate)
        r_y, r_state, cache = reference_forward(mode, x, params, hx, **kwargs)
        want = reference_backward(cache, dy, dstate)
        assert_close((y, state) + tuple(got), (r_y, r_state) + tuple(want), 1e-10, 1e-12)


@pytest.mark.parametrize("lengths_dtype", [np.int32, np.int64])
def test_lengths_integer_dtypes(lengths_dtype):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem("lstm", "lengths", np.float64)
    y, state, _ = F.forward(mode, x, params, hx, lengths.astype(lengths_dtype), **kwargs)
    r_y, r_state, _ = reference_forward(mode, x, params, hx, lengths, **kwargs)
    assert_close((y, state), (r_y, r_state), 1e-10, 1e-12)


# ---------------------------------------------------------------------------------------------
# finite differences (gradcheck of the package in float64)


@pytest.mark.parametrize("case", FD_CASES)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_gradcheck(variant, case):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, case, np.float64, sizes=(4, 3, 3, 4), seed=5
    )
    _, _, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = F.backward(ctx, dy, dstate)
    n_dx, n_dhx, n_grads = finite_difference_grads(
        F.forward, mode, x, params, hx, dy, dstate, lengths=lengths, **kwargs
    )
    assert_close(dx, n_dx, FD_RTOL, FD_ATOL, "dx")
    assert_close(grads, n_grads, FD_RTOL, FD_ATOL, "grads")
    if hx is not None:
        assert_close(dhx, n_dhx, FD_RTOL, FD_ATOL, "dhx")


# ---------------------------------------------------------------------------------------------
# against torch


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_matches_torch(variant, case, dtype):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(variant, case, dtype, seed=1)
    rtol, atol = TOL[dtype]
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = F.backward(ctx, dy, dstate)
    t_y, t_state, t_dx, t_dhx, t_grads = torch_run(
        mode, x, params, hx, lengths, reverse=kwargs["reverse"], dy=dy, dstate=dstate
    )
    assert_close(y, t_y, rtol, atol, "y")
    assert_close(state, t_state, rtol, atol, "state")
    assert_close(dx, t_dx, rtol, atol, "dx")
    assert_close(grads, t_grads, rtol, atol, "grads")
    if hx is not None:
        assert_close(dhx, t_dhx, rtol, atol, "dhx")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", TORCH_VARIANTS)
def test_matches_torch_moderate_size(variant, dtype):
    """Sizes big enough to exercise blocked GEMMs and threading."""
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, "reverse_lengths", dtype, sizes=(12, 5, 40, 48), seed=2
    )
    x = x / 4
    rtol, atol = TOL[dtype]
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    got = F.backward(ctx, dy, dstate)
    want = torch_run(mode, x, params, hx, lengths, reverse=True, dy=dy, dstate=dstate)
    assert_close((y, state), want[:2], rtol, atol, "outputs")
    assert_close(got[0], want[2], rtol, atol, "dx")
    assert_close(got[1], want[3], rtol, atol, "dhx")
    assert_close(got[2], want[4], rtol, atol, "grads")


# ---------------------------------------------------------------------------------------------
# API contract


def copy_tree(a):
    if isinstance(a, dict):
        return {k: copy_tree(v) for k, v in a.items()}
    if isinstance(a, tuple):
        return tuple(copy_tree(v) for v in a)
    return None if a is None else np.array(a, copy=True)


def assert_equal_tree(a, b):
    if isinstance(b, dict):
        assert set(a) == set(b)
        for k in b:
            assert_equal_tree(a[k], b[k])
    elif isinstance(b, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            assert_equal_tree(u, v)
    elif b is None:
        assert a is None
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_backward_twice_on_same_ctx_is_identical(variant, dtype):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, "reverse_lengths", dtype
    )
    _, _, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    first = copy_tree(F.backward(ctx, dy, dstate))
    second = F.backward(ctx, dy, dstate)
    assert_equal_tree(second, first)
    # and with other upstream gradients in between
    F.backward(ctx, 3 * dy, None)
    assert_equal_tree(F.backward(ctx, dy, dstate), first)


@pytest.mark.parametrize("variant", ["rnn_relu", "lstm_proj_peephole_clip", "gru"])
def test_inputs_are_not_modified(variant):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, "reverse_lengths", np.float32
    )
    before = copy_tree((x, params, hx, lengths, dy, dstate))
    _, _, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    F.backward(ctx, dy, dstate)
    assert_equal_tree((x, params, hx, lengths, dy, dstate), before)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", ["hx", "reverse_lengths"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_inference_matches_training(variant, case, dtype):
    mode, x, params, hx, lengths, kwargs, _, _ = setup_problem(variant, case, dtype)
    rtol, atol = TOL[dtype]
    y, state, ctx = F.forward(mode, x, params, hx, lengths, training=True, **kwargs)
    y_inf, state_inf, ctx_inf = F.forward(mode, x, params, hx, lengths, training=False, **kwargs)
    assert ctx is not None
    assert ctx_inf is None
    assert_close(y_inf, y, rtol, atol, "y")
    assert_close(state_inf, state, rtol, atol, "state")
    check_dtypes(np.dtype(dtype), y_inf, state_inf)


def strided(a):
    """The same values as a, as a view that is not contiguous along any axis."""
    buf = np.zeros(np.shape(a) + (2,), dtype=np.asarray(a).dtype)
    buf[..., 0] = a
    return buf[..., 0]


def transposed(x):
    """The same [T,N,K] values as a transposed view of an [N,T,K] array."""
    return np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_non_contiguous_inputs(variant, dtype):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, "reverse_lengths", dtype
    )
    rtol, atol = TOL[dtype]
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    want = (y, state) + tuple(F.backward(ctx, dy, dstate))

    x_nc = transposed(x)
    assert not x_nc.flags.c_contiguous
    params_nc = {k: np.asfortranarray(v) if v.ndim == 2 else strided(v) for k, v in params.items()}
    params_nc["weight_ih"] = strided(params["weight_ih"])
    hx_nc = tuple(map(strided, hx)) if mode == "lstm" else strided(hx)
    dstate_nc = tuple(map(strided, dstate)) if mode == "lstm" else strided(dstate)
    y2, state2, ctx2 = F.forward(mode, x_nc, params_nc, hx_nc, strided(lengths), **kwargs)
    got = (y2, state2) + tuple(F.backward(ctx2, strided(dy), dstate_nc))
    assert_close(got, want, rtol, atol, "non-contiguous")


def test_float32_results_are_float32_and_close_to_float64():
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        "lstm_proj_peephole_clip", "reverse_lengths", np.float32
    )
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = F.backward(ctx, dy, dstate)
    check_dtypes(np.dtype(np.float32), y, state, dx, dhx, grads)

    def up(a):
        return copy_tree(a) if a is None else _astype(a, np.float64)

    y64, state64, ctx64 = F.forward(mode, up(x), up(params), up(hx), lengths, **kwargs)
    got64 = F.backward(ctx64, up(dy), up(dstate))
    check_dtypes(np.dtype(np.float64), y64, state64, *got64)
    assert_close((y, state, dx, dhx, grads), (y64, state64) + tuple(got64), 1e-4, 1e-5)


def _astype(a, dtype):
    if isinstance(a, dict):
        return {k: _astype(v, dtype) for k, v in a.items()}
    if isinstance(a, tuple):
        return tuple(_astype(v, dtype) for v in a)
    return np.asarray(a).astype(dtype)


def test_grads_have_the_keys_and_shapes_of_params():
    for variant in VARIANTS:
        for case in ["plain", "no_bias"]:
            mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
                variant, case, np.float32
            )
            y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
            dx, _, grads = F.backward(ctx, dy)
            assert set(grads) == set(params)
            for k in params:
                assert grads[k].shape == params[k].shape, k
            assert dx.shape == x.shape
            S = (
                params["weight_hr"].shape[0]
                if "weight_hr" in params
                else params["weight_hh"].shape[1]
            )
            assert y.shape == x.shape[:2] + (S,)
