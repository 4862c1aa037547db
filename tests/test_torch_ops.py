"""The torch.library custom ops behind fastrnn.torch: opcheck, float64 gradcheck, double backward
and torch.compile (fullgraph, no graph breaks; packed inputs eagerly), torch.jit.trace, and the
clear errors of the transforms the kernels do not support (jit.script, func.grad, forward AD).

Tiny sizes (T=4, N=2, I=3, H=5) because finite differences and tracing are slow.
"""

import os

import pytest

torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
from torch.func import functional_call  # noqa: E402

T, N, I, H = 4, 2, 3, 5  # noqa: E741
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def op_args(
    mode,
    *,
    proj=0,
    peephole=False,
    lengths=False,
    reverse=False,
    training=True,
    reset_after=True,
    clip=0.0,
    dtype=torch.float64,
    seed=0,
):
    """Arguments of torch.ops.fastrnn.rnn_forward: tensors requiring grad when training."""
    g = torch.Generator().manual_seed(seed)
    G, S = GATES[mode], proj or H

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(training)

    return (
        r(T, N, I),
        torch.tensor([T, 2]) if lengths else None,
        r(N, S),
        r(N, H) if mode == "lstm" else None,
        r(G * H, I),
        r(G * H, S),
        r(G * H),
        r(G * H),
        r(proj, H) if proj else None,
        r(3, H) if peephole else None,
        mode,
        reverse,
        training,
        reset_after,
        clip,
    )


VARIANTS = {
    "rnn_tanh": {},
    "rnn_relu-lengths-reverse": {"lengths": True, "reverse": True},
    "gru": {},
    "gru-reset_before-lengths": {"reset_after": False, "lengths": True},
    "lstm": {},
    "lstm-proj-peephole-clip-lengths-reverse": {
        "proj": 2,
        "peephole": True,
        "clip": 0.5,
        "lengths": True,
        "reverse": True,
    },
}


def _mode(name):
    return name.split("-")[0]


@pytest.mark.parametrize("name", ["rnn_tanh", "gru", "lstm-proj-peephole-clip-lengths-reverse"])
def test_opcheck_forward(name):
    args = op_args(_mode(name), **VARIANTS[name])
    torch.library.opcheck(torch.ops.fastrnn.rnn_forward.default, args)
    inference = op_args(_mode(name), **VARIANTS[name], training=False)
    torch.library.opcheck(torch.ops.fastrnn.rnn_forward.default, inference)


def test_opcheck_backward():
    args = op_args("lstm", proj=2, peephole=True, lengths=True, training=False)
    x, lengths, h0, c0, *w, mode, reverse, _, reset_after, clip = args
    y, h_n, c_n, reserve = torch.ops.fastrnn.rnn_forward(
        x, lengths, h0, c0, *w, mode, reverse, True, reset_after, clip
    )
    bargs = (
        torch.randn_like(y),
        torch.randn_like(h_n),
        torch.randn_like(c_n),
        x,
        lengths,
        *w,
        reserve,
        mode,
        reverse,
        reset_after,
        clip,
    )
    torch.library.opcheck(torch.ops.fastrnn.rnn_backward.default, bargs)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_gradcheck_op(name):
    args = op_args(_mode(name), **VARIANTS[name])
    where = [k for k, a in enumerate(args[:10]) if isinstance(a, torch.Tensor) and a.requires_grad]

    def f(*tensors):
        full = list(args)
        for k, t in zip(where, tensors, strict=True):
            full[k] = t
        y, h_n, c_n, _ = torch.ops.fastrnn.rnn_forward(*full)
        return (y, h_n, c_n) if name.startswith("lstm") else (y, h_n)

    assert torch.autograd.gradcheck(f, [args[k] for k in where])


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (ft.LSTM, {"num_layers": 2, "bidirectional": True, "proj_size": 2}),
        (ft.GRU, {"num_layers": 2, "bidirectional": True, "batch_first": True}),
        (ft.LSTMCell, {"peephole": True}),
    ],
)
def test_gradcheck_module(cls, kwargs):
    """All inputs, initial states and parameters of a whole module at once (float64)."""
    torch.manual_seed(0)
    module = cls(I, H, dtype=torch.float64, **kwargs)
    names = [n for n, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in module.parameters()]
    cell = isinstance(module, torch.nn.RNNCellBase)
    shape = (N, I) if cell else (N, T, I) if kwargs.get("batch_first") else (T, N, I)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    LD = 1 if cell else 2 * 2
    S = kwargs.get("proj_size") or H
    hs = [torch.randn(*((N,) if cell else (LD, N)), S, dtype=torch.float64, requires_grad=True)]
    if cls in (ft.LSTM, ft.LSTMCell):
        hs.append(
            torch.randn(*((N,) if cell else (LD, N)), H, dtype=torch.float64, requires_grad=True)
        )

    def f(x, *rest):
        states, ps = rest[: len(hs)], rest[len(hs) :]
        hx = tuple(states) if len(states) == 2 else states[0]
        out = functional_call(module, dict(zip(names, ps, strict=True)), (x, hx))
        if cell:
            return out
        y, state = out
        return (y, *state) if isinstance(state, tuple) else (y, state)

    assert torch.autograd.gradcheck(f, [x, *hs, *params])


def test_double_backward_raises_clearly():
    lstm = ft.LSTM(I, H, dtype=torch.float64)
    x = torch.randn(T, N, I, dtype=torch.float64, requires_grad=True)
    y, _ = lstm(x)
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)  # building is fine
    with pytest.raises(RuntimeError, match="double backward .* not supported"):
        gx.square().sum().backward()


class TinyModel(torch.nn.Module):
    def __init__(self, cls=ft.LSTM):
        super().__init__()
        self.rnn = cls(I, H, num_layers=2, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(2 * H, 2)

    def forward(self, x):
        y, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        return self.head(y).square().mean() + h.square().mean()


def _check_compiled(backend, cls=ft.LSTM):
    torch.manual_seed(0)
    model = TinyModel(cls)
    x = torch.randn(N, T, I)
    eager = model(x)
    eager.backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, backend=backend, fullgraph=True)  # fails on a graph break
    got = compiled(x)
    got.backward()
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-6)
    for p, g in zip(model.parameters(), want, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    return model, compiled


def test_compile_fullgraph_aot_eager():
    torch._dynamo.reset()
    model, compiled = _check_compiled("aot_eager")
    x = torch.randn(N + 1, T + 2, I)  # new shapes: recompiles (dynamic) and still matches
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()


@pytest.mark.skipif(
    not os.environ.get("FASTRNN_TEST_INDUCTOR"),
    reason="inductor compiles C++ (about a minute on 2 cores); set FASTRNN_TEST_INDUCTOR=1 to run",
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit inside inductor, not ours
def test_compile_fullgraph_inductor():
    torch._dynamo.reset()
    _check_compiled("inductor", ft.GRU)
    torch._dynamo.reset()


def test_torch_export_keeps_the_op():
    torch.manual_seed(0)
    model = TinyModel(ft.GRU)
    x = torch.randn(N, T, I)
    program = torch.export.export(model, (x,))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "fastrnn.rnn_forward.default" in targets
    torch.testing.assert_close(program.module()(x), model(x))


def test_tensors_reach_the_kernels_without_copies():
    from fastrnn.torch import _ops

    for dtype in (torch.float32, torch.float64):
        t = torch.randn(T, N, I, dtype=dtype, requires_grad=True)
        view = _ops._np(t)
        assert view.ctypes.data == t.data_ptr() and view.shape == tuple(t.shape)
        assert not view.flags.owndata


def test_compile_fullgraph_cell_loop():
    """A decoder-style loop over an LSTMCell traces into one graph and matches eager."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    cell = ft.LSTMCell(I, H)
    x = torch.randn(T, N, I)

    def run(x):
        state = None
        for t in range(x.shape[0]):
            state = cell(x[t], state)
        return state[0].square().sum()

    eager = run(x)
    eager.backward()
    want = [p.grad.clone() for p in cell.parameters()]
    cell.zero_grad()
    got = torch.compile(run, backend="aot_eager", fullgraph=True)(x)
    got.backward()
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-6)
    for p, g in zip(cell.parameters(), want, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()


def test_compile_packed_input_runs_eagerly():
    """A PackedSequence input is not traced (torch's packing ops have no fake implementation): the
    layer call is a graph break and runs eagerly, as torch.nn's RNNs do, with the same results."""
    from torch.nn.utils.rnn import pack_padded_sequence

    torch._dynamo.reset()
    torch.manual_seed(0)
    model = ft.LSTM(I, H, num_layers=2)
    x = torch.randn(T, 3, I)
    packed = pack_padded_sequence(x, [T, 3, 1], enforce_sorted=False)
    y_eager, (h_eager, c_eager) = model(packed)
    y_got, (h_got, c_got) = torch.compile(model, backend="aot_eager")(packed)
    torch.testing.assert_close(y_got.data, y_eager.data)
    torch.testing.assert_close(h_got, h_eager)
    torch.testing.assert_close(c_got, c_eager)
    torch._dynamo.reset()


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in torch 2.13
def test_jit_trace_saves_loads_and_differentiates(tmp_path):
    torch.manual_seed(0)
    for cls, reference in ((ft.GRU, torch.nn.GRU), (ft.LSTM, torch.nn.LSTM)):
        model, ref = cls(I, H), reference(I, H)
        ref.load_state_dict(model.state_dict())
        x = torch.randn(T, N, I)
        with torch.no_grad():  # the trace saves activations whatever the grad mode it is made in
            traced = torch.jit.trace(model, (x,))
        path = tmp_path / f"{cls.__name__}.pt"
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
        got_x, want_x = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        got, want = loaded(got_x)[0], ref(want_x)[0]
        torch.testing.assert_close(got, want)
        got.square().sum().backward()
        want.square().sum().backward()
        torch.testing.assert_close(got_x.grad, want_x.grad)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in torch 2.13
def test_unsupported_transforms_raise_clear_errors():
    torch.manual_seed(0)
    x = torch.randn(T, N, I)
    with pytest.raises(RuntimeError, match="torch.jit.script"):
        torch.jit.script(ft.LSTM(I, H))
    with pytest.raises(RuntimeError, match="torch.jit.script"):
        torch.jit.script(ft.GRUCell(I, H))
    model = ft.GRU(I, H)
    with pytest.raises(RuntimeError, match="torch.func.grad"):
        torch.func.grad(lambda a: model(a)[0].sum())(x)


def test_func_vjp_matches_torch():
    torch.manual_seed(0)
    model, ref = ft.LSTM(I, H), torch.nn.LSTM(I, H)
    ref.load_state_dict(model.state_dict())
    x, v = torch.randn(T, N, I), torch.randn(T, N, H)
    _, pull = torch.func.vjp(lambda a: model(a)[0], x)
    _, pull_ref = torch.func.vjp(lambda a: ref(a)[0], x)
    torch.testing.assert_close(pull(v)[0], pull_ref(v)[0])


def test_op_refuses_a_bad_clip_and_a_cell_state_outside_lstm():
    args = list(op_args("lstm", training=False, clip=-1.0))
    with pytest.raises(ValueError, match="cell_clip: expected a finite value >= 0"):
        torch.ops.fastrnn.rnn_forward(*args)
    args[-1] = float("nan")
    with pytest.raises(ValueError, match="cell_clip: expected a finite value >= 0"):
        torch.ops.fastrnn.rnn_forward(*args)
    args = list(op_args("gru", training=False))
    args[3] = torch.zeros(N, H, dtype=torch.float64)
    with pytest.raises(ValueError, match="c0: only an LSTM has a cell state"):
        torch.ops.fastrnn.rnn_forward(*args)


def test_op_names_a_bad_mode_and_a_bad_input_rank():
    """A mode outside MODES raised KeyError('foo') and a 2-D x IndexError('tuple index out of
    range'), in the op and in its fake implementation (torch.compile, opcheck)."""
    args = list(op_args("lstm", training=False))
    args[10] = "foo"
    with pytest.raises(ValueError, match="mode: expected one of .*'lstm'.*, got 'foo'"):
        torch.ops.fastrnn.rnn_forward(*args)
    args = list(op_args("lstm", training=False))
    args[0] = args[0][0]
    with pytest.raises(ValueError, match=r"x: expected a 3-D \[T,N,I\] tensor, got 2-D"):
        torch.ops.fastrnn.rnn_forward(*args)
    with torch._subclasses.fake_tensor.FakeTensorMode() as mode:
        fake = [mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args]
        with pytest.raises(ValueError, match="x: expected a 3-D"):
            torch.ops.fastrnn.rnn_forward(*fake)


@pytest.mark.parametrize("kind", ["layer", "layer training", "cell", "cell training"])
def test_make_fx_records_the_op_not_a_constant(kind):
    """Under a dispatch mode (make_fx, FlopCounterMode) the calls go through torch's dispatcher
    so that the mode sees fastrnn::rnn_forward: calls that skip the dispatcher on plain CPU
    tensors made make_fx bake the first output into the graph as a constant."""
    from torch.fx.experimental.proxy_tensor import make_fx

    torch.manual_seed(0)
    module = ft.GRU(3, 4) if kind.startswith("layer") else ft.GRUCell(3, 4)
    shape = (5, 2, 3) if kind.startswith("layer") else (2, 3)
    grad = kind.endswith("training")

    def run(x):
        y = module(x)
        return y[0] if isinstance(y, tuple) else y

    x = torch.randn(shape, requires_grad=grad)
    graph = make_fx(run)(x)
    assert "fastrnn.rnn_forward" in str(graph.graph)
    other = torch.randn(shape)
    torch.testing.assert_close(graph(other), run(other), rtol=0, atol=0)
