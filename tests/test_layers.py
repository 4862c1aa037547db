"""Tests of the numpy layers fastrnn.RNN / LSTM / GRU (single layer, one direction) against
torch.nn.RNN / LSTM / GRU with the same weights (state_dicts both ways): outputs, h_n, dx, dhx
and every parameter gradient, with hx, lengths (PackedSequence in torch), batch_first,
bias=False, LSTM projection, float32 and float64.  Peepholes, cell clip and GRU
reset_after=False are checked against the numpy reference.  Also: PyTorch's default init
(uniform(-1/sqrt(H), 1/sqrt(H))) reproducible with a seed, zero_grad, grads accumulating."""

import fastrnn
import numpy as np
import pytest
import torch
from fastrnn._aligned import aligned_copy
from reference import assert_close, mixed_lengths, reference_backward, reference_forward
from torch_oracle import TORCH_DTYPES, run_module

DTYPES = [np.float32, np.float64]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}  # rtol, atol for O(1) values

# name -> (class name, constructor kwargs shared by torch and fastrnn)
VARIANTS = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": 3}),
    "gru": ("GRU", {}),
}
# name -> (with_hx, with_lengths, batch_first, bias)
CASES = {
    "plain": (False, False, False, True),
    "hx": (True, False, False, True),
    "no_bias": (True, False, False, False),
    "lengths": (True, True, False, True),
    "batch_first": (False, False, True, True),
    "batch_first_lengths": (True, True, True, True),
    "lengths_no_bias": (False, True, False, False),
}
T, N, I_SIZE, H = 6, 4, 5, 7


def state_size(kwargs):
    return kwargs.get("proj_size") or H


def make_data(kind, kwargs, with_hx, batch_first, dtype, rng):
    """x, hx (torch layout [1,N,*] or None), dy, dh_n for a layer."""
    S = state_size(kwargs)

    def draw(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x = draw(N, T, I_SIZE) if batch_first else draw(T, N, I_SIZE)
    dy = draw(N, T, S) if batch_first else draw(T, N, S)
    if kind == "LSTM":
        hx = (draw(1, N, S), draw(1, N, H)) if with_hx else None
        dh_n = (draw(1, N, S), draw(1, N, H))
    else:
        hx = draw(1, N, S) if with_hx else None
        dh_n = draw(1, N, S)
    return x, hx, dy, dh_n


def torch_layer(kind, kwargs, bias, batch_first, dtype, seed=0):
    torch.manual_seed(seed)
    cls = getattr(torch.nn, kind)
    return cls(
        I_SIZE, H, bias=bias, batch_first=batch_first, dtype=TORCH_DTYPES[np.dtype(dtype)], **kwargs
    )


def our_layer(kind, kwargs, bias, batch_first, dtype, seed=0):
    cls = getattr(fastrnn, kind)
    return cls(I_SIZE, H, bias=bias, batch_first=batch_first, dtype=dtype, seed=seed, **kwargs)


def torch_forward_backward(module, x, hx, lengths, dy, dh_n, batch_first):
    """Returns (y, h_n, dx, dhx) as numpy; parameter gradients stay in module's .grad."""
    xt = torch.tensor(x, requires_grad=True)
    hxt = None  # leaves
    if hx is not None:
        hxt = tuple(torch.tensor(a, requires_grad=True) for a in as_tuple(hx))
    module_hx = None if hxt is None else hxt if isinstance(hx, tuple) else hxt[0]
    y, h_n = run_module(module, xt, module_hx, lengths, batch_first)
    total = (y * torch.from_numpy(dy)).sum()
    if dh_n is not None:
        for s, ds in zip(as_tuple(h_n), as_tuple(dh_n), strict=True):
            total = total + (s * torch.from_numpy(ds)).sum()
    total.backward()

    def to_np(a):
        return a.detach().numpy().copy()

    dhx = None
    if hxt is not None:
        dhx = tuple(to_np(a.grad) for a in hxt)
        dhx = dhx if isinstance(hx, tuple) else dhx[0]
    h_np = tuple(map(to_np, h_n)) if isinstance(h_n, tuple) else to_np(h_n)
    return to_np(y), h_np, to_np(xt.grad), dhx


def as_tuple(a):
    return a if isinstance(a, tuple) else (a,)


def torch_grads(module):
    return {name: p.grad.detach().numpy().copy() for name, p in module.named_parameters()}


def torch_state(module):
    return {name: t.detach().numpy().copy() for name, t in module.state_dict().items()}


# ---------------------------------------------------------------------------------------------
# against torch


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_torch(variant, case, dtype):
    kind, kwargs = VARIANTS[variant]
    with_hx, with_lengths, batch_first, bias = CASES[case]
    rtol, atol = TOL[dtype]
    rng = np.random.default_rng(0)
    module = torch_layer(kind, kwargs, bias, batch_first, dtype)
    layer = our_layer(kind, kwargs, bias, batch_first, dtype, seed=1)
    layer.load_state_dict(module.state_dict())  # torch tensors
    assert_close(layer.params, torch_state(module), 0, 0, "params after load_state_dict")

    x, hx, dy, dh_n = make_data(kind, kwargs, with_hx, batch_first, dtype, rng)
    lengths = mixed_lengths(T, N) if with_lengths else None
    y, h_n = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)
    t_y, t_h_n, t_dx, t_dhx = torch_forward_backward(module, x, hx, lengths, dy, dh_n, batch_first)

    assert_close(y, t_y, rtol, atol, "y")
    assert_close(h_n, t_h_n, rtol, atol, "h_n")
    assert_close(dx, t_dx, rtol, atol, "dx")
    assert_close(layer.grads, torch_grads(module), rtol, atol, "grads")
    if with_hx:
        assert_close(dhx, t_dhx, rtol, atol, "dhx")
    assert y.dtype == dtype and dx.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_our_state_dict_loads_into_torch(variant, dtype):
    kind, kwargs = VARIANTS[variant]
    rtol, atol = TOL[dtype]
    layer = our_layer(kind, kwargs, True, False, dtype, seed=3)
    sd = layer.state_dict()
    module = torch_layer(kind, kwargs, True, False, dtype, seed=4)
    assert set(sd) == set(module.state_dict())
    assert all(isinstance(v, np.ndarray) and v.dtype == dtype for v in sd.values())
    module.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})

    rng = np.random.default_rng(1)
    x, hx, dy, dh_n = make_data(kind, kwargs, True, False, dtype, rng)
    y, h_n = layer.forward(x, hx)
    dx, dhx = layer.backward(dy, dh_n)
    t_y, t_h_n, t_dx, t_dhx = torch_forward_backward(module, x, hx, None, dy, dh_n, False)
    assert_close((y, h_n, dx, dhx), (t_y, t_h_n, t_dx, t_dhx), rtol, atol)
    assert_close(layer.grads, torch_grads(module), rtol, atol, "grads")


def test_load_state_dict_accepts_numpy_and_copies():
    module = torch_layer("LSTM", {"proj_size": 3}, True, False, np.float32)
    sd = torch_state(module)
    layer = our_layer("LSTM", {"proj_size": 3}, True, False, np.float32, seed=5)
    layer.load_state_dict(sd)
    assert_close(layer.params, sd, 0, 0, "params")
    assert_close(layer.state_dict(), sd, 0, 0, "state_dict")
    for v in sd.values():
        v += 1.0  # changing the source afterwards leaves the layer alone
    assert_close(layer.params, torch_state(module), 0, 0, "params after source changed")


@pytest.mark.parametrize(
    "make",
    [
        lambda: fastrnn.LSTM(5, 7, num_layers=2, bidirectional=True, proj_size=3, seed=0),
        lambda: fastrnn.GRU(5, 7, seed=0, dtype=np.float64),
        lambda: fastrnn.LSTMCell(5, 7, seed=0, peephole=True),
        lambda: fastrnn.RNNCell(5, 7, seed=0),
    ],
)
def test_parameters_and_gradients_start_on_a_cache_line(make):
    """The step kernel reads the weights in place a 64-byte vector at a time; numpy aligns to 16
    bytes only, so fastrnn allocates its parameters and gradients on 64-byte boundaries, when made
    and when loaded. Their values are numpy's (the seeded initialisation, the loaded arrays cast).
    A copy or an unpickled object keeps numpy's placement, and arrays shared between objects stay
    shared (tied weights)."""
    import copy
    import pickle

    def check(m, what):
        for group in ("params", "grads"):
            for name, a in getattr(m, group).items():
                assert a.ctypes.data % 64 == 0, f"{what}: {group}[{name!r}] at {a.ctypes.data:#x}"
                assert a.flags.c_contiguous and a.flags.writeable, f"{what}: {group}[{name!r}]"

    layer = make()
    check(layer, "made")
    rng = np.random.default_rng(0)
    k = 1.0 / np.sqrt(layer.hidden_size)
    for name, shape in layer._param_shapes().items():  # the order they are drawn in
        want = rng.uniform(-k, k, size=shape).astype(layer.dtype)
        np.testing.assert_array_equal(layer.params[name], want, err_msg=name)
    loaded = {  # v + 1 as float64, 8 bytes past a 64-byte boundary
        name: aligned_copy(v + 1, np.float64, offset=8) for name, v in layer.params.items()
    }
    layer.load_state_dict(loaded)
    check(layer, "loaded")
    for name, v in loaded.items():
        np.testing.assert_array_equal(layer.params[name], v.astype(layer.dtype), err_msg=name)
    other = make()
    other.params["weight_hh" if "weight_hh" in other.params else "weight_hh_l0"] = (
        tied := layer.params["weight_hh" if "weight_hh" in layer.params else "weight_hh_l0"]
    )
    for a, b in (pickle.loads(pickle.dumps((layer, other))), copy.deepcopy((layer, other))):
        name = "weight_hh" if "weight_hh" in a.params else "weight_hh_l0"
        assert a.params[name] is b.params[name]
        np.testing.assert_array_equal(a.params[name], tied)
    assert copy.copy(layer).params is layer.params


def test_load_state_dict_as_torch_strict_keyword_result_and_mapping_check():
    # torch code passes strict=False and reads the returned keys; fastrnn took no strict (a
    # TypeError), returned None, and a list of items gave a 2 kB "unexpected keys" ValueError
    module = torch.nn.LSTM(3, 4)
    layer = fastrnn.LSTM(3, 4, seed=1)
    result = layer.load_state_dict(module.state_dict())
    assert result == ([], []) and repr(result) == repr(module.load_state_dict(module.state_dict()))
    partial = dict(module.state_dict())
    del partial["bias_hh_l0"]
    partial["extra"] = torch.zeros(1)
    kept = layer.params["bias_hh_l0"].copy()
    layer.params["bias_hh_l0"] += 1.0
    kept += 1.0
    result = layer.load_state_dict(partial, strict=False)
    assert (result.missing_keys, result.unexpected_keys) == (["bias_hh_l0"], ["extra"])
    torch_result = torch.nn.LSTM(3, 4).load_state_dict(partial, strict=False)
    assert (result.missing_keys, result.unexpected_keys) == (
        torch_result.missing_keys,
        torch_result.unexpected_keys,
    )
    np.testing.assert_array_equal(layer.params["bias_hh_l0"], kept)  # left as it was
    np.testing.assert_array_equal(layer.params["weight_hh_l0"], partial["weight_hh_l0"].numpy())
    with pytest.raises(ValueError, match="missing keys"):
        layer.load_state_dict(partial)  # strict by default
    with pytest.raises(TypeError, match="state_dict: expected a dict-like mapping.*got list"):
        layer.load_state_dict(list(module.state_dict().items()))
    wrong = dict(module.state_dict(), weight_hh_l0=torch.zeros(2, 2))
    before = layer.state_dict()
    with pytest.raises(ValueError, match="weight_hh_l0.*expected shape"):
        layer.load_state_dict(wrong, strict=False)  # a shape is checked either way
    assert_close(layer.params, before, 0, 0, "nothing loaded on error")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grads_accumulate_and_zero_grad(variant, dtype):
    kind, kwargs = VARIANTS[variant]
    rtol, atol = TOL[dtype]
    module = torch_layer(kind, kwargs, True, False, dtype)
    layer = our_layer(kind, kwargs, True, False, dtype)
    layer.load_state_dict(module.state_dict())
    rng = np.random.default_rng(2)
    batches = [make_data(kind, kwargs, True, False, dtype, rng) for _ in range(2)]
    lengths = [None, mixed_lengths(T, N)]
    for (x, hx, dy, dh_n), lens in zip(batches, lengths, strict=True):
        layer.forward(x, hx, lens)
        dx, _ = layer.backward(dy, dh_n)
        t_dx = torch_forward_backward(module, x, hx, lens, dy, dh_n, False)[2]
        assert_close(dx, t_dx, rtol, atol, "dx")
    assert_close(layer.grads, torch_grads(module), rtol, atol, "accumulated grads")

    layer.zero_grad()
    assert set(layer.grads) == set(layer.params)
    for name, g in layer.grads.items():
        assert g.shape == layer.params[name].shape and not np.any(g), name
    module.zero_grad()
    x, hx, dy, dh_n = batches[1]
    layer.forward(x, hx)
    layer.backward(dy, dh_n)
    torch_forward_backward(module, x, hx, None, dy, dh_n, False)
    assert_close(layer.grads, torch_grads(module), rtol, atol, "grads after zero_grad")


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "gru"])
def test_backward_without_dh_n(variant):
    kind, kwargs = VARIANTS[variant]
    module = torch_layer(kind, kwargs, True, True, np.float64)
    layer = our_layer(kind, kwargs, True, True, np.float64)
    layer.load_state_dict(module.state_dict())
    x, hx, dy, _ = make_data(kind, kwargs, True, True, np.float64, np.random.default_rng(3))
    layer.forward(x, hx, mixed_lengths(T, N))
    dx, dhx = layer.backward(dy)
    t_y, _, t_dx, t_dhx = torch_forward_backward(module, x, hx, mixed_lengths(T, N), dy, None, True)
    assert_close((dx, dhx), (t_dx, t_dhx), 1e-10, 1e-12)
    assert_close(layer.grads, torch_grads(module), 1e-10, 1e-12, "grads")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_inference_forward_matches_training_forward(variant):
    kind, kwargs = VARIANTS[variant]
    layer = our_layer(kind, kwargs, True, False, np.float64, seed=6)
    x, hx, _, _ = make_data(kind, kwargs, True, False, np.float64, np.random.default_rng(4))
    train = layer.forward(x, hx, mixed_lengths(T, N), training=True)
    infer = layer.forward(x, hx, mixed_lengths(T, N), training=False)
    assert_close(infer, train, 1e-10, 1e-12)


# ---------------------------------------------------------------------------------------------
# variants torch lacks: against the numpy reference

# name -> (mode, class name, constructor kwargs, functional kwargs)
EXTRA_VARIANTS = {
    "lstm_peephole": ("lstm", "LSTM", {"peephole": True}, {}),
    "lstm_clip": ("lstm", "LSTM", {"cell_clip": 0.4}, {"cell_clip": 0.4}),
    "lstm_proj_peephole_clip": (
        "lstm",
        "LSTM",
        {"proj_size": 3, "peephole": True, "cell_clip": 0.4},
        {"cell_clip": 0.4},
    ),
    "gru_reset_before": ("gru", "GRU", {"reset_after": False}, {"reset_after": False}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("variant", list(EXTRA_VARIANTS))
def test_extra_variants_match_reference(variant, batch_first, dtype):
    mode, kind, kwargs, fkwargs = EXTRA_VARIANTS[variant]
    rtol, atol = TOL[dtype]
    layer = our_layer(kind, kwargs, True, batch_first, dtype, seed=7)
    if "peephole" in kwargs:
        assert layer.params["weight_ch_l0"].shape == (3, H)
        rng = np.random.default_rng(8)
        layer.load_state_dict(
            dict(layer.state_dict(), weight_ch_l0=rng.uniform(-1, 1, (3, H)).astype(dtype))
        )
    x, hx, dy, dh_n = make_data(kind, kwargs, True, batch_first, dtype, np.random.default_rng(5))
    x = 3 * x  # reach the clip
    lengths = mixed_lengths(T, N)
    y, h_n = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)

    def tm(a):  # batch_first [N,T,*] -> time-major [T,N,*]
        return np.swapaxes(a, 0, 1) if batch_first else a

    params = {k[: -len("_l0")]: v for k, v in layer.params.items()}
    r_hx = tuple(a[0] for a in hx) if kind == "LSTM" else hx[0]
    r_dh = tuple(a[0] for a in dh_n) if kind == "LSTM" else dh_n[0]
    r_y, r_state, cache = reference_forward(mode, tm(x), params, r_hx, lengths, **fkwargs)
    r_dx, r_dhx, r_grads = reference_backward(cache, tm(dy), r_dh)
    if "cell_clip" in kwargs:  # the test data reach the clip, and keep away from its kink
        c_pre = np.concatenate([s["c_pre"][lengths > t] for t, s in enumerate(cache["steps"])])
        assert np.any(np.abs(c_pre) > 0.4)
        assert np.min(np.abs(np.abs(c_pre) - 0.4)) > 1e-4

    def add_layer_axis(s):
        return tuple(a[None] for a in s) if isinstance(s, tuple) else s[None]

    assert_close(y, tm(r_y), rtol, atol, "y")
    assert_close(h_n, add_layer_axis(r_state), rtol, atol, "h_n")
    assert_close(dx, tm(r_dx), rtol, atol, "dx")
    assert_close(dhx, add_layer_axis(r_dhx), rtol, atol, "dhx")
    assert_close(layer.grads, {k + "_l0": v for k, v in r_grads.items()}, rtol, atol, "grads")


# ---------------------------------------------------------------------------------------------
# default initialisation


@pytest.mark.parametrize("dtype", [None, np.float32, np.float64])
@pytest.mark.parametrize("variant", list(VARIANTS) + ["lstm_peephole"])
def test_default_init_is_pytorch_uniform_and_seeded(variant, dtype):
    kind, kwargs = VARIANTS.get(variant, ("LSTM", {"peephole": True}))
    hidden = 64
    extra = {} if dtype is None else {"dtype": dtype}
    cls = getattr(fastrnn, kind)
    layer = cls(20, hidden, seed=123, **kwargs, **extra)
    want_dtype = np.dtype(np.float32 if dtype is None else dtype)

    torch_kwargs = {k: v for k, v in kwargs.items() if k != "peephole"}
    shapes = {
        k: tuple(v.shape)
        for k, v in getattr(torch.nn, kind)(20, hidden, **torch_kwargs).state_dict().items()
    }
    if kwargs.get("peephole"):
        shapes["weight_ch_l0"] = (3, hidden)
    assert {k: v.shape for k, v in layer.params.items()} == shapes
    bound = 1 / np.sqrt(hidden)
    pooled = []
    for name, p in layer.params.items():
        assert p.dtype == want_dtype, name
        if name.startswith("weight_ch"):
            assert np.all(np.isfinite(p))  # DESIGN.md leaves the peephole init open
            continue
        assert np.all(np.abs(p) <= bound), name
        assert np.std(p) > 0.3 * bound, name  # not constant, not zero
        pooled.append(p.ravel().astype(np.float64) / bound)
    u = np.concatenate(pooled)  # should be uniform(-1, 1)
    assert u.size > 4000
    assert abs(u.mean()) < 0.05
    assert abs(u.std() - 1 / np.sqrt(3)) < 0.05 / np.sqrt(3)
    assert u.min() < -0.98 and u.max() > 0.98
    counts = np.histogram(u, bins=10, range=(-1, 1))[0] / u.size
    np.testing.assert_allclose(counts, 0.1, atol=0.03)

    again = cls(20, hidden, seed=123, **kwargs, **extra)
    assert_close(again.params, layer.params, 0, 0, "same seed")
    other = cls(20, hidden, seed=124, **kwargs, **extra)
    assert not np.array_equal(other.params["weight_ih_l0"], layer.params["weight_ih_l0"])


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_training_forward_frees_the_previous_forwards_saved_state_first(mode, monkeypatch):
    """In a training loop the previous step's saved activations must be released (or written
    over) before the next forward allocates its own (else both are alive at once: twice the peak
    memory). Reserves nothing else holds are reused: the next forward writes into them."""
    import weakref

    from fastrnn import functional as F

    layer = getattr(fastrnn, mode)(8, 16, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((5, 3, 8)).astype(np.float32)
    y, _ = layer.forward(x)
    layer.backward(np.ones_like(y))
    saved = [weakref.ref(ctx.reserve) for ctx in layer._thread_state()[0]]
    real_forward = F.forward
    alive_at_call = []

    def watching_forward(*args, **kwargs):
        alive_at_call.append(sum(ref() is not None for ref in saved))
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(F, "forward", watching_forward)
    layer.forward(x[:4])  # fewer steps: reserves of another size, the old ones are freed first
    assert alive_at_call == [0, 0]
    saved = [weakref.ref(ctx.reserve) for ctx in layer._thread_state()[0]]
    layer.forward(x[:4])  # the same size: written into the old ones
    reserves = [ctx.reserve for ctx in layer._thread_state()[0]]
    assert all(r is ref() for r, ref in zip(reserves, saved, strict=True))
    # A forward whose input is invalid raises before touching the saved state.
    y, _ = layer.forward(x)
    with pytest.raises(ValueError):
        layer.forward(x[:, :, :4])
    layer.backward(np.ones_like(y))


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_reused_reserves_give_the_results_of_new_ones(mode):
    """A training loop writes each forward's reserve over the previous one's when nothing else
    holds it. The results must be those of a forward into new arrays, and a reserve something
    still refers to (a context kept by the caller, a view) must not be written over."""
    from fastrnn import functional as F

    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((6, 4, 8)).astype(np.float32) for _ in range(3)]
    lengths = np.array([6, 2, 5, 1])

    def train(layer, keep):
        out, kept = [], []
        for x in xs:
            y, _ = layer.forward(x, lengths=lengths)
            if keep:
                kept.append(layer._thread_state())  # holds the contexts: no reuse
            dx, _ = layer.backward(np.cos(y))
            out += [y, dx]
        return out + [layer.grads[k].copy() for k in sorted(layer.grads)], kept

    reused, _ = train(
        getattr(fastrnn, mode)(8, 16, num_layers=2, bidirectional=True, seed=2), False
    )
    fresh, kept = train(
        getattr(fastrnn, mode)(8, 16, num_layers=2, bidirectional=True, seed=2), True
    )
    for a, b in zip(reused, fresh, strict=True):
        np.testing.assert_array_equal(a, b)
    reserves = [id(ctx.reserve) for state in kept for ctx in state[0]]
    assert len(set(reserves)) == len(reserves)  # every forward had new ones

    layer = getattr(fastrnn, mode)(8, 16, seed=2)
    layer.forward(xs[0])
    view = layer._thread_state()[0][0].reserve[:10]
    before = view.copy()
    layer.forward(xs[1])
    np.testing.assert_array_equal(view, before)

    # functional.forward checks a reserve_out it is given
    params = {k[: -len("_l0")]: v for k, v in layer.params.items()}
    with pytest.raises(ValueError, match="reserve_out: expected shape"):
        F.forward(layer.mode, xs[0], params, reserve_out=np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="reserve_out: expected dtype float32"):
        F.forward(layer.mode, xs[0], params, reserve_out=np.zeros(3, np.float64))
    # ... and that it shares no memory with what the forward reads (here one element of each)
    size = F.forward(layer.mode, xs[0], params)[2].reserve.size

    def overlapping(a):  # (a copy of a, a reserve_out whose first element is the copy's last)
        buf = np.zeros(a.size + size - 1, np.float32)
        buf[: a.size] = a.ravel()
        return buf[: a.size].reshape(a.shape), buf[a.size - 1 :]

    x, reserve_out = overlapping(xs[0])
    with pytest.raises(ValueError, match="reserve_out: must not share memory with x"):
        F.forward(layer.mode, x, params, reserve_out=reserve_out)
    w_hh, reserve_out = overlapping(params["weight_hh"])
    with pytest.raises(ValueError, match=r"share memory with params\['weight_hh'\]"):
        F.forward(layer.mode, xs[0], dict(params, weight_hh=w_hh), reserve_out=reserve_out)
