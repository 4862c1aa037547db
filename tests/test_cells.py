"""Tests of the step cells fastrnn.RNNCell / LSTMCell / GRUCell: against torch.nn.RNNCell /
LSTMCell / GRUCell (state_dicts both ways; step and forward outputs; backward's dx, dstate_prev
and grads accumulated over a driven sequence with teacher forcing, against torch autograd over the
same loop), batched and unbatched, float32 and float64, small and threaded sizes; a layer's
forward and backward over T steps equal T cell steps with the same weights; peephole, cell clip
and GRU reset_after=False cells against the numpy reference; the tape (LIFO, empty tape,
step() leaves it alone, reset()); zero_grad and accumulation; PyTorch's default init."""

import fastrnn
import numpy as np
import pytest
import torch
from reference import (
    assert_close,
    choose_cell_clip,
    reference_backward,
    reference_forward,
)
from test_layers import TOL
from torch_oracle import TORCH_DTYPES

DTYPES = [np.float32, np.float64]
N, I_SIZE, H, K = 3, 5, 6, 5  # batch, inputs, hidden units, steps of a driven sequence

# name -> (cell class, torch class, constructor kwargs shared with torch)
VARIANTS = {
    "rnn_tanh": ("RNNCell", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "lstm": ("LSTMCell", {}),
    "gru": ("GRUCell", {}),
}


def torch_cell(kind, kwargs, dtype, bias=True, seed=0, n_in=I_SIZE, h=H):
    torch.manual_seed(seed)
    return getattr(torch.nn, kind)(
        n_in, h, bias=bias, dtype=TORCH_DTYPES[np.dtype(dtype)], **kwargs
    )


def our_cell(kind, kwargs, dtype, bias=True, seed=1, n_in=I_SIZE, h=H):
    kwargs = {"bias": bias, **kwargs}  # kwargs may override bias
    return getattr(fastrnn, kind)(n_in, h, dtype=dtype, seed=seed, **kwargs)


def draw_state(kind, rng, dtype, shape):
    def draw():
        return rng.standard_normal(shape).astype(dtype)

    return (draw(), draw()) if kind == "LSTMCell" else draw()


def to_torch(state, requires_grad=False):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(to_torch(s, requires_grad) for s in state)
    return torch.tensor(state, requires_grad=requires_grad)


def to_np(state):
    if isinstance(state, tuple):
        return tuple(to_np(s) for s in state)
    return state.detach().numpy().copy()


def torch_grads(module):
    return {name: p.grad.detach().numpy().copy() for name, p in module.named_parameters()}


def add(a, b):
    """a + b for states (arrays or pairs); None counts as zero."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple):
        return tuple(add(u, v) for u, v in zip(a, b, strict=True))
    return a + b


def dot(state, grad):
    """torch: sum(state * grad) over an h or (h, c) state (grad numpy, None parts skipped)."""
    if isinstance(state, tuple):
        return sum(dot(s, g) for s, g in zip(state, grad, strict=True) if g is not None)
    return (state * torch.from_numpy(grad)).sum()


def drive(cell, xs, state0, dstates):
    """Teacher forcing with our cell: K forward steps over xs, then K backward calls with the
    loss sum_t <state_t, dstates[t]>.  Returns (states, dxs, d state0)."""
    states, state = [], state0
    for x in xs:
        state = cell.forward(x, state)
        states.append(state)
    dxs = [None] * len(xs)
    dnext = None
    for t in reversed(range(len(xs))):
        dxs[t], dnext = cell.backward(add(dstates[t], dnext))
    return states, dxs, dnext


def torch_drive(module, xs, state0, dstates):
    """The same loop in torch autograd.  Returns (states, dxs, d state0 or None)."""
    x_leaves = [torch.tensor(x, requires_grad=True) for x in xs]
    s0 = to_torch(state0, requires_grad=True)
    state, states, total = s0, [], 0
    for x, ds in zip(x_leaves, dstates, strict=True):
        state = module(x, state)
        states.append(state)
        total = total + dot(state, ds)
    total.backward()
    d0 = None
    if s0 is not None:
        d0 = tuple(s.grad.numpy().copy() for s in s0) if isinstance(s0, tuple) else s0.grad.numpy()
    return [to_np(s) for s in states], [x.grad.numpy().copy() for x in x_leaves], d0


# ---------------------------------------------------------------------------------------------
# against torch.nn.*Cell


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_and_forward_match_torch(variant, bias, dtype):
    kind, kwargs = VARIANTS[variant]
    rtol, atol = TOL[dtype]
    module = torch_cell(kind, kwargs, dtype, bias)
    cell = our_cell(kind, kwargs, dtype, bias)
    assert set(cell.params) == set(module.state_dict())
    cell.load_state_dict(module.state_dict())  # torch tensors
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, I_SIZE)).astype(dtype)
    state = draw_state(kind, rng, dtype, (N, H))
    with torch.no_grad():
        want = to_np(module(torch.from_numpy(x), to_torch(state)))
        want0 = to_np(module(torch.from_numpy(x)))
    assert_close(cell.step(x, state), want, rtol, atol, "step")
    assert_close(cell.forward(x, state), want, rtol, atol, "forward")
    assert_close(cell.step(x), want0, rtol, atol, "step, no state")
    assert_close(cell.forward(x, None), want0, rtol, atol, "forward, no state")
    for s in cell.step(x, state) if kind == "LSTMCell" else (cell.step(x, state),):
        assert s.dtype == dtype and s.shape == (N, H)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_our_state_dict_loads_into_torch(variant, dtype):
    kind, kwargs = VARIANTS[variant]
    cell = our_cell(kind, kwargs, dtype, seed=3)
    module = torch_cell(kind, kwargs, dtype, seed=4)
    sd = cell.state_dict()
    assert set(sd) == set(module.state_dict())
    assert all(isinstance(v, np.ndarray) and v.dtype == dtype for v in sd.values())
    module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, I_SIZE)).astype(dtype)
    state = draw_state(kind, rng, dtype, (N, H))
    with torch.no_grad():
        want = to_np(module(torch.from_numpy(x), to_torch(state)))
    assert_close(cell.step(x, state), want, *TOL[dtype], "step")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("with_state0", [True, False], ids=["state0", "zero_state0"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_driven_sequence_backward_matches_torch(variant, with_state0, dtype):
    """Teacher forcing: K steps whose inputs do not depend on the outputs, a loss on every
    step's state; dx of every step, the initial state's gradient and the grads accumulated over
    the K backward calls match torch autograd over the same loop."""
    kind, kwargs = VARIANTS[variant]
    rtol, atol = TOL[dtype]
    module = torch_cell(kind, kwargs, dtype)
    cell = our_cell(kind, kwargs, dtype)
    cell.load_state_dict(module.state_dict())
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((N, I_SIZE)).astype(dtype) for _ in range(K)]
    state0 = draw_state(kind, rng, dtype, (N, H)) if with_state0 else None
    dstates = [draw_state(kind, rng, dtype, (N, H)) for _ in range(K)]

    states, dxs, d0 = drive(cell, xs, state0, dstates)
    t_states, t_dxs, t_d0 = torch_drive(module, xs, state0, dstates)
    assert_close(tuple(states), tuple(t_states), rtol, atol, "states")
    assert_close(tuple(dxs), tuple(t_dxs), rtol, atol, "dx")
    assert_close(cell.grads, torch_grads(module), rtol, atol, "grads")
    if with_state0:
        assert_close(d0, t_d0, rtol, atol, "dstate0")
    else:  # the gradient of the zero state the first step used is still returned
        assert all(np.shape(s) == (N, H) for s in (d0 if kind == "LSTMCell" else (d0,)))
    assert all(dx.dtype == dtype and dx.shape == (N, I_SIZE) for dx in dxs)
    with pytest.raises(RuntimeError):  # every step has been popped
        cell.backward(dstates[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_unbatched_matches_torch_and_batch_of_one(variant, dtype):
    kind, kwargs = VARIANTS[variant]
    rtol, atol = TOL[dtype]
    module = torch_cell(kind, kwargs, dtype)
    cell = our_cell(kind, kwargs, dtype)
    cell.load_state_dict(module.state_dict())
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(I_SIZE).astype(dtype) for _ in range(3)]
    state0 = draw_state(kind, rng, dtype, (H,))
    dstates = [draw_state(kind, rng, dtype, (H,)) for _ in range(3)]

    stepped = cell.step(xs[0], state0)
    with torch.no_grad():
        want = to_np(module(torch.from_numpy(xs[0]), to_torch(state0)))
    assert_close(stepped, want, rtol, atol, "unbatched step")
    for s in stepped if kind == "LSTMCell" else (stepped,):
        assert s.shape == (H,)

    states, dxs, d0 = drive(cell, xs, state0, dstates)
    t_states, t_dxs, t_d0 = torch_drive(module, xs, state0, dstates)
    assert_close(tuple(states), tuple(t_states), rtol, atol, "states")
    assert_close(tuple(dxs), tuple(t_dxs), rtol, atol, "dx")
    assert_close(d0, t_d0, rtol, atol, "dstate0")
    assert_close(cell.grads, torch_grads(module), rtol, atol, "grads")
    assert all(dx.shape == (I_SIZE,) for dx in dxs)

    # the same as a batch of one
    batched = our_cell(kind, kwargs, dtype)
    batched.load_state_dict(cell.state_dict())

    def one(s):
        return tuple(a[None] for a in s) if isinstance(s, tuple) else s[None]

    b_states, b_dxs, b_d0 = drive(
        batched, [x[None] for x in xs], one(state0), [one(d) for d in dstates]
    )
    assert_close(tuple(map(one, states)), tuple(b_states), 0, 0, "states vs batch of one")
    assert_close(tuple(dx[None] for dx in dxs), tuple(b_dxs), 0, 0, "dx vs batch of one")
    assert_close(one(d0), b_d0, 0, 0, "dstate0 vs batch of one")
    assert_close(cell.grads, batched.grads, 0, 0, "grads vs batch of one")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 4, 16, 17, 33])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_step_threaded_sizes_match_torch(variant, n, dtype):
    """Sizes where the one-call step splits the hidden units over threads (H not a multiple of
    the split's block); up to 32 rows the float32 step kernel (17: groups of 16 and 1), 33 the
    layer path."""
    kind, kwargs = VARIANTS[variant]
    n_in, h = 64, 200
    module = torch_cell(kind, kwargs, dtype, n_in=n_in, h=h)
    cell = our_cell(kind, kwargs, dtype, n_in=n_in, h=h)
    cell.load_state_dict(module.state_dict())
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, n_in)).astype(dtype)
    state = draw_state(kind, rng, dtype, (n, h))
    with torch.no_grad():
        want = to_np(module(torch.from_numpy(x), to_torch(state)))
        want0 = to_np(module(torch.from_numpy(x)))
    assert_close(cell.step(x, state), want, *TOL[dtype], "step")
    assert_close(cell.step(x), want0, *TOL[dtype], "step, no state")
    assert_close(cell.forward(x, state), want, *TOL[dtype], "forward")


def test_lstm_partial_states():
    """LSTMCell: a state (h, None) or (None, c) means zeros for the missing part, and backward
    takes (dh, None) or (None, dc)."""
    dtype = np.float64
    module = torch_cell("LSTMCell", {}, dtype)
    cell = our_cell("LSTMCell", {}, dtype)
    cell.load_state_dict(module.state_dict())
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, I_SIZE))
    h, c = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    zeros = np.zeros((N, H))
    for state, full in [((h, None), (h, zeros)), ((None, c), (zeros, c))]:
        assert_close(cell.step(x, state), cell.step(x, full), 0, 0, "step")
        assert_close(cell.forward(x, state), cell.step(x, full), 1e-12, 1e-14, "forward")
        cell.reset()
    dh, dc = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    for dstate in [(dh, None), (None, dc)]:
        cell.zero_grad()
        module.zero_grad()
        cell.forward(x, (h, c))
        dx, dprev = cell.backward(dstate)
        t_states, t_dxs, t_d0 = torch_drive(module, [x], (h, c), [dstate])
        assert_close((dx, dprev), (t_dxs[0], t_d0), 1e-10, 1e-12, "dx, dstate_prev")
        assert_close(cell.grads, torch_grads(module), 1e-10, 1e-12, "grads")


# ---------------------------------------------------------------------------------------------
# a layer's T steps = T cell steps

# name -> (layer class, cell class, mode, kwargs for both (cell_clip: chosen per problem))
LAYER_VARIANTS = {
    "rnn_tanh": ("RNN", "RNNCell", "rnn_tanh", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", "RNNCell", "rnn_relu", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", "LSTMCell", "lstm", {}),
    "lstm_peephole_clip": ("LSTM", "LSTMCell", "lstm", {"peephole": True, "cell_clip": True}),
    "gru": ("GRU", "GRUCell", "gru", {}),
    "gru_reset_before": ("GRU", "GRUCell", "gru", {"reset_after": False}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("variant", list(LAYER_VARIANTS))
def test_layer_equals_cell_steps(variant, dtype):
    layer_kind, cell_kind, mode, kwargs = LAYER_VARIANTS[variant]
    rtol, atol = TOL[dtype]
    steps = 6
    rng = np.random.default_rng(6)
    x = 3 * rng.standard_normal((steps, N, I_SIZE)).astype(dtype)
    lstm = mode == "lstm"
    hx = draw_state(cell_kind, rng, dtype, (1, N, H))
    dy = rng.standard_normal((steps, N, H)).astype(dtype)
    dh_n = draw_state(cell_kind, rng, dtype, (1, N, H))
    kwargs = dict(kwargs)
    clip = kwargs.pop("cell_clip", False)
    layer_cls = getattr(fastrnn, layer_kind)
    layer = layer_cls(I_SIZE, H, dtype=dtype, seed=8, **kwargs)
    if clip:  # a clip value the data reach
        params = {k.removesuffix("_l0"): v for k, v in layer.params.items()}
        kwargs["cell_clip"] = choose_cell_clip(x, params, tuple(a[0] for a in hx))
        sd = layer.state_dict()
        layer = layer_cls(I_SIZE, H, dtype=dtype, **kwargs)
        layer.load_state_dict(sd)
    cell = our_cell(cell_kind, kwargs, dtype, seed=9)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.params.items()})

    y, state = layer.forward(x, hx)
    dx, dhx = layer.backward(dy, dh_n)

    def first(s):
        return tuple(a[0] for a in s) if lstm else s[0]

    s_step = s_fwd = first(hx)
    for t in range(steps):
        s_step = cell.step(x[t], s_step)
        s_fwd = cell.forward(x[t], s_fwd)
        h_t = s_step[0] if lstm else s_step
        assert_close(h_t, y[t], rtol, atol, f"step {t} vs layer y")
        assert_close(s_fwd, s_step, rtol, atol, f"forward {t} vs step")
    assert_close(s_step, first(state), rtol, atol, "final state")

    dnext = first(dh_n)
    dxs = [None] * steps
    for t in reversed(range(steps)):
        ds = (dnext[0] + dy[t], dnext[1]) if lstm else dnext + dy[t]
        dxs[t], dnext = cell.backward(ds)
    assert_close(np.stack(dxs), dx, rtol, atol, "dx")
    assert_close(dnext, first(dhx), rtol, atol, "dh0")
    assert_close(cell.grads, {k.removesuffix("_l0"): v for k, v in layer.grads.items()}, rtol, atol)


# ---------------------------------------------------------------------------------------------
# peephole, cell clip, reset_after=False against the numpy reference

# name -> (cell class, mode, cell kwargs)
EXTRA_VARIANTS = {
    "lstm_peephole": ("LSTMCell", "lstm", {"peephole": True}),
    "lstm_clip": ("LSTMCell", "lstm", {"cell_clip": True}),
    "lstm_peephole_clip": ("LSTMCell", "lstm", {"peephole": True, "cell_clip": True}),
    "gru_reset_before": ("GRUCell", "gru", {"reset_after": False}),
    "gru_reset_before_no_bias": ("GRUCell", "gru", {"reset_after": False, "bias": False}),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("unbatched", [False, True], ids=["batched", "unbatched"])
@pytest.mark.parametrize("variant", list(EXTRA_VARIANTS))
def test_extra_cells_match_reference(variant, unbatched, dtype):
    kind, mode, kwargs = EXTRA_VARIANTS[variant]
    rtol, atol = TOL[dtype]
    kwargs = dict(kwargs)
    clip = kwargs.pop("cell_clip", False)
    rng = np.random.default_rng(10)
    n = 1 if unbatched else 8
    x = 3 * rng.standard_normal((n, I_SIZE)).astype(dtype)
    state = draw_state(kind, rng, dtype, (n, H))
    dstate = draw_state(kind, rng, dtype, (n, H))
    cell = our_cell(kind, kwargs, dtype, seed=11)
    params = cell.state_dict()
    if "weight_ch" in params:
        assert params["weight_ch"].shape == (3, H)
        params["weight_ch"] = rng.uniform(-1, 1, (3, H)).astype(dtype)
    fkwargs = {"reset_after": kwargs.get("reset_after", True)}
    if clip:
        fkwargs["cell_clip"] = choose_cell_clip(x[None], params, state)
        cell = our_cell(kind, dict(kwargs, cell_clip=fkwargs["cell_clip"]), dtype)
    cell.load_state_dict(params)

    r_y, r_state, cache = reference_forward(mode, x[None], params, state, **fkwargs)
    r_dx, r_dprev, r_grads = reference_backward(cache, np.zeros_like(r_y), dstate)
    if clip:
        c_pre = cache["steps"][0]["c_pre"]
        assert np.any(np.abs(c_pre) > fkwargs["cell_clip"])

    def squeeze(s):
        if not unbatched:
            return s
        return tuple(a[0] for a in s) if isinstance(s, tuple) else s[0]

    x_in, state_in, dstate_in = x[0] if unbatched else x, squeeze(state), squeeze(dstate)
    assert_close(cell.step(x_in, state_in), squeeze(r_state), rtol, atol, "step")
    assert_close(cell.forward(x_in, state_in), squeeze(r_state), rtol, atol, "forward")
    dx, dprev = cell.backward(dstate_in)
    assert_close(dx, squeeze(r_dx[0]), rtol, atol, "dx")
    assert_close(dprev, squeeze(r_dprev), rtol, atol, "dstate_prev")
    assert_close(cell.grads, r_grads, rtol, atol, "grads")


# ---------------------------------------------------------------------------------------------
# the tape, grads, init


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tape(variant):
    kind, kwargs = VARIANTS[variant]
    cell = our_cell(kind, kwargs, np.float64)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((N, I_SIZE))
    dstate = draw_state(kind, rng, np.float64, (N, H))
    with pytest.raises(RuntimeError):
        cell.backward(dstate)  # nothing on the tape
    cell.step(x)  # inference leaves no tape
    with pytest.raises(RuntimeError):
        cell.backward(dstate)
    cell.forward(x)
    cell.forward(x)
    cell.reset()
    with pytest.raises(RuntimeError):
        cell.backward(dstate)
    assert all(not np.any(g) for g in cell.grads.values())  # failed calls changed nothing

    # last in, first out: backward pops the most recent step
    s1 = cell.forward(x)
    cell.forward(2 * x, s1)
    dx_last, _ = cell.backward(dstate)
    dx_first, _ = cell.backward(dstate)
    ref = our_cell(kind, kwargs, np.float64)
    ref.load_state_dict(cell.state_dict())
    ref.forward(2 * x, s1)
    assert_close(dx_last, ref.backward(dstate)[0], 0, 0, "the latest step first")
    ref.forward(x)
    assert_close(dx_first, ref.backward(dstate)[0], 0, 0, "then the earlier one")


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "gru"])
def test_grads_accumulate_and_zero_grad(variant):
    kind, kwargs = VARIANTS[variant]
    dtype = np.float64
    module = torch_cell(kind, kwargs, dtype)
    cell = our_cell(kind, kwargs, dtype)
    cell.load_state_dict(module.state_dict())
    rng = np.random.default_rng(13)
    for _ in range(2):  # two sequences, no zero_grad between them
        xs = [rng.standard_normal((N, I_SIZE)) for _ in range(3)]
        dstates = [draw_state(kind, rng, dtype, (N, H)) for _ in range(3)]
        drive(cell, xs, None, dstates)
        torch_drive(module, xs, None, dstates)
    assert_close(cell.grads, torch_grads(module), 1e-10, 1e-12, "accumulated")
    cell.zero_grad()
    assert set(cell.grads) == set(cell.params)
    assert all(not np.any(g) and g.shape == cell.params[k].shape for k, g in cell.grads.items())


@pytest.mark.parametrize("variant", list(VARIANTS) + ["lstm_peephole"])
def test_default_init_is_pytorch_uniform_and_seeded(variant):
    kind, kwargs = VARIANTS.get(variant, ("LSTMCell", {"peephole": True}))
    hidden = 64
    cls = getattr(fastrnn, kind)
    cell = cls(20, hidden, seed=123, **kwargs)
    shapes = {
        k: tuple(v.shape)
        for k, v in getattr(torch.nn, kind)(
            20, hidden, **{k: v for k, v in kwargs.items() if k != "peephole"}
        )
        .state_dict()
        .items()
    }
    if kwargs.get("peephole"):
        shapes["weight_ch"] = (3, hidden)
    assert {k: v.shape for k, v in cell.params.items()} == shapes
    bound = 1 / np.sqrt(hidden)
    for name, p in cell.params.items():
        assert p.dtype == np.float32, name
        if name != "weight_ch":
            assert np.all(np.abs(p) <= bound) and np.std(p) > 0.3 * bound, name
    again = cls(20, hidden, seed=123, **kwargs)
    assert_close(again.params, cell.params, 0, 0, "same seed")
    other = cls(20, hidden, seed=124, **kwargs)
    assert not np.array_equal(other.params["weight_ih"], cell.params["weight_ih"])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("variant", ["lstm_peephole_clip", "gru_reset_before"])
def test_extra_cells_threaded_sizes_match_reference(variant, n, dtype):
    kind, mode, kwargs = EXTRA_VARIANTS[variant]
    n_in, h = 64, 200
    rng = np.random.default_rng(14)
    kwargs = {k: v for k, v in kwargs.items() if k != "cell_clip"}
    cell = our_cell(kind, kwargs, dtype, n_in=n_in, h=h)
    params = cell.state_dict()
    if "weight_ch" in params:
        params["weight_ch"] = rng.uniform(-1, 1, (3, h)).astype(dtype)
    x = 3 * rng.standard_normal((n, n_in)).astype(dtype)
    state = draw_state(kind, rng, dtype, (n, h))
    fkwargs = {"reset_after": kwargs.get("reset_after", True)}
    if kind == "LSTMCell":
        fkwargs["cell_clip"] = choose_cell_clip(x[None], params, state)
        cell = our_cell(kind, dict(kwargs, cell_clip=fkwargs["cell_clip"]), dtype, n_in=n_in, h=h)
    cell.load_state_dict(params)
    _, r_state, _ = reference_forward(mode, x[None], params, state, **fkwargs)
    assert_close(cell.step(x, state), r_state, *TOL[dtype], "step")
    assert_close(cell.forward(x, state), r_state, *TOL[dtype], "forward")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cells_leave_inputs_alone_and_return_new_arrays(variant):
    kind, kwargs = VARIANTS[variant]
    cell = our_cell(kind, kwargs, np.float32)
    rng = np.random.default_rng(15)
    x = rng.standard_normal((N, I_SIZE)).astype(np.float32)
    state = draw_state(kind, rng, np.float32, (N, H))
    dstate = draw_state(kind, rng, np.float32, (N, H))
    parts = state if isinstance(state, tuple) else (state,)
    dparts = dstate if isinstance(dstate, tuple) else (dstate,)
    copies = [a.copy() for a in (x, *parts, *dparts)]
    params = cell.state_dict()
    first = cell.step(x, state)
    cell.forward(x, state)
    cell.backward(dstate)
    for a, b in zip((x, *parts, *dparts), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    assert_close(cell.params, params, 0, 0, "params unchanged")
    # outputs are new arrays: a second step does not overwrite the first one's result
    kept = [a.copy() for a in (first if isinstance(first, tuple) else (first,))]
    outs = first if isinstance(first, tuple) else (first,)
    assert not any(np.shares_memory(o, p) for o in outs for p in (x, *parts))
    cell.step(2 * x, state)
    for a, b in zip(outs, kept, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_training_steps_from_refilled_buffers_backpropagate_each_steps_values(variant, dtype):
    """A decoder that refills one input buffer (and one state buffer) in place for every step
    gets the gradients of the values each step saw, as torch's autograd gives them (or refuses):
    the tape must not see the buffers' later contents."""
    kind, kwargs = VARIANTS[variant]
    rng = np.random.default_rng(16)
    xs = [rng.standard_normal((N, I_SIZE)).astype(dtype) for _ in range(3)]
    dstate = draw_state(kind, rng, dtype, (N, H))

    def run(refill):
        cell = our_cell(kind, kwargs, dtype)
        x_buf = np.empty((N, I_SIZE), dtype)
        state_bufs = [np.empty((N, H), dtype) for _ in range(2)]
        state = None
        for x in xs:
            if refill:
                x_buf[...] = x
                x = x_buf
                if state is not None:
                    parts = state if isinstance(state, tuple) else (state,)
                    for buf, part in zip(state_bufs, parts, strict=False):
                        buf[...] = part
                    state = tuple(state_bufs) if isinstance(state, tuple) else state_bufs[0]
            state = cell.forward(x, state)
        dxs = [cell.backward(dstate)[0] for _ in xs]
        return dxs, cell.grads

    dxs, grads = run(refill=True)
    ref_dxs, ref_grads = run(refill=False)
    assert_close(dxs, ref_dxs, 0, 0, "dx")
    assert_close(grads, ref_grads, 0, 0, "grads")


@pytest.mark.parametrize("variant", ["rnn_tanh", "lstm", "gru_reset_before"])
def test_bidirectional_layer_reverse_half_equals_cell_steps_backwards(variant):
    """The reverse direction of a bidirectional layer with lengths is a cell run from each
    sequence's last real step back to its first."""
    layer_kind, cell_kind, mode, kwargs = LAYER_VARIANTS[variant]
    lstm = mode == "lstm"
    dtype = np.float64
    steps, lengths = 5, np.array([3, 5, 1])
    rng = np.random.default_rng(16)
    x = rng.standard_normal((steps, N, I_SIZE))
    layer = getattr(fastrnn, layer_kind)(I_SIZE, H, bidirectional=True, dtype=dtype, **kwargs)
    y, state = layer.forward(x, None, lengths)
    cell = our_cell(cell_kind, kwargs, dtype)
    cell.load_state_dict(
        {k.removesuffix("_l0_reverse"): v for k, v in layer.params.items() if "reverse" in k}
    )
    for n, length in enumerate(lengths):
        s = None
        for t in reversed(range(length)):
            s = cell.step(x[t, n], s)
            assert_close(s[0] if lstm else s, y[t, n, H:], 1e-10, 1e-12, f"n={n} t={t}")
        final = tuple(a[1, n] for a in state) if lstm else state[1, n]
        assert_close(s, final, 1e-10, 1e-12, f"final state of n={n}")


@pytest.mark.parametrize("cls", [fastrnn.RNNCell, fastrnn.LSTMCell, fastrnn.GRUCell])
def test_step_takes_parameters_in_any_memory_order_as_forward_does(cls):
    # step() passed self.params to the kernel as they were: a Fortran-order weight (a transposed
    # matrix assigned in) was refused with "weight_hh: expected a C-contiguous array"
    cell = cls(4, 5, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    expected = cell.step(x)
    cell.params["weight_hh"] = np.asfortranarray(cell.params["weight_hh"])
    cell.params["weight_ih"] = cell.params["weight_ih"].T.copy().T  # Fortran order too
    got = cell.step(x)
    for e, g in zip(np.atleast_1d(expected), np.atleast_1d(got), strict=True):
        np.testing.assert_array_equal(e, g)
    cell.params["weight_hh"] = cell.params["weight_hh"].astype(np.float64)
    with pytest.raises(TypeError, match=r"params\['weight_hh'\]: expected dtype float32"):
        cell.step(x)
