"""Property-based tests (hypothesis) of the RNN API: for random shapes (zero-sized axes included),
memory layouts (Fortran order, strided and negative-stride views), dtypes, lengths arrays and
NaN/Inf inputs, every call either returns the float64 reference's result or raises ValueError /
TypeError — never a crash, a hang or a different answer.

Decided behaviour (README, "Guarantees"), torch.nn's: an empty batch (N = 0) gives empty outputs
and zero weight gradients; zero steps (T = 0) are an error, ValueError in the numpy API
(functional, layers, cells) and torch's RuntimeError in fastrnn.torch. Any memory order is
accepted (copied to C order); x must be float32 or float64 and the parameters and states of the
same dtype, anything else is a TypeError (no silent conversion). Search effort:
HYPOTHESIS_PROFILE (tests/conftest.py)."""

import warnings

import fastrnn
import numpy as np
import pytest
from fastrnn import functional as F
from hypothesis import given
from hypothesis import strategies as st
from reference import assert_close, make_params, reference_backward, reference_forward

MODES = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
LAYOUTS = ["C", "F", "strided", "negative"]


def relayout(a, layout):
    """The same values as `a` in another memory order (a view where possible)."""
    if a is None or layout == "C" or np.ndim(a) == 0:
        return a
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return np.ascontiguousarray(a[::-1])[::-1]  # negative stride on the first axis


@st.composite
def layer_cases(draw, allow_empty=True):
    mode = draw(st.sampled_from(MODES))
    low = 0 if allow_empty else 1
    T, N = draw(st.integers(low, 5)), draw(st.integers(low, 4))
    I, H = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    lstm = mode == "lstm"
    proj = draw(st.integers(1, H - 1)) if lstm and H > 1 and draw(st.booleans()) else 0
    return {
        "mode": mode,
        "T": T,
        "N": N,
        "I": I,
        "H": H,
        "dtype": dtype,
        "proj": proj,
        "peephole": lstm and draw(st.booleans()),
        # A clip kink between float32 and float64 rounding would change the gradient, so float64.
        "clip": draw(st.sampled_from([None, 0.5])) if lstm and dtype == np.float64 else None,
        "reset_after": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "reverse": draw(st.booleans()),
        "lengths": T > 0 and N > 0 and draw(st.booleans()),
        "hx": draw(st.booleans()),
        "layout": draw(st.sampled_from(LAYOUTS)),
        "seed": draw(st.integers(0, 2**16)),
    }


def inputs(c):
    """(x, params, hx, lengths, dy, dstate) in float64 for a case."""
    rng = np.random.default_rng(c["seed"])
    mode, T, N, H, S = c["mode"], c["T"], c["N"], c["H"], c["proj"] or c["H"]
    params = make_params(
        mode, c["I"], H, proj=c["proj"], peephole=c["peephole"], bias=c["bias"], rng=rng
    )
    x = rng.standard_normal((T, N, c["I"]))
    hx = None
    if c["hx"]:
        hx = rng.standard_normal((N, S))
        if mode == "lstm":
            hx = (hx, rng.standard_normal((N, H)))
    lengths = rng.integers(1, T + 1, size=N) if c["lengths"] else None
    dy = rng.standard_normal((T, N, S))
    dstate = rng.standard_normal((N, S))
    if mode == "lstm":
        dstate = (dstate, rng.standard_normal((N, H)))
    return x, params, hx, lengths, dy, dstate


def cast(value, dtype, layout):
    if value is None:
        return None
    if isinstance(value, tuple):
        return tuple(cast(v, dtype, layout) for v in value)
    if isinstance(value, dict):
        return {k: cast(v, dtype, layout) for k, v in value.items()}
    return relayout(np.asarray(value, dtype), layout)


def tolerance(dtype):
    return (1e-9, 1e-10) if dtype == np.float64 else (3e-4, 3e-5)


@given(layer_cases())
def test_functional_matches_reference_or_refuses_zero_steps(c):
    x, params, hx, lengths, dy, dstate = inputs(c)
    dt, lay = c["dtype"], c["layout"]
    kwargs = dict(reverse=c["reverse"], reset_after=c["reset_after"], cell_clip=c["clip"])
    call = (c["mode"], cast(x, dt, lay), cast(params, dt, lay), cast(hx, dt, lay))
    if c["T"] == 0:
        with pytest.raises(ValueError, match="x"):
            F.forward(*call, lengths, **kwargs)
        return
    y, state, ctx = F.forward(*call, relayout(lengths, lay), **kwargs)
    dx, dhx, grads = F.backward(ctx, cast(dy, dt, lay), cast(dstate, dt, lay))
    ry, rstate, cache = reference_forward(c["mode"], x, params, hx, lengths, **kwargs)
    rdx, rdhx, rgrads = reference_backward(cache, dy, dstate)
    tol = tolerance(dt)
    assert_close(y, ry, *tol, what="y")
    assert_close(state, rstate, *tol, what="state")
    assert_close(dx, rdx, *tol, what="dx")
    assert_close(dhx, rdhx, *tol, what="dhx")
    assert_close(grads, rgrads, *tol, what="grads")
    assert y.dtype == dt and dx.dtype == dt


ALL_DTYPES = [
    np.bool_,
    np.int8,
    np.uint8,
    np.int16,
    np.int32,
    np.int64,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.longdouble,
    np.complex64,
    np.complex128,
    np.object_,
    np.str_,
    np.bytes_,
    "datetime64[s]",
    "timedelta64[s]",
    [("a", np.float32)],
]


def array_of(dtype, shape, rng):
    values = rng.standard_normal(shape)
    dtype = np.dtype(dtype)
    if dtype.kind in "US":
        return values.astype(str).astype(dtype)
    if dtype.kind in "mM":
        return values.astype(np.int64).astype(dtype)
    if dtype.kind == "V":
        out = np.zeros(shape, dtype)
        out["a"] = values
        return out
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("where", ["x", "weight_hh", "hx"])
def test_every_numpy_dtype_is_accepted_only_as_float32_or_float64(dtype, where):
    rng = np.random.default_rng(0)
    params = make_params("gru", 3, 4, rng=rng, dtype=np.float32)
    x = rng.standard_normal((2, 2, 3)).astype(np.float32)
    hx = rng.standard_normal((2, 4)).astype(np.float32)
    if where == "x":
        x = array_of(dtype, x.shape, rng)
    elif where == "hx":
        hx = array_of(dtype, hx.shape, rng)
    else:
        params["weight_hh"] = array_of(dtype, params["weight_hh"].shape, rng)
    accepted = np.dtype(dtype) == np.float32 or (np.dtype(dtype) == np.float64 and where == "x")
    if not accepted:
        with pytest.raises(TypeError, match="dtype"):
            F.forward("gru", x, params, hx)
        return
    if np.dtype(dtype) == np.float64:  # x float64: the float32 parameters then mismatch
        with pytest.raises(TypeError, match="dtype"):
            F.forward("gru", x, params, hx)
        return
    F.forward("gru", x, params, hx)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_layers_and_cells_refuse_every_other_dtype(dtype):
    rng = np.random.default_rng(0)
    x = array_of(dtype, (3, 2, 4), rng)
    ok = np.dtype(dtype) == np.float32
    for run in (
        lambda: fastrnn.LSTM(4, 5, seed=0).forward(x),
        lambda: fastrnn.GRUCell(4, 5, seed=0).step(x[0]),
        lambda: fastrnn.RNNCell(4, 5, seed=0).forward(x[0]),
    ):
        if ok:
            run()
        else:
            with pytest.raises(TypeError, match="dtype"):
                run()


BAD_LENGTHS = st.sampled_from(
    [
        "float",
        "float_integral",
        "bool",
        "object",
        "str",
        "complex",
        "negative",
        "zero",
        "too_long",
        "huge",
        "short",
        "long",
        "2d",
        "scalar",
        "list_ok",
        "int8_ok",
        "unsorted_ok",
        "uint64_ok",
    ]
)


def bad_lengths(kind, T, N, rng):
    good = rng.integers(1, T + 1, size=N)
    return {
        "float": good + 0.5,
        "float_integral": good.astype(np.float64),
        "bool": np.ones(N, bool),
        "object": good.astype(object),
        "str": good.astype(str),
        "complex": good.astype(complex),
        "negative": np.where(np.arange(N) == 0, -1, good),
        "zero": np.where(np.arange(N) == N - 1, 0, good),
        "too_long": np.where(np.arange(N) == 0, T + 1, good),
        "huge": np.full(N, 2**62),
        "short": good[:-1],
        "long": np.append(good, 1),
        "2d": good[None],
        "scalar": np.int64(T),
        "list_ok": good.tolist(),
        "int8_ok": good.astype(np.int8),
        "unsorted_ok": np.sort(good)[::-1].copy(),
        "uint64_ok": good.astype(np.uint64),
    }[kind]


EXPECTED_ERROR = {
    "float": TypeError,
    "float_integral": TypeError,
    "bool": TypeError,
    "object": TypeError,
    "str": TypeError,
    "complex": TypeError,
    "negative": ValueError,
    "zero": ValueError,
    "too_long": ValueError,
    "huge": ValueError,
    "short": ValueError,
    "long": ValueError,
    "2d": ValueError,
    "scalar": ValueError,
}


@given(layer_cases(allow_empty=False), BAD_LENGTHS)
def test_lengths_of_every_kind_give_the_reference_or_a_clear_error(c, kind):
    x, params, _, _, _, _ = inputs(c)
    rng = np.random.default_rng(c["seed"])
    lengths = bad_lengths(kind, c["T"], c["N"], rng)
    dt = c["dtype"]
    kwargs = dict(reverse=c["reverse"], reset_after=c["reset_after"], cell_clip=c["clip"])
    if kind in EXPECTED_ERROR:
        with pytest.raises(EXPECTED_ERROR[kind], match="lengths"):
            F.forward(c["mode"], x.astype(dt), cast(params, dt, "C"), None, lengths, **kwargs)
        with pytest.raises(EXPECTED_ERROR[kind], match="lengths"):
            fastrnn.GRU(c["I"], 3, dtype=dt).forward(x.astype(dt), lengths=lengths)
        return
    y, _, _ = F.forward(c["mode"], x.astype(dt), cast(params, dt, "C"), None, lengths, **kwargs)
    ry, _, _ = reference_forward(
        c["mode"], x, params, None, np.asarray(lengths, np.int64), **kwargs
    )
    assert_close(y, ry, *tolerance(dt), what="y")


@given(
    layer_cases(allow_empty=False),
    st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 1e30, -1e30]), min_size=1, max_size=3),
    st.sampled_from(["x", "hx", "weight_ih", "weight_hh"]),
)
def test_nan_and_inf_propagate_like_the_reference_and_never_crash(c, poisons, where):
    c = dict(c, clip=None, hx=True)
    x, params, hx, lengths, dy, dstate = inputs(c)
    rng = np.random.default_rng(c["seed"] + 1)
    target = {"x": x, "hx": hx[0] if c["mode"] == "lstm" else hx}.get(where, params.get(where))
    for p in poisons:
        target[tuple(rng.integers(0, s) for s in target.shape)] = p
    dt = c["dtype"]
    kwargs = dict(reverse=c["reverse"], reset_after=c["reset_after"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the reference's inf - inf
        y, state, ctx = F.forward(
            c["mode"], x.astype(dt), cast(params, dt, "C"), cast(hx, dt, "C"), lengths, **kwargs
        )
        F.backward(ctx, dy.astype(dt), cast(dstate, dt, "C"))
        ry, rstate, _ = reference_forward(c["mode"], x, params, hx, lengths, **kwargs)
    # The same elements are NaN as in the reference, and the others agree (float32 overflows to
    # inf where float64 does not, so the reference is rounded to float32 first).
    ours = [y, *state] if isinstance(state, tuple) else [y, state]
    refs = [ry, *rstate] if isinstance(rstate, tuple) else [ry, rstate]
    rtol, atol = tolerance(dt)
    with np.errstate(over="ignore", invalid="ignore"):
        for a, b in zip(ours, refs, strict=True):
            if dt == np.float32 and np.nanmax(np.abs(b), initial=0) > 1e30:
                continue  # float32 overflowed (inf - inf = NaN) where float64 did not
            b = b.astype(dt).astype(np.float64)
            a = np.asarray(a, np.float64)
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b))
            finite = np.isfinite(b)
            np.testing.assert_allclose(a[finite], b[finite], rtol=rtol * 10, atol=atol * 10)


@given(
    st.sampled_from(MODES),
    st.integers(0, 4),
    st.integers(1, 4),
    st.sampled_from(LAYOUTS),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_cells_match_a_one_step_layer_including_empty_batches(mode, N, I, layout, unbatched, seed):
    cls = {"rnn_tanh": fastrnn.RNNCell, "rnn_relu": fastrnn.RNNCell}.get(mode)
    H = 5
    if cls is not None:
        cell = cls(I, H, nonlinearity=mode[4:], seed=seed, dtype=np.float64)
    else:
        cell = {"lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell}[mode](
            I, H, seed=seed, dtype=np.float64
        )
    rng = np.random.default_rng(seed)
    x = relayout(rng.standard_normal((N, I)), layout)
    unbatched = unbatched and N > 0
    if unbatched:
        x = x[0]
    h = cell.step(x)
    h2 = cell.forward(x)
    ry, rstate, _ = reference_forward(mode, np.atleast_2d(x)[None], cell.params)
    expected = tuple(s[0] if unbatched else s for s in rstate) if mode == "lstm" else rstate
    if unbatched and mode != "lstm":
        expected = rstate[0]
    assert_close(h, expected, 1e-10, 1e-12, what="step")
    assert_close(h2, expected, 1e-10, 1e-12, what="forward")


@given(layer_cases(), st.integers(1, 2), st.booleans(), st.booleans())
def test_layers_give_the_same_result_for_every_memory_layout(c, layers, bidirectional, batch_first):
    if c["mode"].startswith("rnn"):
        layer = fastrnn.RNN(
            c["I"],
            c["H"],
            layers,
            nonlinearity=c["mode"][4:],
            bidirectional=bidirectional,
            batch_first=batch_first,
            dtype=c["dtype"],
            seed=c["seed"],
        )
    else:
        cls = fastrnn.LSTM if c["mode"] == "lstm" else fastrnn.GRU
        layer = cls(
            c["I"],
            c["H"],
            layers,
            bidirectional=bidirectional,
            batch_first=batch_first,
            dtype=c["dtype"],
            seed=c["seed"],
        )
    x, _, _, lengths, _, _ = inputs(c)
    x = x.astype(c["dtype"])
    if batch_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    if c["T"] == 0:
        with pytest.raises(ValueError, match="x"):
            layer.forward(relayout(x, c["layout"]), lengths=lengths)
        return
    y, state = layer.forward(x, lengths=lengths)
    dx, dhx = layer.backward(np.ones_like(y))
    y2, state2 = layer.forward(relayout(x, c["layout"]), lengths=relayout(lengths, c["layout"]))
    dx2, dhx2 = layer.backward(relayout(np.ones_like(y), c["layout"]))
    for a, b in ((y, y2), (state, state2), (dx, dx2), (dhx, dhx2)):
        assert_close(a, b, 0, 0)


@given(layer_cases(allow_empty=True), st.booleans())
def test_torch_drop_in_matches_torch_nn_including_empty_shapes(c, batch_first):
    torch = pytest.importorskip("torch")
    import fastrnn.torch as ft

    kind = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}[c["mode"]]
    kwargs = dict(batch_first=batch_first, bias=c["bias"])
    if kind == "RNN":
        kwargs["nonlinearity"] = c["mode"][4:]
    if kind == "LSTM":
        kwargs["proj_size"] = c["proj"]
    dtype = torch.float64 if c["dtype"] == np.float64 else torch.float32
    torch.manual_seed(c["seed"])
    ref = getattr(torch.nn, kind)(c["I"], c["H"], **kwargs).to(dtype)
    ours = getattr(ft, kind)(c["I"], c["H"], **kwargs).to(dtype)
    ours.load_state_dict(ref.state_dict())
    x, _, _, _, _, _ = inputs(c)
    if batch_first:
        x = x.transpose(1, 0, 2)
    xt = torch.tensor(relayout(x, c["layout"]).copy(), dtype=dtype)
    outcomes = []
    for module in (ref, ours):
        xi = xt.clone().requires_grad_(True)
        try:
            with warnings.catch_warnings():  # torch's one-time oneDNN notice for projections
                warnings.simplefilter("ignore", UserWarning)
                out = module(xi)
        except RuntimeError as e:
            outcomes.append(("error", type(e)))
            continue
        y = out[0]
        y.sum().backward() if y.numel() else None
        outcomes.append((y.detach(), None if xi.grad is None else xi.grad.clone()))
    assert len(outcomes) == 2
    (a, ga), (b, gb) = outcomes
    if a == "error":
        assert b == "error" and ga is gb
        return
    tol = tolerance(c["dtype"])
    assert a.shape == b.shape
    assert_close(b.numpy(), a.numpy(), *tol, what="y")
    if ga is not None:
        assert_close(gb.numpy(), ga.numpy(), *tol, what="dx")
