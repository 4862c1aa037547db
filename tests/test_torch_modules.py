"""fastrnn.torch RNN/LSTM/GRU and cells against torch.nn: outputs and every gradient.

Same seed, same parameters, same inputs; both run forward and backward of one random linear
functional of all outputs, and everything (outputs, final states, gradients of the input, hx and
every parameter) must agree: float32 within 1e-4 relative, float64 within 1e-10 (relative to each
tensor's largest magnitude). Small sizes: T=5, N=3, I=4, H=6.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import fastrnn  # noqa: E402
import fastrnn.torch as ft  # noqa: E402
from _bench_scripts import import_bench_script  # noqa: E402
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence  # noqa: E402

# torch.nn.LSTM with proj_size says so on the CPU (a warning from torch, not from fastrnn)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

T, N, I, H = 5, 3, 4, 6  # noqa: E741
RTOL = {torch.float32: 1e-4, torch.float64: 1e-10}
CLASSES = {
    "rnn_tanh": (torch.nn.RNN, ft.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNN, ft.RNN, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTM, ft.LSTM, {}),
    "gru": (torch.nn.GRU, ft.GRU, {}),
}
CELLS = {
    "rnn_tanh": (torch.nn.RNNCell, ft.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (torch.nn.RNNCell, ft.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (torch.nn.LSTMCell, ft.LSTMCell, {}),
    "gru": (torch.nn.GRUCell, ft.GRUCell, {}),
}


def assert_close(actual, expected, dtype, what):
    actual, expected = actual.detach(), expected.detach()
    rtol = RTOL[dtype]
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    torch.testing.assert_close(
        actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-3), msg=lambda m: f"{what}: {m}"
    )


def flatten(out):
    """Tensors of a module's output: y (or packed data), h_n (and c_n)."""
    y, state = out
    y = y.data if isinstance(y, PackedSequence) else y
    return [y, *(state if isinstance(state, tuple) else (state,))]


def pair(mode, dtype, cells=False, **kwargs):
    base, fast, extra = (CELLS if cells else CLASSES)[mode]
    torch.manual_seed(0)
    ref = base(I, H, dtype=dtype, **extra, **kwargs)
    torch.manual_seed(0)
    new = fast(I, H, dtype=dtype, **extra, **kwargs)
    return ref, new


def run(module, make_input, hx):
    """Forward, then backward of sum(w * out) with fixed random w; returns outputs and grads."""
    x = make_input()
    hx_arg = None if not hx else (tuple(hx) if len(hx) == 2 else hx[0])
    out = module(x, hx_arg)
    if isinstance(module, torch.nn.RNNCellBase):
        outs = list(out) if isinstance(out, tuple) else [out]
    else:
        outs = flatten(out)
    g = torch.Generator().manual_seed(1)
    loss = sum((torch.rand(o.shape, generator=g, dtype=o.dtype) * o).sum() for o in outs)
    grads = torch.autograd.grad(loss, [x, *hx, *module.parameters()])
    return outs, grads, [n for n, _ in module.named_parameters()]


def compare(ref, new, make_input, hx, dtype):
    ro, rg, rn = run(ref, make_input, hx)
    no, ng, nn = run(new, make_input, hx)
    assert rn == nn
    for k, (a, b) in enumerate(zip(no, ro, strict=True)):
        assert type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype
        assert a.stride() == b.stride(), f"output {k}: strides {a.stride()} != {b.stride()}"
        assert_close(a, b, dtype, f"output {k}")
    names = ["x"] + [f"hx[{k}]" for k in range(len(hx))] + rn
    for name, a, b in zip(names, ng, rg, strict=True):
        assert_close(a, b, dtype, f"grad {name}")


def make_hx(mode, layers_dirs, batch, dtype, proj=0, unbatched=False):
    g = torch.Generator().manual_seed(2)
    shape = (layers_dirs, batch) if not unbatched else (layers_dirs,)
    h = torch.randn(*shape, proj or H, generator=g, dtype=dtype, requires_grad=True)
    if mode != "lstm":
        return [h]
    return [h, torch.randn(*shape, H, generator=g, dtype=dtype, requires_grad=True)]


def tensor_input(shape, dtype):
    def make():
        g = torch.Generator().manual_seed(3)
        return torch.randn(*shape, generator=g, dtype=dtype, requires_grad=True)

    return make


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", list(CLASSES))
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_layers_match_torch(dtype, mode, layers, bidirectional, batch_first, with_hx):
    ref, new = pair(
        mode, dtype, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first
    )
    D = 2 if bidirectional else 1
    hx = make_hx(mode, layers * D, N, dtype) if with_hx else []
    compare(ref, new, tensor_input((N, T, I) if batch_first else (T, N, I), dtype), hx, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_lstm_projection_matches_torch(dtype, bidirectional, with_hx):
    ref, new = pair("lstm", dtype, num_layers=2, bidirectional=bidirectional, proj_size=3)
    D = 2 if bidirectional else 1
    hx = make_hx("lstm", 2 * D, N, dtype, proj=3) if with_hx else []
    compare(ref, new, tensor_input((T, N, I), dtype), hx, dtype)


class Packed:
    """A padded input and its lengths; .pack() makes the PackedSequence (grads reach `padded`)."""

    def __init__(self, padded, lengths, enforce_sorted, batch_first):
        self.padded, self.lengths = padded, lengths
        self.enforce_sorted, self.batch_first = enforce_sorted, batch_first

    def pack(self):
        return pack_padded_sequence(
            self.padded,
            self.lengths,
            batch_first=self.batch_first,
            enforce_sorted=self.enforce_sorted,
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", list(CLASSES))
@pytest.mark.parametrize("sorted_", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_packed_sequences_match_torch(dtype, mode, sorted_, bidirectional, with_hx):
    lengths = [5, 3, 2, 1] if sorted_ else [2, 5, 1, 3]
    batch = len(lengths)
    proj = 3 if mode == "lstm" and with_hx else 0  # also covers projection + packed
    kwargs = {"proj_size": proj} if proj else {}
    ref, new = pair(
        mode, dtype, num_layers=2, bidirectional=bidirectional, batch_first=True, **kwargs
    )
    D = 2 if bidirectional else 1
    hx = make_hx(mode, 2 * D, batch, dtype, proj=proj) if with_hx else []

    def make():
        g = torch.Generator().manual_seed(3)
        x = torch.randn(batch, T, I, generator=g, dtype=dtype, requires_grad=True)
        return Packed(x, lengths, sorted_, True)

    def run_packed(module):
        p = make()
        hx_arg = None if not hx else (tuple(hx) if mode == "lstm" else hx[0])
        out = module(p.pack(), hx_arg)
        assert isinstance(out[0], PackedSequence)
        outs = flatten(out)
        g = torch.Generator().manual_seed(1)
        loss = sum((torch.rand(o.shape, generator=g, dtype=o.dtype) * o).sum() for o in outs)
        grads = torch.autograd.grad(loss, [p.padded, *hx, *module.parameters()])
        return out, outs, grads

    rout, ro, rg = run_packed(ref)
    nout, no, ng = run_packed(new)
    # batch_sizes, sorted and unsorted indices
    for a, b in zip(rout[0][1:], nout[0][1:], strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    for k, (a, b) in enumerate(zip(no, ro, strict=True)):
        assert_close(a, b, dtype, f"output {k}")
    for k, (a, b) in enumerate(zip(ng, rg, strict=True)):
        assert_close(a, b, dtype, f"grad {k}")


@pytest.mark.parametrize("mode", list(CLASSES))
@pytest.mark.parametrize("with_hx", [False, True])
def test_unbatched_input_matches_torch(mode, with_hx):
    dtype = torch.float64
    ref, new = pair(mode, dtype, num_layers=2, bidirectional=True)
    hx = make_hx(mode, 4, None, dtype, unbatched=True) if with_hx else []
    compare(ref, new, tensor_input((T, I), dtype), hx, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", list(CELLS))
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(dtype, mode, with_hx, batched, bias):
    ref, new = pair(mode, dtype, cells=True, bias=bias)
    assert isinstance(new, type(ref))
    hx = []
    if with_hx:
        hx = (
            make_hx(mode, N, None, dtype, unbatched=True)
            if batched
            else make_hx(mode, 1, None, dtype, unbatched=True)
        )
        if not batched:
            hx = [h.detach()[0].requires_grad_() for h in hx]
    compare(ref, new, tensor_input((N, I) if batched else (I,), dtype), hx, dtype)


@pytest.mark.parametrize("mode", list(CLASSES))
def test_no_bias_matches_torch(mode):
    ref, new = pair(mode, torch.float64, num_layers=2, bias=False)
    compare(ref, new, tensor_input((T, N, I), torch.float64), [], torch.float64)


def test_same_initialisation_as_torch():
    """Under the same seed the modules draw the same initial parameters as torch.nn."""
    for mode in CLASSES:
        ref, new = pair(mode, torch.float32, num_layers=2, bidirectional=True)
        assert list(ref.state_dict()) == list(new.state_dict())
        for a, b in zip(ref.state_dict().values(), new.state_dict().values(), strict=True):
            assert torch.equal(a, b)


def test_dropout_between_layers_uses_torch_rng():
    """Dropout follows torch.manual_seed: same masks as torch.nn.LSTM on the CPU."""
    ref, new = pair("lstm", torch.float64, num_layers=3, dropout=0.5)
    x = torch.randn(T, N, I, dtype=torch.float64)
    outs = []
    for m in (ref, new):
        torch.manual_seed(5)
        outs.append(m(x)[0])
    assert_close(outs[1], outs[0], torch.float64, "y with dropout")
    ref.eval()
    new.eval()
    a, b = ref(x)[0], new(x)[0]
    assert_close(b, a, torch.float64, "y in eval")
    torch.manual_seed(5)
    y1 = new.train()(x)[0]
    torch.manual_seed(6)
    y2 = new(x)[0]
    assert not torch.allclose(y1, y2)


def test_eval_mode_still_differentiable():
    """Like torch.nn, eval() does not stop gradients (it only turns dropout off)."""
    ref, new = pair("gru", torch.float64, num_layers=2)
    ref.eval()
    new.eval()
    compare(ref, new, tensor_input((T, N, I), torch.float64), [], torch.float64)


def test_no_grad_inference_matches():
    ref, new = pair("lstm", torch.float32, num_layers=2, bidirectional=True)
    x = torch.randn(T, N, I)
    with torch.no_grad():
        a, b = ref(x), new(x)
    for k, (p, q) in enumerate(zip(flatten(b), flatten(a), strict=True)):
        assert not p.requires_grad
        assert_close(p, q, torch.float32, f"output {k}")


def _numpy_twin(new, layer_cls, **kwargs):
    twin = layer_cls(
        I, H, num_layers=new.num_layers, bidirectional=new.bidirectional, dtype=np.float64, **kwargs
    )
    twin.load_state_dict({k: v.detach().numpy() for k, v in new.state_dict().items()})
    return twin


@pytest.mark.parametrize(
    "extra", [{"peephole": True}, {"cell_clip": 0.3}, {"peephole": True, "cell_clip": 0.3}]
)
def test_lstm_extras_match_numpy_layer(extra):
    new = ft.LSTM(I, H, num_layers=2, bidirectional=True, dtype=torch.float64, **extra)
    if extra.get("peephole"):
        assert new.weight_ch_l1_reverse.shape == (3, H)
    twin = _numpy_twin(new, fastrnn.LSTM, **extra)
    x = torch.randn(T, N, I, dtype=torch.float64, requires_grad=True)
    y, (h, c) = new(x)
    ty, (th, tc) = twin.forward(x.detach().numpy(), training=True)
    for a, b in ((y, ty), (h, th), (c, tc)):
        np.testing.assert_allclose(a.detach().numpy(), b, rtol=1e-12, atol=1e-14)
    dy = torch.randn_like(y)
    y.backward(dy)
    tdx, _ = twin.backward(dy.numpy())
    np.testing.assert_allclose(x.grad.numpy(), tdx, rtol=1e-12, atol=1e-14)
    for name, p in new.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), twin.grads[name], rtol=1e-12, atol=1e-14)


def test_gru_reset_before_matches_numpy_layer():
    new = ft.GRU(I, H, num_layers=2, dtype=torch.float64, reset_after=False)
    twin = _numpy_twin(new, fastrnn.GRU, reset_after=False)
    x = torch.randn(T, N, I, dtype=torch.float64)
    y, h = new(x)
    ty, th = twin.forward(x.numpy(), training=False)
    np.testing.assert_allclose(y.detach().numpy(), ty, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h.detach().numpy(), th, rtol=1e-12, atol=1e-14)
    ref = ft.GRU(I, H, num_layers=2, dtype=torch.float64)
    ref.load_state_dict(new.state_dict())
    assert not torch.allclose(ref(x)[0], y)  # the variant matters


def test_cell_extras_match_layer_step():
    cell = ft.LSTMCell(I, H, dtype=torch.float64, peephole=True, cell_clip=0.2)
    layer = ft.LSTM(I, H, dtype=torch.float64, peephole=True, cell_clip=0.2)
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(N, I, dtype=torch.float64)
    hc = (torch.randn(N, H, dtype=torch.float64), torch.randn(N, H, dtype=torch.float64))
    h, c = cell(x, hc)
    _, (h2, c2) = layer(x[None], (hc[0][None], hc[1][None]))
    assert torch.equal(h, h2[0]) and torch.equal(c, c2[0])
    assert float(c.detach().abs().max()) <= 0.2
    gcell = ft.GRUCell(I, H, dtype=torch.float64, reset_after=False)
    assert "reset_after=False" in repr(gcell)


def test_repr_and_attributes():
    m = ft.LSTM(I, H, 2, batch_first=True, proj_size=3, peephole=True, cell_clip=1.5)
    r = repr(m)
    assert r.startswith("LSTM(4, 6, proj_size=3, num_layers=2, batch_first=True")
    assert "peephole=True" in r and "cell_clip=1.5" in r
    assert isinstance(m, torch.nn.RNNBase) and m.mode == "LSTM"
    assert len(m.all_weights) == 2 and m.num_layers == 2 and m.proj_size == 3
    rnn = ft.RNN(I, H, 1, "relu")
    assert rnn.nonlinearity == "relu" and rnn.mode == "RNN_RELU"
    assert repr(ft.GRU(I, H)) == repr(torch.nn.GRU(I, H))


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda: ft.RNN(I, H, nonlinearity="sigmoid"), ValueError),
        (lambda: ft.GRU(I, H, peephole=True), TypeError),
        (lambda: ft.LSTM(I, H, cell_clip=-1.0), ValueError),
        (lambda: ft.LSTM(I, H, peephole=1), TypeError),
        (lambda: ft.LSTM(I, H, proj_size=H), ValueError),
        (lambda: ft.GRU(I, H, proj_size=2), ValueError),  # torch.nn's error for RNN and GRU
        (lambda: ft.RNN(I, H, proj_size=2), ValueError),
        (lambda: ft.GRUCell(I, H, reset_after="no"), TypeError),
    ],
)
def test_constructor_errors(make, error):
    with pytest.raises(error):
        make()


def test_forward_errors_match_torch():
    ref, new = pair("lstm", torch.float32, num_layers=2)
    bad = [
        (torch.randn(T, N, I + 1), None),
        (torch.randn(T, N, I, 1), None),
        (torch.randn(T, N, I), (torch.zeros(2, N + 1, H), torch.zeros(2, N + 1, H))),
        (torch.randn(T, N, I), (torch.zeros(2, N, H), torch.zeros(2, N))),
        (torch.randn(T, N, I, dtype=torch.float64), None),
    ]
    for x, hx in bad:
        with pytest.raises(Exception) as want:
            ref(x, hx)
        with pytest.raises(type(want.value)):
            new(x, hx)
    cref, cnew = pair("gru", torch.float32, cells=True)
    for x, hx in [
        (torch.randn(N, I + 1), None),
        (torch.randn(N, I, 1), None),
        (torch.randn(N, I), torch.zeros(N, H + 1)),
    ]:
        with pytest.raises(Exception) as want:
            cref(x, hx)
        with pytest.raises(type(want.value)):
            cnew(x, hx)


def test_other_dtypes_fall_back_to_torch_with_one_warning(monkeypatch):
    from fastrnn.torch import _ops

    monkeypatch.setattr(_ops, "_warned_fallback", False)
    ref, new = pair("gru", torch.bfloat16, num_layers=2)
    cref, cnew = pair("lstm", torch.bfloat16, cells=True)
    x = torch.randn(T, N, I, dtype=torch.bfloat16)
    with pytest.warns(RuntimeWarning, match="falling back to torch"):
        y, h = new(x)
    torch.testing.assert_close(y, ref(x)[0], rtol=0, atol=0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new(x)  # warned once only
        h, c = cnew(x[0])
    torch.testing.assert_close(h, cref(x[0])[0], rtol=0, atol=0)
    peep = ft.LSTM(I, H, dtype=torch.bfloat16, peephole=True)
    with pytest.raises(NotImplementedError, match="peephole"):
        peep(x)


def test_meta_device_falls_back(monkeypatch):
    from fastrnn.torch import _ops

    monkeypatch.setattr(_ops, "_warned_fallback", False)
    m = ft.LSTM(I, H, 2, device="meta")
    with pytest.warns(RuntimeWarning, match="meta"):
        y, (h, c) = m(torch.empty(T, N, I, device="meta"))
    assert y.shape == (T, N, H) and y.device.type == "meta" and h.shape == (2, N, H)


@pytest.mark.parametrize("use", ["y", "h_n", "c_n"])
def test_gradient_through_one_output_only(use):
    """Unused outputs give the backward no gradient (None, not zero-filled tensors)."""
    ref, new = pair("lstm", torch.float64, num_layers=2, bidirectional=True)
    grads = []
    for m in (ref, new):
        x = torch.randn(
            T,
            N,
            I,
            dtype=torch.float64,
            generator=torch.Generator().manual_seed(0),
            requires_grad=True,
        )
        y, (h, c) = m(x)
        out = {"y": y, "h_n": h, "c_n": c}[use]
        grads.append(torch.autograd.grad(out.sum(), [x, *m.parameters()]))
    for a, b in zip(grads[1], grads[0], strict=True):
        assert_close(a, b, torch.float64, f"grad via {use}")


def test_cpu_autocast_falls_back_like_torch(monkeypatch):
    """Under CPU autocast torch.nn computes in bfloat16; so does the fallback (warned once)."""
    from fastrnn.torch import _ops

    monkeypatch.setattr(_ops, "_warned_fallback", False)
    ref, new = pair("lstm", torch.float32, num_layers=2)
    x = torch.randn(T, N, I)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        peep = ft.LSTM(I, H, peephole=True)(x)[0]  # extras: fastrnn's kernels, float32
        try:
            want = ref(x)[0]
        except RuntimeError as error:
            # torch's own LSTM refuses bfloat16 autocast on some CPUs (oneDNN: "could not create
            # a primitive descriptor", seen on an AVX2 EPYC): the fallback must refuse it alike.
            with pytest.warns(RuntimeWarning, match="autocast"), pytest.raises(RuntimeError) as e:
                new(x)
            assert str(error).splitlines()[0] in str(e.value)
            want = None
        if want is not None:
            with pytest.warns(RuntimeWarning, match="autocast"):
                got = new(x)[0]
    assert peep.dtype == torch.float32
    if want is not None:
        assert got.dtype == want.dtype == torch.bfloat16
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("N", [1, 3, 8])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_cell_inference_runs_the_cores_step_kernel(mode, N):
    """A cell call with no gradient due is fastrnn's one-step call (the numpy cell's step(): the
    step kernel, which reads the weights as they are, at up to 32 rows); with a gradient due the
    layer kernel with T = 1 (which at these sizes runs the step kernel too, writing what backward
    reads). Bit for bit the numpy cell's step and forward respectively."""
    torch_class = {"lstm": ft.LSTMCell, "gru": ft.GRUCell, "rnn_tanh": ft.RNNCell}[mode]
    numpy_class = {"lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell, "rnn_tanh": fastrnn.RNNCell}
    torch.manual_seed(0)
    cell = torch_class(5, 20)
    reference = numpy_class[mode](5, 20)
    reference.load_state_dict({k: v.detach().numpy() for k, v in cell.state_dict().items()})
    x = torch.randn(N, 5)
    state = (torch.randn(N, 20), torch.randn(N, 20)) if mode == "lstm" else torch.randn(N, 20)
    numpy_state = tuple(s.numpy() for s in state) if mode == "lstm" else state.numpy()
    with torch.no_grad():
        got = cell(x, state)
    _assert_states_equal(got, reference.step(x.numpy(), numpy_state))
    got = cell(x.requires_grad_(), state)
    _assert_states_equal(got, reference.forward(x.detach().numpy(), numpy_state))


def _assert_states_equal(got, expected):
    """got: a cell's h or (h, c) tensors; expected: the numpy cell's, bit for bit."""
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.detach().numpy(), e)


def test_the_cell_loop_benchmark_runs(capsys):
    """bench/torch_cells.py (BENCHMARKS.md's record of the cells' speed) at a tiny size."""
    script = import_bench_script("torch_cells")
    threads = fastrnn.get_num_threads(), torch.get_num_threads()
    script.main("--mode gru --sizes 1x4,3x5 --steps 2 --rounds 2 --threads 1".split())
    fastrnn.set_num_threads(threads[0])
    torch.set_num_threads(threads[1])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1:3] for row in rows[1:]] == [
        [" 1, 4 ", " inference "],
        [" 1, 4 ", " training "],
        [" 3, 5 ", " inference "],
        [" 3, 5 ", " training "],
    ]


def test_importing_fastrnn_torch_without_torch_says_what_to_install():
    # it was a bare "No module named 'torch'" from fastrnn/torch/_ops.py
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"  # as if torch were not installed
        "try:\n    import fastrnn.torch\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (
        'fastrnn.torch needs PyTorch (torch>=2.4,<=2.13.0): pip install "fastrnn[torch]"'
        in out.stdout
    )
