"""The CUDA layer kernels without a GPU: the GPU driver (csrc/cuda/rnn_gpu_driver.h) and its
kernel bodies (rnn_kernels.cuh) run on the CPU under the serial grid emulator
(`_C._emulated_rnn_forward/_backward`, the same arguments and results as `_C.rnn_forward/_backward`)
and must match the CPU path at DESIGN.md's tolerances for every mode and feature: lengths, reverse,
hx, bias=False, LSTM projection/peepholes/cell clip, both GRU variants, float32 and float64; and,
routed in through the same entry points, the numpy layers and fastrnn.torch modules with stacking,
bidirectional layers and packed sequences.

The emulator runs grids of 3 blocks of 32 threads, so these sizes (N·H > 96) also exercise
several blocks, a partial block and the grid-stride loops."""

import fastrnn
import fastrnn.torch
import numpy as np
import pytest
import torch
from fastrnn import _C
from fastrnn import functional as F
from reference import assert_close, reference_backward, reference_forward
from test_functional import CASES, TOL, VARIANTS, setup_problem

SIZES = (6, 5, 4, 23)  # T, N, I, H (N <= 5: reference.mixed_lengths)
DTYPES = [np.float32, np.float64]


def route_to_emulator(monkeypatch):
    """Routes every layer call (functional, layers, fastrnn.torch) to the emulated GPU kernels;
    returns the calls made there, {"forward": n, "backward": n}, so a test can see it was used."""
    calls = {"forward": 0, "backward": 0}

    def counted(name, kernel):
        def call(*args, **kwargs):
            calls[name] += 1
            return kernel(*args, **kwargs)

        return call

    monkeypatch.setattr(_C, "rnn_forward", counted("forward", _C._emulated_rnn_forward))
    monkeypatch.setattr(_C, "rnn_backward", counted("backward", _C._emulated_rnn_backward))
    return calls


@pytest.fixture
def emulated(monkeypatch):
    return route_to_emulator(monkeypatch)


def run_functional(mode, x, params, hx, lengths, kwargs, dy, dstate):
    y, state, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    dx, dhx, grads = F.backward(ctx, dy, dstate)
    return {"y": y, "state": state, "dx": dx, "dhx": dhx, "grads": grads}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_emulated_kernels_match_cpu_path(variant, case, dtype, monkeypatch):
    problem = setup_problem(variant, case, dtype, sizes=SIZES)
    cpu = run_functional(*problem)
    calls = route_to_emulator(monkeypatch)
    gpu = run_functional(*problem)
    assert calls == {"forward": 1, "backward": 1}
    rtol, atol = TOL[dtype]
    for key in cpu:
        assert_close(gpu[key], cpu[key], rtol, atol, key)
        if key != "grads":
            for a in gpu[key] if isinstance(gpu[key], tuple) else (gpu[key],):
                assert a is None or a.dtype == dtype
    lengths = problem[4]
    if lengths is not None:  # padding: zero outputs, zero input gradients, exactly
        pad = np.arange(SIZES[0])[:, None] >= lengths[None, :]
        assert not np.any(gpu["y"][pad]) and not np.any(gpu["dx"][pad])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_emulated_kernels_match_reference(variant, emulated):
    """float64 against the numpy reference directly (not only through the CPU path)."""
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        variant, "reverse_lengths", np.float64, sizes=SIZES
    )
    got = run_functional(mode, x, params, hx, lengths, kwargs, dy, dstate)
    r_y, r_state, cache = reference_forward(mode, x, params, hx, lengths, **kwargs)
    r_dx, r_dhx, r_grads = reference_backward(cache, dy, dstate)
    rtol, atol = TOL[np.float64]
    want = {"y": r_y, "state": r_state, "dx": r_dx, "dhx": r_dhx, "grads": r_grads}
    for key, value in want.items():
        assert_close(got[key], value, rtol, atol, key)


def test_emulated_backward_leaves_reserve_intact_and_repeats(emulated):
    mode, x, params, hx, lengths, kwargs, dy, dstate = setup_problem(
        "lstm_proj_peephole_clip", "reverse_lengths", np.float64, sizes=SIZES
    )
    _, _, ctx = F.forward(mode, x, params, hx, lengths, **kwargs)
    saved = ctx.reserve.copy()
    first = F.backward(ctx, dy, dstate)
    np.testing.assert_array_equal(ctx.reserve, saved)
    second = F.backward(ctx, dy, dstate)
    assert_close(second, first, 0, 0, "second backward")


def test_emulated_inference_matches_training_forward(emulated):
    for variant in ("lstm_proj_peephole_clip", "gru_reset_before", "gru", "rnn_relu"):
        mode, x, params, hx, lengths, kwargs, _, _ = setup_problem(
            variant, "reverse_lengths", np.float32, sizes=SIZES
        )
        y_train, state_train, _ = F.forward(mode, x, params, hx, lengths, **kwargs)
        y_infer, state_infer, ctx = F.forward(
            mode, x, params, hx, lengths, training=False, **kwargs
        )
        assert ctx is None
        assert_close(y_infer, y_train, 0, 0, f"{variant} y")
        assert_close(state_infer, state_train, 0, 0, f"{variant} state")


# ---- stacking, directions and packing through the Python layers ----

LAYERS = {
    "lstm_proj_peephole_clip": lambda dt: fastrnn.LSTM(
        4,
        23,
        num_layers=2,
        bidirectional=True,
        proj_size=5,
        peephole=True,
        cell_clip=0.6,
        dtype=dt,
        seed=3,
    ),
    "gru_reset_before": lambda dt: fastrnn.GRU(
        4, 23, num_layers=2, bidirectional=True, reset_after=False, dtype=dt, seed=3
    ),
    "gru": lambda dt: fastrnn.GRU(4, 23, num_layers=3, bidirectional=True, dtype=dt, seed=3),
    "rnn_relu": lambda dt: fastrnn.RNN(
        4, 23, num_layers=2, nonlinearity="relu", bidirectional=True, dtype=dt, seed=3
    ),
}


def run_layer(layer, x, lengths, dy):
    layer.zero_grad()
    y, state = layer.forward(x, lengths=lengths)
    dx, dhx = layer.backward(dy)
    return {"y": y, "state": state, "dx": dx, "dhx": dhx, "grads": dict(layer.grads)}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_emulated_numpy_layers_stacked_bidirectional(kind, dtype, monkeypatch):
    layer = LAYERS[kind](dtype)
    rng = np.random.default_rng(0)
    T, N = 6, 5
    x = rng.standard_normal((T, N, 4)).astype(dtype)
    lengths = np.array([4, 6, 1, 3, 6])
    S = layer.proj_size or layer.hidden_size
    dy = rng.standard_normal((T, N, 2 * S)).astype(dtype)
    cpu = run_layer(layer, x, lengths, dy)
    calls = route_to_emulator(monkeypatch)
    gpu = run_layer(layer, x, lengths, dy)
    assert calls["forward"] == calls["backward"] == 2 * layer.num_layers
    rtol, atol = TOL[dtype]
    for key in cpu:
        assert_close(gpu[key], cpu[key], rtol, atol, key)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_emulated_torch_modules_packed_bidirectional(mode, dtype, monkeypatch):
    """fastrnn.torch modules on a PackedSequence (unsorted lengths), 2 layers, both directions,
    with hx: outputs and every gradient as on the CPU path."""
    torch.manual_seed(0)
    kwargs = {"proj_size": 5} if mode == "LSTM" else {}
    module = getattr(fastrnn.torch, mode)(
        4, 23, num_layers=2, bidirectional=True, dtype=dtype, **kwargs
    )
    T, N, S = 6, 5, kwargs.get("proj_size", 23)
    x = torch.randn(T, N, 4, dtype=dtype)
    h0 = torch.randn(4, N, S, dtype=dtype)
    hx = (h0, torch.randn(4, N, 23, dtype=dtype)) if mode == "LSTM" else h0
    lengths = torch.tensor([4, 6, 1, 3, 6])

    def run():
        module.zero_grad()
        xs = x.clone().requires_grad_(True)
        hs = tuple(h.clone().requires_grad_(True) for h in (hx if mode == "LSTM" else (hx,)))
        packed = torch.nn.utils.rnn.pack_padded_sequence(xs, lengths, enforce_sorted=False)
        out, state = module(packed, hs if mode == "LSTM" else hs[0])
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        states = state if mode == "LSTM" else (state,)
        loss = (y * torch.linspace(-1, 1, y.numel(), dtype=dtype).view_as(y)).sum()
        loss = loss + sum((s * s).sum() for s in states)
        loss.backward()
        grads = {n: p.grad.numpy().copy() for n, p in module.named_parameters()}
        return {
            "y": y.detach().numpy(),
            "state": tuple(s.detach().numpy() for s in states),
            "dx": xs.grad.numpy(),
            "dhx": tuple(h.grad.numpy() for h in hs),
            "grads": grads,
        }

    cpu = run()
    calls = route_to_emulator(monkeypatch)
    gpu = run()
    assert calls == {"forward": 4, "backward": 4}
    rtol, atol = TOL[np.float32 if dtype == torch.float32 else np.float64]
    for key in cpu:
        assert_close(gpu[key], cpu[key], rtol, atol, key)


# ---- the Python side of the CUDA path (fastrnn.torch's "cuda" kernels), on host memory ----

OP_CASES = {  # name -> (mode, proj, peephole, cell_clip, reset_after, bias, lengths, hx)
    "lstm_everything": ("lstm", 3, True, 0.7, True, True, True, True),
    "lstm_plain": ("lstm", 0, False, 0.0, True, True, False, False),
    "gru_reset_before": ("gru", 0, False, 0.0, False, True, True, True),
    "gru": ("gru", 0, False, 0.0, True, False, False, True),
    "rnn_tanh_no_bias": ("rnn_tanh", 0, False, 0.0, True, False, True, False),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("case", list(OP_CASES))
@pytest.mark.parametrize("reverse", [False, True])
def test_cuda_op_kernels_on_host_memory(case, reverse, dtype, monkeypatch):
    """The ops' registered "cuda" kernels (argument checks, allocation, pointer order, workspace
    sizes, gradient buffers) with the device entry points swapped for their host-memory emulated
    twins: the same results as the CPU ops."""
    from fastrnn.torch import _cuda_ops, _ops

    mode, P, peephole, clip, reset_after, bias, with_lengths, with_hx = OP_CASES[case]
    T, N, I, H = 6, 5, 4, 23  # noqa: E741
    G = {"lstm": 4, "gru": 3, "rnn_tanh": 1}[mode]
    S = P or H
    g = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype) * 0.5

    w = [randn(G * H, I), randn(G * H, S)]
    w += [randn(G * H), randn(G * H)] if bias else [None, None]
    w += [randn(P, H) if P else None, randn(3, H) if peephole else None]
    x = randn(T, N, I)
    lengths = torch.tensor([4, 6, 1, 3, 6]) if with_lengths else None
    h0 = randn(N, S) if with_hx else None
    c0 = randn(N, H) if with_hx and mode == "lstm" else None
    flags = (mode, reverse, reset_after, clip)
    args = (x, lengths, h0, c0, *w, mode, reverse, True, reset_after, clip)

    cpu_fwd = torch.ops.fastrnn.rnn_forward(*args)
    dy, dh_n = randn(T, N, S), randn(N, S)
    dc_n = randn(N, H) if mode == "lstm" else None
    bwd_args = (dy, dh_n, dc_n, x, lengths, *w, cpu_fwd[3], *flags)
    cpu_bwd = torch.ops.fastrnn.rnn_backward(*bwd_args)

    monkeypatch.setattr(_C, "cuda_rnn_forward", _C._emulated_rnn_forward_ptr, raising=False)
    monkeypatch.setattr(_C, "cuda_rnn_backward", _C._emulated_rnn_backward_ptr, raising=False)
    monkeypatch.setattr(_cuda_ops, "load_cublas", lambda: "")
    monkeypatch.setattr(_cuda_ops, "_stream", lambda t: 0)
    gpu_fwd = _ops.rnn_forward_cuda_kernel(*args)
    gpu_bwd = _ops.rnn_backward_cuda_kernel(*bwd_args[:11], gpu_fwd[3], *flags)

    rtol, atol = TOL[np.float32 if dtype == torch.float32 else np.float64]
    for name, got, want in zip(["y", "h_n", "c_n", "reserve"], gpu_fwd, cpu_fwd, strict=True):
        assert got.shape == want.shape and got.dtype == dtype, name
        assert_close(got.numpy(), want.numpy(), rtol, atol, name)
    names = ["dx", "dh0", "dc0", *(f"d{n}" for n in _cuda_ops._WEIGHT_NAMES)]
    for name, got, want in zip(names, gpu_bwd, cpu_bwd, strict=True):
        assert got.shape == want.shape and got.dtype == dtype, name
        assert_close(got.numpy(), want.numpy(), rtol, atol, name)


def test_cuda_op_kernels_check_their_arguments(monkeypatch):
    """Raw device pointers leave no check to the C++ side: a wrong shape, dtype or device is a
    RuntimeError naming the tensor, before anything is launched."""
    from fastrnn.torch import _cuda_ops, _ops

    monkeypatch.setattr(_cuda_ops, "load_cublas", lambda: "")
    x = torch.zeros(3, 2, 4)
    w_ih, w_hh = torch.zeros(8, 4), torch.zeros(8, 2)
    flags = ("rnn_tanh", False, True, True, 0.0)
    with pytest.raises(RuntimeError, match=r"weight_hh: expected shape \(8, 8\)"):
        _ops.rnn_forward_cuda_kernel(x, None, None, None, w_ih, w_hh, *[None] * 4, *flags)
    with pytest.raises(RuntimeError, match="weight_ih: expected dtype torch.float32"):
        _ops.rnn_forward_cuda_kernel(
            x, None, None, None, w_ih.double(), torch.zeros(8, 8), *[None] * 4, *flags
        )
    with pytest.raises(RuntimeError, match="h0: expected a tensor on cpu, got one on meta"):
        _ops.rnn_forward_cuda_kernel(
            x,
            None,
            torch.zeros(2, 8, device="meta"),
            None,
            w_ih,
            torch.zeros(8, 8),
            *[None] * 4,
            *flags,
        )
    with pytest.raises(RuntimeError, match=r"lengths: each length must be in 1..T=3"):
        _ops.rnn_forward_cuda_kernel(
            x, torch.tensor([1, 4]), None, None, w_ih, torch.zeros(8, 8), *[None] * 4, *flags
        )
    # a dtype the kernels do not have (it would be read as float32 past the buffers' ends)
    half = [t.half() for t in (x, w_ih, torch.zeros(8, 8))]
    with pytest.raises(TypeError, match="x: expected dtype torch.float32 or torch.float64"):
        _ops.rnn_forward_cuda_kernel(half[0], None, None, None, *half[1:], *[None] * 4, *flags)
    # what the CPU op refuses, the device op refuses too
    with pytest.raises(ValueError, match="cell_clip: expected a finite value >= 0"):
        _ops.rnn_forward_cuda_kernel(
            x, None, None, None, w_ih, torch.zeros(8, 8), *[None] * 4, *flags[:4], -1.0
        )
    with pytest.raises(ValueError, match="c0: only an LSTM has a cell state"):
        _ops.rnn_forward_cuda_kernel(
            x, None, None, torch.zeros(2, 8), w_ih, torch.zeros(8, 8), *[None] * 4, *flags
        )


# ---- padding isolation: what sits past a sequence's end gives and gets no gradient ----


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "name", ["rnn_tanh", "lstm_proj", "lstm_peephole_clip", "gru", "gru_reset_before"]
)
def test_emulated_nan_in_padding_changes_nothing(name, reverse, emulated):
    """NaN in the padded rows of x and dy leaves every output and gradient of the GPU driver equal
    to the float64 reference run with zeros there (0 · NaN must not reach dW_ih)."""
    from test_padding_isolation import check, padded_case

    ours, ref = padded_case(name, np.float64, reverse, np.nan)
    assert emulated == {"forward": 1, "backward": 1}
    check(ours, ref, np.float64, name)
