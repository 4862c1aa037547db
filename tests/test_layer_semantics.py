"""Tests of the full layer semantics of fastrnn.RNN / LSTM / GRU (issue 3): stacked layers
(num_layers > 1), bidirectional layers, their combination with lengths (unsorted, some 1),
batch_first, hx and LSTM proj_size against torch.nn.RNN/LSTM/GRU (PackedSequence for lengths):
outputs, final states in PyTorch's order [l0 fwd, l0 rev, l1 fwd, ...], dx, dh0/dc0 and every
parameter gradient, in float32 and float64.  Peepholes, cell clip and GRU reset_after=False in
stacked and bidirectional layers against a layer-by-layer composition of the numpy reference and
against finite differences.  Dropout between layers: reproducible from the seed, absent in eval
and after the last layer, and the backward uses the mask the forward drew (checked both with a
mask recovered from the outputs and with finite differences of re-seeded layers)."""

import fastrnn
import numpy as np
import pytest
import torch
from reference import (
    assert_close,
    finite_difference_grads,
    loss,
    mixed_lengths,
    reference_backward,
    reference_forward,
)
from test_layers import TOL, as_tuple, torch_forward_backward, torch_grads, torch_state
from torch_oracle import TORCH_DTYPES

DTYPES = [np.float32, np.float64]
FD_RTOL, FD_ATOL = 1e-6, 1e-7
T, N, I_SIZE, H, P = 5, 5, 3, 4, 2  # mixed_lengths(5, 5) = [3, 5, 1, 3, 2]
SUFFIX = ("", "_reverse")
KEYS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ch")

# name -> (class name, mode, kwargs shared by torch and fastrnn)
VARIANTS = {
    "rnn_tanh": ("RNN", "rnn_tanh", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", "rnn_relu", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", "lstm", {}),
    "lstm_proj": ("LSTM", "lstm", {"proj_size": P}),
    "gru": ("GRU", "gru", {}),
}
# name -> (num_layers, bidirectional, with_lengths, batch_first, with_hx, bias)
CONFIGS = {
    "L2": (2, False, False, False, True, True),
    "L3_lengths": (3, False, True, False, True, True),
    "bi_lengths": (1, True, True, False, True, True),
    "L2_bi": (2, True, False, False, False, True),
    "L2_bi_lengths": (2, True, True, False, True, True),
    "L3_bi_lengths_batch_first": (3, True, True, True, True, True),
    "L2_bi_lengths_no_bias": (2, True, True, False, False, False),
    "L2_bi_batch_first": (2, True, False, True, True, True),
}


def tm(a, batch_first):
    """[N,T,*] -> [T,N,*] when batch_first (and back: the swap is its own inverse)."""
    return np.swapaxes(a, 0, 1) if batch_first else a


def make_data(kind, S, L, D, with_hx, batch_first, dtype, rng, n=N, t=T, n_in=I_SIZE, h=H):
    """x, hx [L*D,N,*] (or None), dy [.., D*S], dh_n [L*D,N,*] for a stack."""

    def draw(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x = draw(n, t, n_in) if batch_first else draw(t, n, n_in)
    dy = draw(n, t, D * S) if batch_first else draw(t, n, D * S)
    if kind == "LSTM":
        hx = (draw(L * D, n, S), draw(L * D, n, h)) if with_hx else None
        dh_n = (draw(L * D, n, S), draw(L * D, n, h))
    else:
        hx = draw(L * D, n, S) if with_hx else None
        dh_n = draw(L * D, n, S)
    return x, hx, dy, dh_n


def torch_module(kind, kwargs, L, bi, bias, batch_first, dtype, seed=0, n_in=I_SIZE, h=H):
    torch.manual_seed(seed)
    return getattr(torch.nn, kind)(
        n_in,
        h,
        num_layers=L,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bi,
        dtype=TORCH_DTYPES[np.dtype(dtype)],
        **kwargs,
    )


def our_layer(kind, kwargs, L, bi, bias, batch_first, dtype, seed=1, n_in=I_SIZE, h=H):
    return getattr(fastrnn, kind)(
        n_in,
        h,
        num_layers=L,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bi,
        dtype=dtype,
        seed=seed,
        **kwargs,
    )


def padding_mask(lengths, t=T, n=N):
    """bool [T,N]: True where step t of sequence n is padding."""
    if lengths is None:
        return np.zeros((t, n), bool)
    return np.arange(t)[:, None] >= np.asarray(lengths)[None, :]


# ---------------------------------------------------------------------------------------------
# a stack composed of single-layer numpy reference runs (the oracle for what torch lacks)


def layer_params(params, layer, d):
    sfx = f"_l{layer}{SUFFIX[d]}"
    return {k: params[k + sfx] for k in KEYS if k + sfx in params}


def stack_forward(mode, x, params, L, D, hx=None, lengths=None, masks=None, **fkwargs):
    """Reference forward of a stack, time-major x [T,N,I].  hx like the layer's ([L*D,N,S] or a
    pair).  masks: per layer, None or a [T,N,D*S] multiplier applied to that layer's output
    (dropout).  Returns (y [T,N,D*S], state [L*D,...] or (h_n, c_n), caches)."""
    lstm = mode == "lstm"
    inp, caches, h_n, c_n = x, [], [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            i = layer * D + d
            h0 = None if hx is None else (tuple(a[i] for a in hx) if lstm else hx[i])
            y, state, cache = reference_forward(
                mode,
                inp,
                layer_params(params, layer, d),
                h0,
                lengths,
                reverse=d == 1,
                **fkwargs,
            )
            outs.append(y)
            caches.append(cache)
            h_n.append(state[0] if lstm else state)
            if lstm:
                c_n.append(state[1])
        inp = np.concatenate(outs, axis=2)
        if masks is not None and masks[layer] is not None:
            inp = inp * masks[layer]
    state = (np.stack(h_n), np.stack(c_n)) if lstm else np.stack(h_n)
    return inp, state, caches


def stack_backward(mode, caches, L, D, dy, dh_n=None, masks=None):
    """Backward of stack_forward.  Returns (dx, dhx [L*D,...] or pair, grads by layer name)."""
    lstm = mode == "lstm"
    S = dy.shape[2] // D
    grads, dh0, dc0 = {}, [None] * (L * D), [None] * (L * D)
    grad = dy
    for layer in reversed(range(L)):
        if masks is not None and masks[layer] is not None:
            grad = grad * masks[layer]
        dx = 0.0
        for d in range(D):
            i = layer * D + d
            dstate = None
            if dh_n is not None:
                dstate = tuple(a[i] for a in dh_n) if lstm else dh_n[i]
            dx_d, dhx, g = reference_backward(caches[i], grad[:, :, d * S : (d + 1) * S], dstate)
            dx = dx + dx_d
            if lstm:
                dh0[i], dc0[i] = dhx
            else:
                dh0[i] = dhx
            grads.update({k + f"_l{layer}{SUFFIX[d]}": v for k, v in g.items()})
        grad = dx
    dhx = (np.stack(dh0), np.stack(dc0)) if lstm else np.stack(dh0)
    return grad, dhx, grads


def pre_clip_cells(caches):
    """All pre-clip LSTM cell values at real steps, over every layer and direction."""
    out = []
    for cache in caches:
        real = cache["masks"][..., 0] > 0  # [T,N] (reverse caches are in their own time order)
        out.append(np.stack([s["c_pre"] for s in cache["steps"]])[real].ravel())
    return np.concatenate(out)


def choose_stack_clip(x, params, L, D, hx, lengths, min_gap=1e-3):
    """A clip value that clips some cells somewhere in the stack and keeps away from every
    pre-clip value (so central differences do not straddle the kink)."""
    for kappa in np.linspace(0.2, 1.5, 53):
        _, _, caches = stack_forward("lstm", x, params, L, D, hx, lengths, cell_clip=kappa)
        c_pre = np.abs(pre_clip_cells(caches))
        if np.min(np.abs(c_pre - kappa)) > min_gap and np.mean(c_pre > kappa) > 0.05:
            return float(kappa)
    raise AssertionError("no suitable cell clip value")


# ---------------------------------------------------------------------------------------------
# stacked x bidirectional x lengths x proj_size against torch


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_stack_matches_torch(variant, config, dtype):
    kind, _, kwargs = VARIANTS[variant]
    L, bi, with_lengths, batch_first, with_hx, bias = CONFIGS[config]
    D, S = 2 if bi else 1, kwargs.get("proj_size") or H
    rtol, atol = TOL[dtype]
    module = torch_module(kind, kwargs, L, bi, bias, batch_first, dtype)
    layer = our_layer(kind, kwargs, L, bi, bias, batch_first, dtype)
    assert set(layer.params) == set(module.state_dict())
    layer.load_state_dict(module.state_dict())
    x, hx, dy, dh_n = make_data(
        kind, S, L, D, with_hx, batch_first, dtype, np.random.default_rng(0)
    )
    lengths = mixed_lengths(T, N) if with_lengths else None

    y, state = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)
    t_y, t_state, t_dx, t_dhx = torch_forward_backward(
        module, x, hx, lengths, dy, dh_n, batch_first
    )

    assert y.shape == ((N, T, D * S) if batch_first else (T, N, D * S))
    for s, size in zip(as_tuple(state), (S, H), strict=False):
        assert s.shape == (L * D, N, size)
    assert_close(y, t_y, rtol, atol, "y")
    assert_close(state, t_state, rtol, atol, "h_n/c_n")
    assert_close(dx, t_dx, rtol, atol, "dx")
    assert_close(layer.grads, torch_grads(module), rtol, atol, "grads")
    if with_hx:
        assert_close(dhx, t_dhx, rtol, atol, "dh0/dc0")
    assert y.dtype == dtype and dx.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())

    # padded outputs are exactly zero, as torch's pad_packed_sequence gives
    pad = padding_mask(lengths)
    assert not np.any(tm(y, batch_first)[pad])
    # the last layer's final states are its outputs at each sequence's last real step (forward)
    # and at step 0 (reverse): the order is [.., l{L-1} fwd, l{L-1} rev]
    h_n = as_tuple(state)[0]
    y_tm = tm(y, batch_first)
    last = (mixed_lengths(T, N) if with_lengths else np.full(N, T)) - 1
    np.testing.assert_array_equal(h_n[(L - 1) * D], y_tm[last, np.arange(N), :S])
    if bi:
        np.testing.assert_array_equal(h_n[L * D - 1], y_tm[0, :, S:])


@pytest.mark.parametrize("variant", ["rnn_relu", "lstm_proj", "gru"])
def test_our_stack_state_dict_loads_into_torch(variant):
    kind, _, kwargs = VARIANTS[variant]
    dtype = np.float64
    L, D, S = 3, 2, kwargs.get("proj_size") or H
    layer = our_layer(kind, kwargs, L, True, True, True, dtype, seed=11)
    module = torch_module(kind, kwargs, L, True, True, True, dtype, seed=12)
    sd = layer.state_dict()
    assert set(sd) == set(module.state_dict())
    module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, True, dtype, np.random.default_rng(1))
    lengths = mixed_lengths(T, N)
    got = layer.forward(x, hx, lengths)
    got += layer.backward(dy, dh_n)
    want = torch_forward_backward(module, x, hx, lengths, dy, dh_n, True)
    assert_close(tuple(got), tuple(want), *TOL[dtype])
    assert_close(layer.grads, torch_grads(module), *TOL[dtype], "grads")
    assert_close(layer.params, torch_state(module), 0, 0, "params unchanged")


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "lstm_proj", "gru"])
def test_stack_partial_state_gradients_and_hx(variant):
    """backward without dh_n, and LSTM with only dh_n or only dc_n; LSTM hx with only h_0."""
    kind, _, kwargs = VARIANTS[variant]
    dtype = np.float64
    L, D, S = 2, 2, kwargs.get("proj_size") or H
    lengths = mixed_lengths(T, N)
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, False, dtype, np.random.default_rng(2))
    cases = [None]
    if kind == "LSTM":
        cases += [(dh_n[0], None), (None, dh_n[1])]
    for dstate in cases:
        module = torch_module(kind, kwargs, L, True, True, False, dtype)
        layer = our_layer(kind, kwargs, L, True, True, False, dtype)
        layer.load_state_dict(module.state_dict())
        ours_hx = (hx[0], None) if kind == "LSTM" else hx
        torch_hx = (hx[0], np.zeros_like(hx[1])) if kind == "LSTM" else hx
        y, state = layer.forward(x, ours_hx, lengths)
        dx, dhx = layer.backward(dy, dstate)
        if dstate is None:
            torch_dstate = None
        else:
            torch_dstate = tuple(
                np.zeros_like(a) if b is None else b for a, b in zip(dh_n, dstate, strict=True)
            )
        t_y, t_state, t_dx, t_dhx = torch_forward_backward(
            module, x, torch_hx, lengths, dy, torch_dstate, False
        )
        assert_close((y, state, dx), (t_y, t_state, t_dx), *TOL[dtype], str(dstate is None))
        if kind == "LSTM":  # dc0 is still returned, for the zero c_0 the layer used
            assert_close(dhx, t_dhx, *TOL[dtype], "dh0, dc0")
        else:
            assert_close(dhx, t_dhx, *TOL[dtype], "dh0")
        assert_close(layer.grads, torch_grads(module), *TOL[dtype], "grads")


def test_reference_stack_matches_torch():
    """The composed numpy oracle used below agrees with torch where torch can check it."""
    kind, mode, kwargs = VARIANTS["lstm_proj"]
    L, D, S = 2, 2, P
    module = torch_module(kind, kwargs, L, True, True, False, np.float64)
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, False, np.float64, np.random.default_rng(3))
    lengths = mixed_lengths(T, N)
    params = torch_state(module)
    y, state, caches = stack_forward(mode, x, params, L, D, hx, lengths)
    dx, dhx, grads = stack_backward(mode, caches, L, D, dy, dh_n)
    want = torch_forward_backward(module, x, hx, lengths, dy, dh_n, False)
    assert_close((y, state, dx, dhx), tuple(want), 1e-10, 1e-12)
    assert_close(grads, torch_grads(module), 1e-10, 1e-12, "grads")


# ---------------------------------------------------------------------------------------------
# peepholes, cell clip, GRU reset_after=False in stacks: against the composed reference and
# against finite differences

# name -> (class name, mode, constructor kwargs (cell_clip chosen per problem when True))
EXTRA_VARIANTS = {
    "lstm_peephole": ("LSTM", "lstm", {"peephole": True}),
    "lstm_clip": ("LSTM", "lstm", {"cell_clip": True}),
    "lstm_proj_peephole_clip": (
        "LSTM",
        "lstm",
        {"proj_size": P, "peephole": True, "cell_clip": True},
    ),
    "gru_reset_before": ("GRU", "gru", {"reset_after": False}),
}
# name -> (num_layers, bidirectional, with_lengths, batch_first)
EXTRA_CONFIGS = {
    "L3": (3, False, False, False),
    "bi_lengths_batch_first": (1, True, True, True),
    "L2_bi_lengths": (2, True, True, False),
}


def make_extra_layer(
    spec, L, bi, batch_first, dtype, x_tm, hx, lengths, seed=7, min_gap=1e-3, **sizes
):
    """The layer of spec = (class name, mode, kwargs) as in EXTRA_VARIANTS, with strong
    peepholes and a clip value the data reach; returns (layer, mode, reference kwargs)."""
    kind, mode, kwargs = spec
    kwargs = dict(kwargs)
    clip = kwargs.pop("cell_clip", False)
    layer = our_layer(kind, kwargs, L, bi, True, batch_first, dtype, seed=seed, **sizes)
    params = layer.state_dict()
    rng = np.random.default_rng(seed)
    for name in params:
        if name.startswith("weight_ch"):  # peepholes that matter
            params[name] = rng.uniform(-1, 1, params[name].shape).astype(dtype)
    fkwargs = {}
    if kind == "GRU":
        fkwargs["reset_after"] = False
    if clip:
        D = 2 if bi else 1
        kappa = choose_stack_clip(x_tm, params, L, D, hx, lengths, min_gap)
        fkwargs["cell_clip"] = kappa
        kwargs["cell_clip"] = kappa
        layer = our_layer(kind, kwargs, L, bi, True, batch_first, dtype, seed=seed, **sizes)
    layer.load_state_dict(params)
    return layer, mode, fkwargs


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("config", list(EXTRA_CONFIGS))
@pytest.mark.parametrize("variant", list(EXTRA_VARIANTS))
def test_extra_variants_stack_match_reference(variant, config, dtype):
    kind, _, kwargs = EXTRA_VARIANTS[variant]
    L, bi, with_lengths, batch_first = EXTRA_CONFIGS[config]
    D, S = 2 if bi else 1, kwargs.get("proj_size") or H
    rtol, atol = TOL[dtype]
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, batch_first, dtype, np.random.default_rng(4))
    x = 3 * x  # reach the clip
    lengths = mixed_lengths(T, N) if with_lengths else None
    layer, mode, fkwargs = make_extra_layer(
        EXTRA_VARIANTS[variant], L, bi, batch_first, dtype, tm(x, batch_first), hx, lengths
    )
    y, state = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)

    r_y, r_state, caches = stack_forward(
        mode, tm(x, batch_first), layer.params, L, D, hx, lengths, **fkwargs
    )
    r_dx, r_dhx, r_grads = stack_backward(mode, caches, L, D, tm(dy, batch_first), dh_n)
    if "cell_clip" in fkwargs:
        assert np.any(np.abs(pre_clip_cells(caches)) > fkwargs["cell_clip"])
    assert_close(y, tm(r_y, batch_first), rtol, atol, "y")
    assert_close(state, r_state, rtol, atol, "h_n/c_n")
    assert_close(dx, tm(r_dx, batch_first), rtol, atol, "dx")
    assert_close(dhx, r_dhx, rtol, atol, "dh0/dc0")
    assert_close(layer.grads, r_grads, rtol, atol, "grads")
    assert not np.any(tm(y, batch_first)[padding_mask(lengths)])


def layer_as_forward(layer, lengths, *, make=None):
    """A function with reference_forward's signature running `layer` (or a fresh layer from
    make(), for dropout) with the given parameters: for finite_difference_grads."""

    def forward(mode, x, params, hx):
        target = layer if make is None else make()
        target.load_state_dict(params)
        return target.forward(x, hx, lengths, training=True)

    return forward


FD_SIZES = {"n_in": 2, "h": 3}
FD_T, FD_N = 4, 3  # mixed_lengths(4, 3) = [3, 4, 1]


@pytest.mark.parametrize("variant", list(EXTRA_VARIANTS))
def test_extra_variants_stack_match_finite_differences(variant):
    kind, _, kwargs = EXTRA_VARIANTS[variant]
    L, D, S = 2, 2, kwargs.get("proj_size") or FD_SIZES["h"]
    lengths = mixed_lengths(FD_T, FD_N)
    x, hx, dy, dh_n = make_data(
        kind, S, L, D, True, False, np.float64, np.random.default_rng(5),
        n=FD_N, t=FD_T, n_in=FD_SIZES["n_in"], h=FD_SIZES["h"],
    )  # fmt: skip
    x = 3 * x
    layer, mode, fkwargs = make_extra_layer(
        EXTRA_VARIANTS[variant], L, True, False, np.float64, x, hx, lengths, **FD_SIZES
    )
    params = layer.state_dict()
    layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)
    n_dx, n_dhx, n_grads = finite_difference_grads(
        layer_as_forward(layer, lengths), mode, x, params, hx, dy, dh_n
    )
    assert_close(dx, n_dx, FD_RTOL, FD_ATOL, "dx")
    assert_close(dhx, n_dhx, FD_RTOL, FD_ATOL, "dh0/dc0")
    assert_close(layer.grads, n_grads, FD_RTOL, FD_ATOL, "grads")


# ---------------------------------------------------------------------------------------------
# dropout


def test_dropout_reproducible_from_seed():
    kind, _, kwargs = VARIANTS["lstm_proj"]
    L, D, S = 3, 2, P
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, False, np.float32, np.random.default_rng(6))
    lengths = mixed_lengths(T, N)

    def make(seed):
        return fastrnn.LSTM(I_SIZE, H, L, dropout=0.5, bidirectional=True, proj_size=P, seed=seed)

    a, b = make(5), make(5)
    for _ in range(2):  # the masks of consecutive calls agree too
        ya, sa = a.forward(x, hx, lengths)
        yb, sb = b.forward(x, hx, lengths)
        assert_close((yb, sb), (ya, sa), 0, 0, "outputs of same-seed layers")
        ga = a.backward(dy, dh_n)
        gb = b.backward(dy, dh_n)
        assert_close(gb, ga, 0, 0, "dx, dhx of same-seed layers")
        assert_close(b.grads, a.grads, 0, 0, "grads of same-seed layers")
    # a second call draws new masks
    y2, _ = a.forward(x, hx, lengths)
    assert not np.array_equal(y2, ya)
    # another seed, same weights: other masks
    c = make(6)
    c.load_state_dict(a.state_dict())
    d0 = make(5)
    yc, _ = c.forward(x, hx, lengths)
    yd, _ = d0.forward(x, hx, lengths)
    assert not np.array_equal(yc, yd)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_dropout_one_matches_torch(variant):
    """dropout=1 (valid in torch.nn.RNNBase) zeroes the input of every layer above the first,
    deterministically: outputs, states and every gradient equal torch's in training mode."""
    kind, _, kwargs = VARIANTS[variant]
    L, D, S = 2, 2, kwargs.get("proj_size") or H
    dtype = np.float64
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, False, dtype, np.random.default_rng(8))
    dh_n = as_tuple(dh_n)[0]  # the gradient of h_n (c_n's is None)
    ours = getattr(fastrnn, kind)(
        I_SIZE, H, L, dropout=1.0, bidirectional=True, dtype=dtype, seed=3, **kwargs
    )
    ref = getattr(torch.nn, kind)(
        I_SIZE, H, L, dropout=1.0, bidirectional=True, dtype=torch.float64, **kwargs
    )
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    ref.train()
    tx = torch.tensor(x, requires_grad=True)
    thx = tuple(torch.tensor(h, requires_grad=True) for h in as_tuple(hx))
    ty, tstate = ref(tx, thx if kind == "LSTM" else thx[0])
    tstate = as_tuple(tstate)
    total = (ty * torch.from_numpy(dy)).sum() + (tstate[0] * torch.from_numpy(dh_n)).sum()
    total.backward()
    y, state = ours.forward(x, hx, training=True)
    assert np.isfinite(y).all()
    dx, dhx = ours.backward(dy, (dh_n, None) if kind == "LSTM" else dh_n)
    assert_close(y, ty.detach().numpy(), 1e-12, 1e-13, "y")
    for a, b in zip(as_tuple(state), tstate, strict=True):
        assert_close(a, b.detach().numpy(), 1e-12, 1e-13, "state")
    assert_close(dx, tx.grad.numpy(), 1e-12, 1e-13, "dx")
    for a, b in zip(as_tuple(dhx), thx, strict=True):
        assert_close(a, b.grad.numpy(), 1e-12, 1e-13, "dhx")
    for name, p in ref.named_parameters():
        assert_close(ours.grads[name], p.grad.numpy(), 1e-12, 1e-13, name)


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm_proj", "gru"])
def test_dropout_absent_in_eval_and_after_last_layer(variant):
    kind, _, kwargs = VARIANTS[variant]
    L, D, S = 3, 2, kwargs.get("proj_size") or H
    dtype = np.float64
    x, hx, _, _ = make_data(kind, S, L, D, True, False, dtype, np.random.default_rng(7))
    lengths = mixed_lengths(T, N)
    cls = getattr(fastrnn, kind)
    drop = cls(I_SIZE, H, L, dropout=0.6, bidirectional=True, dtype=dtype, seed=3, **kwargs)
    plain = cls(I_SIZE, H, L, dropout=0.0, bidirectional=True, dtype=dtype, seed=4, **kwargs)
    plain.load_state_dict(drop.state_dict())

    want = plain.forward(x, hx, lengths, training=True)
    first = drop.forward(x, hx, lengths, training=False)
    second = drop.forward(x, hx, lengths, training=False)
    assert_close(first, want, 1e-12, 1e-14, "eval output vs dropout=0")
    assert_close(second, first, 0, 0, "eval is deterministic")
    train = drop.forward(x, hx, lengths, training=True)
    assert not np.allclose(train[0], want[0])  # dropout does act in training

    # no dropout on the last layer's output: no zeros among real steps, and the last layer's
    # final states are its outputs
    y, state = train
    h_n = as_tuple(state)[0]
    real = ~padding_mask(lengths)
    assert np.all(y[real] != 0)
    np.testing.assert_array_equal(h_n[-2], y[lengths - 1, np.arange(N), :S])
    np.testing.assert_array_equal(h_n[-1], y[0, :, S:])

    # with one layer, dropout never applies (torch warns for this setting; we just run it)
    one = cls(I_SIZE, H, 1, dropout=0.6, bidirectional=True, dtype=dtype, seed=3, **kwargs)
    ref = cls(I_SIZE, H, 1, bidirectional=True, dtype=dtype, seed=3, **kwargs)
    first_hx = tuple(a[:2] for a in hx) if kind == "LSTM" else hx[:2]
    assert_close(one.forward(x, first_hx, lengths), ref.forward(x, first_hx, lengths), 0, 0, "L=1")


def recover_dropout_mask(y, y0, params, h0, lengths, keep):
    """The dropout mask between layer 0 and layer 1 of a 2-layer bidirectional tanh RNN, read
    from the outputs: layer 1's pre-activations atanh(y) minus its recurrent and bias terms are
    M u with M = [W_ih fwd; W_ih rev] square and u = y0 * mask; h0 [2,N,H] is layer 1's hx.
    Returns (the mask rounded to {0, 1/keep}, zero at padding; the raw ratios u / y0 at real
    steps where |y0| > 1e-3)."""
    Tn, Nn, two_h = y.shape
    h = two_h // 2
    M = np.concatenate([params["weight_ih_l1"], params["weight_ih_l1_reverse"]])
    mask, raw = np.zeros_like(y0), []
    for n in range(Nn):
        for t in range(lengths[n]):
            prev_f = y[t - 1, n, :h] if t > 0 else h0[0, n]
            prev_r = y[t + 1, n, h:] if t + 1 < lengths[n] else h0[1, n]
            a = []
            for sfx, h_t, prev in (("", y[t, n, :h], prev_f), ("_reverse", y[t, n, h:], prev_r)):
                bias = params["bias_ih_l1" + sfx] + params["bias_hh_l1" + sfx]
                a.append(np.arctanh(h_t) - bias - params["weight_hh_l1" + sfx] @ prev)
            ratio = np.linalg.solve(M, np.concatenate(a)) / y0[t, n]
            mask[t, n] = np.where(np.abs(ratio - 1 / keep) < np.abs(ratio), 1 / keep, 0.0)
            raw.append(ratio[np.abs(y0[t, n]) > 1e-3])
    return mask, np.concatenate(raw)


def test_dropout_mask_recovered_from_outputs_matches_backward():
    """Forward with dropout, read the mask it used back from its outputs, and check outputs,
    final states, dx, dh0 and every gradient against the numpy reference stack using that mask:
    so the backward uses the forward's mask, and no mask follows the last layer."""
    dtype, p = np.float64, 0.4
    keep = 1 - p
    lengths = mixed_lengths(T, N)
    layer = fastrnn.RNN(I_SIZE, H, 2, dropout=p, bidirectional=True, dtype=dtype, seed=21)
    params = layer.state_dict()
    rng = np.random.default_rng(8)
    M = 0.6 * np.eye(2 * H) + 0.1 * rng.standard_normal((2 * H, 2 * H))  # well conditioned
    params["weight_ih_l1"], params["weight_ih_l1_reverse"] = M[:H], M[H:]
    layer.load_state_dict(params)
    x, hx, dy, dh_n = make_data("RNN", H, 2, 2, True, False, dtype, rng)

    y, h_n = layer.forward(x, hx, lengths)
    y0, _, _ = stack_forward("rnn_tanh", x, params, 1, 2, hx[:2], lengths)
    mask, raw = recover_dropout_mask(y, y0, params, hx[2:], lengths, keep)
    # every recovered ratio is 0 or 1/keep, and both occur in plausible proportion
    nearest = np.where(np.abs(raw - 1 / keep) < np.abs(raw), 1 / keep, 0.0)
    np.testing.assert_allclose(raw, nearest, atol=1e-6)
    assert 0.15 < np.mean(nearest == 0) < 0.65

    r_y, r_state, caches = stack_forward("rnn_tanh", x, params, 2, 2, hx, lengths, [mask, None])
    assert_close((y, h_n), (r_y, r_state), 1e-10, 1e-12, "forward with the recovered mask")
    dx, dhx = layer.backward(dy, dh_n)
    r_dx, r_dhx, r_grads = stack_backward("rnn_tanh", caches, 2, 2, dy, dh_n, [mask, None])
    assert_close((dx, dhx), (r_dx, r_dhx), 1e-10, 1e-12, "dx, dh0")
    assert_close(layer.grads, r_grads, 1e-10, 1e-12, "grads")


@pytest.mark.parametrize("variant", ["lstm_proj", "gru"])
def test_dropout_backward_matches_finite_differences_of_reseeded_layers(variant):
    """Each loss evaluation builds a fresh layer with the same seed (so the same masks) and the
    perturbed weights: the backward of one such layer must be the gradient of that function."""
    kind, mode, kwargs = VARIANTS[variant]  # proj_size P=2 < h=3
    L, D, S = 3, 2, kwargs.get("proj_size") or FD_SIZES["h"]
    lengths = mixed_lengths(FD_T, FD_N)
    x, hx, dy, dh_n = make_data(
        kind, S, L, D, True, False, np.float64, np.random.default_rng(9),
        n=FD_N, t=FD_T, n_in=FD_SIZES["n_in"], h=FD_SIZES["h"],
    )  # fmt: skip

    def make():
        return our_layer(
            kind, dict(kwargs, dropout=0.5), L, True, True, False, np.float64, seed=13,
            **FD_SIZES,
        )  # fmt: skip

    layer = make()
    params = layer.state_dict()
    y, state = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)
    # the masks do act (the output differs from eval's)
    assert not np.allclose(y, layer.forward(x, hx, lengths, training=False)[0])
    assert loss(y, state, dy, dh_n) == loss(
        *layer_as_forward(None, lengths, make=make)(mode, x, params, hx), dy, dh_n
    )
    n_dx, n_dhx, n_grads = finite_difference_grads(
        layer_as_forward(None, lengths, make=make), mode, x, params, hx, dy, dh_n
    )
    assert_close(dx, n_dx, FD_RTOL, FD_ATOL, "dx")
    assert_close(dhx, n_dhx, FD_RTOL, FD_ATOL, "dh0/dc0")
    assert_close(layer.grads, n_grads, FD_RTOL, FD_ATOL, "grads")


# ---------------------------------------------------------------------------------------------
# sizes where the kernels use several threads; accumulation; inputs left alone; thread count


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "lstm_proj", "gru"])
def test_stack_threaded_sizes_match_torch(variant):
    """float32 at sizes where each step is split over threads (H not a multiple of 16)."""
    kind, _, kwargs = VARIANTS[variant]
    if "proj_size" in kwargs:
        kwargs = {"proj_size": 40}
    t, n, n_in, h = 6, 16, 24, 120  # 2*N*G*H*S >= 400k flops a step (every ISA's split threshold)
    L, D, S = 2, 2, kwargs.get("proj_size") or h
    dtype = np.float32
    module = torch_module(kind, kwargs, L, True, True, False, dtype, n_in=n_in, h=h)
    layer = our_layer(kind, kwargs, L, True, True, False, dtype, n_in=n_in, h=h)
    layer.load_state_dict(module.state_dict())
    x, hx, dy, dh_n = make_data(
        kind, S, L, D, True, False, dtype, np.random.default_rng(10), n=n, t=t, n_in=n_in, h=h
    )
    lengths = np.array([6, 3, 1, 5, 6, 2, 6, 4, 1, 6, 3, 5, 2, 6, 4, 1])
    infer = layer.forward(x, hx, lengths, training=False)
    y, state = layer.forward(x, hx, lengths)
    assert_close(infer, (y, state), 1e-6, 1e-7, "eval")
    dx, dhx = layer.backward(dy, dh_n)
    want = torch_forward_backward(module, x, hx, lengths, dy, dh_n, False)
    assert_close((y, state, dx, dhx), tuple(want), *TOL[dtype])
    assert_close(layer.grads, torch_grads(module), *TOL[dtype], "grads")
    assert not np.any(y[padding_mask(lengths, t, n)])


@pytest.mark.parametrize("variant", ["lstm_proj", "gru"])
def test_stack_grads_accumulate_over_calls(variant):
    kind, _, kwargs = VARIANTS[variant]
    L, D, S = 2, 2, kwargs.get("proj_size") or H
    dtype = np.float64
    module = torch_module(kind, kwargs, L, True, True, True, dtype)
    layer = our_layer(kind, kwargs, L, True, True, True, dtype)
    layer.load_state_dict(module.state_dict())
    rng = np.random.default_rng(11)
    for lengths in [mixed_lengths(T, N), None, np.ones(N, np.int64)]:
        x, hx, dy, dh_n = make_data(kind, S, L, D, True, True, dtype, rng)
        layer.forward(x, hx, lengths)
        got = layer.backward(dy, dh_n)
        want = torch_forward_backward(module, x, hx, lengths, dy, dh_n, True)[2:]
        assert_close(got, tuple(want), *TOL[dtype], "dx, dhx")
    assert_close(layer.grads, torch_grads(module), *TOL[dtype], "accumulated grads")
    layer.zero_grad()
    assert all(not np.any(g) for g in layer.grads.values())


def test_stack_leaves_inputs_alone_and_takes_views():
    """forward/backward do not write into x, hx, dy, dh_n; non-contiguous views work."""
    kind, _, kwargs = VARIANTS["lstm_proj"]
    L, D, S = 2, 2, P
    dtype = np.float64
    layer = our_layer(kind, kwargs, L, True, True, True, dtype)
    x, hx, dy, dh_n = make_data(kind, S, L, D, True, False, dtype, np.random.default_rng(12))
    lengths = mixed_lengths(T, N)
    x_bf, dy_bf = np.swapaxes(x, 0, 1), np.swapaxes(dy, 0, 1)  # views, not contiguous
    assert not x_bf.flags.c_contiguous
    copies = [a.copy() for a in (x, *hx, dy, *dh_n)]
    y, state = layer.forward(x_bf, hx, lengths)
    dx, dhx = layer.backward(dy_bf, dh_n)
    for a, b in zip((x, *hx, dy, *dh_n), copies, strict=True):
        np.testing.assert_array_equal(a, b)

    ref = our_layer(kind, kwargs, L, True, True, True, dtype)
    ref.load_state_dict(layer.state_dict())
    want = ref.forward(np.ascontiguousarray(x_bf), hx, lengths)
    want += ref.backward(np.ascontiguousarray(dy_bf), dh_n)
    assert_close((y, state, dx, dhx), tuple(want), 0, 0)
    assert_close(layer.grads, ref.grads, 0, 0, "grads")


def test_stack_results_do_not_depend_on_thread_count():
    kind, _, kwargs = VARIANTS["lstm"]
    t, n, n_in, h = 5, 8, 16, 80
    L, D = 2, 2
    layer = our_layer(kind, kwargs, L, True, True, False, np.float32, n_in=n_in, h=h)
    x, hx, dy, dh_n = make_data(
        kind, h, L, D, True, False, np.float32, np.random.default_rng(13), n=n, t=t, n_in=n_in, h=h
    )
    lengths = np.array([5, 1, 3, 5, 2, 4, 5, 1])
    before = fastrnn.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastrnn.set_num_threads(threads)
            layer.zero_grad()
            out = layer.forward(x, hx, lengths)
            out += layer.backward(dy, dh_n)
            results.append((out, {k: v.copy() for k, v in layer.grads.items()}))
    finally:
        fastrnn.set_num_threads(before)
    assert_close(tuple(results[1][0]), tuple(results[0][0]), 1e-5, 1e-6, "outputs")
    assert_close(results[1][1], results[0][1], 1e-5, 1e-6, "grads")


@pytest.mark.parametrize(
    "variant", ["lstm_peephole", "lstm_proj_peephole_clip", "gru_reset_before"]
)
def test_extra_variants_threaded_sizes_match_reference(variant):
    """float32 stacks at sizes where each step is split over threads, against the reference."""
    kind, mode, kwargs = EXTRA_VARIANTS[variant]
    t, n, n_in, h = 5, 16, 24, 120
    L, D = 2, 2
    S = 40 if "proj_size" in kwargs else h
    dtype = np.float32
    kwargs = dict(kwargs, proj_size=S) if "proj_size" in kwargs else kwargs
    x, hx, dy, dh_n = make_data(
        kind, S, L, D, True, False, dtype, np.random.default_rng(14), n=n, t=t, n_in=n_in, h=h
    )
    x = 3 * x
    lengths = np.array([5, 3, 1, 5, 4, 2, 5, 4, 1, 5, 3, 5, 2, 5, 4, 1])
    layer, mode, fkwargs = make_extra_layer(
        (kind, mode, kwargs), L, True, False, dtype, x, hx, lengths, min_gap=1e-5, n_in=n_in, h=h
    )  # (many cells: a smaller gap to the kink, still far above float32 rounding)
    y, state = layer.forward(x, hx, lengths)
    dx, dhx = layer.backward(dy, dh_n)
    r_y, r_state, caches = stack_forward(mode, x, layer.params, L, D, hx, lengths, **fkwargs)
    r_dx, r_dhx, r_grads = stack_backward(mode, caches, L, D, dy, dh_n)
    assert_close((y, state, dx, dhx), (r_y, r_state, r_dx, r_dhx), *TOL[dtype])
    assert_close(layer.grads, r_grads, *TOL[dtype], "grads")


def test_stack_parameter_names_and_shapes():
    """torch's names and shapes for every layer and direction, plus weight_ch_l{k}{_reverse}
    [3, H] for peepholes; layer k > 0 reads D*P features."""
    layer = fastrnn.LSTM(I_SIZE, H, 3, bidirectional=True, proj_size=P, peephole=True)
    module = torch.nn.LSTM(I_SIZE, H, 3, bidirectional=True, proj_size=P)
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    want.update({f"weight_ch_l{k}{sfx}": (3, H) for k in range(3) for sfx in SUFFIX})
    assert {k: v.shape for k, v in layer.params.items()} == want
    assert want["weight_ih_l1"] == (4 * H, 2 * P) and want["weight_hh_l2_reverse"] == (4 * H, P)
    assert set(layer.grads) == set(want)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(kind):
    """torch.nn accepts x [T, I] with hx [L*D, S]; so do the numpy layers."""
    torch = pytest.importorskip("torch")
    ours_cls, torch_cls = getattr(fastrnn, kind), getattr(torch.nn, kind)
    module = torch_cls(3, 5, num_layers=2, bidirectional=True, dtype=torch.float64)
    layer = ours_cls(3, 5, num_layers=2, bidirectional=True, dtype=np.float64)
    layer.load_state_dict(module.state_dict())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3))
    h0 = rng.standard_normal((4, 5))
    hx = (h0, rng.standard_normal((4, 5))) if kind == "LSTM" else h0
    xt = torch.tensor(x, requires_grad=True)
    hxt = (
        tuple(torch.tensor(a, requires_grad=True) for a in hx)
        if kind == "LSTM"
        else (torch.tensor(hx, requires_grad=True))
    )
    y_t, state_t = module(xt, hxt)
    y, state = layer.forward(x, hx)
    assert y.shape == (7, 10)
    np.testing.assert_allclose(y, y_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    states = state if kind == "LSTM" else (state,)
    states_t = state_t if kind == "LSTM" else (state_t,)
    for a, b in zip(states, states_t, strict=True):
        assert a.shape == (4, 5)
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    y_t.backward(torch.tensor(dy))
    dx, dhx = layer.backward(dy)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    dh0 = dhx[0] if kind == "LSTM" else dhx
    h_grad = hxt[0].grad if kind == "LSTM" else hxt.grad
    np.testing.assert_allclose(dh0, h_grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_an_inference_forward_leaves_the_training_forward_for_backward(mode):
    # as a forward under torch.no_grad leaves the graph before it (a validation or target pass
    # inside a training step); it made backward raise "call forward(..., training=True) first"
    layer_class = {"lstm": fastrnn.LSTM, "gru": fastrnn.GRU, "rnn_tanh": fastrnn.RNN}[mode]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I_SIZE)).astype(np.float32)
    dy = rng.standard_normal((T, N, 2 * H)).astype(np.float32)
    grads = []
    for interleave in (False, True):
        layer = layer_class(I_SIZE, H, num_layers=2, bidirectional=True, dropout=0.5, seed=3)
        layer.forward(x, lengths=mixed_lengths(T, N))
        if interleave:
            layer.forward(x[:2, :1], training=False)
        dx, _ = layer.backward(dy)
        grads.append((dx, {k: v.copy() for k, v in layer.grads.items()}))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    for k in grads[0][1]:
        np.testing.assert_array_equal(grads[0][1][k], grads[1][1][k])
