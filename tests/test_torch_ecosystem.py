"""fastrnn.torch inside the wider torch ecosystem: what torch.nn's recurrent modules do under
torch.compile with autocast or a dtype fastrnn has no kernel for, and the like; each test
compares with torch.nn on the same weights and inputs.

Tiny sizes (T=5, N=2, I=3, H=4): these are about plumbing, not numerics.
"""

import pytest

torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
from fastrnn.torch import _ops  # noqa: E402

T, N, I, H = 5, 2, 3, 4  # noqa: E741


def pair(cls_name, dtype=torch.float32, **kwargs):
    """(torch.nn module, fastrnn module) with the same weights."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, cls_name)(I, H, dtype=dtype, **kwargs)
    ours = getattr(ft, cls_name)(I, H, dtype=dtype, **kwargs)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the one-time fallback warning
@pytest.mark.parametrize("case", ["autocast", "bfloat16"])
def test_compiled_lstm_falls_back_eagerly_as_torch_nn_does(monkeypatch, case):
    # torch.compile does not trace torch.nn's RNN modules (a graph break: they run eagerly), and
    # tracing torch's LSTM in bfloat16 fails inside aot_autograd. Our fallback to torch's forward
    # was traced: torch.compile(model) crashed where torch.compile(torch.nn.LSTM) works.
    monkeypatch.setattr(_ops, "_warned_fallback", False)
    torch._dynamo.reset()
    dtype = torch.bfloat16 if case == "bfloat16" else torch.float32
    ref, ours = pair("LSTM", dtype=dtype)
    x = torch.randn(T, N, I, dtype=dtype)
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=case == "autocast"):
            try:
                expected = ref(x)
            except RuntimeError as error:
                # torch's own LSTM refuses bfloat16 (autocast or, on some CPUs, plain) where oneDNN
                # has no kernel for it ("could not create a primitive descriptor", seen for
                # autocast on an AVX2 EPYC): the fallback must refuse it alike.
                with pytest.raises(RuntimeError) as ours_error:
                    torch.compile(ours, backend="aot_eager")(x)
                assert str(error).splitlines()[0] in str(ours_error.value)
                return
            got = torch.compile(ours, backend="aot_eager")(x)
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    finally:
        torch._dynamo.reset()


def test_strict_export_traces_the_fallback_as_torch_nn(monkeypatch):
    # torch.export (strict) lets dynamo trace torch.nn's RNN modules (allow_rnn): the fallback
    # to torch's forward is traced there too, not refused as a graph break.
    monkeypatch.setattr(_ops, "_warned_fallback", True)  # (the warning: tests below)
    torch._dynamo.reset()
    ref, ours = pair("LSTM", dtype=torch.bfloat16)
    x = torch.randn(T, N, I, dtype=torch.bfloat16)
    program = torch.export.export(ours, (x,), strict=True)
    torch.testing.assert_close(program.module()(x), ref(x), rtol=0, atol=0)
    torch._dynamo.reset()


class _FxModel(torch.nn.Module):
    """An LSTM layer, then an LSTMCell step on its last output, then a Linear."""

    def __init__(self, ns):
        super().__init__()
        self.rnn = ns.LSTM(I, H, 2, batch_first=True)
        self.cell = ns.LSTMCell(H, H)
        self.out = torch.nn.Linear(H, 2)

    def forward(self, x):
        y, (h_n, _) = self.rnn(x)
        h, _ = self.cell(y[:, -1], (h_n[-1], h_n[0]))
        return self.out(h)


def test_fx_symbolic_trace_keeps_the_modules_as_calls_as_for_torch_nn():
    # torch.fx.symbolic_trace records torch.nn's modules as leaves (call_module nodes) and does
    # not trace into their forward; it traced into ours, whose input checks branch on the
    # traced input: 'symbolically traced variables cannot be used as inputs to control flow'.
    torch.manual_seed(0)
    ref = _FxModel(torch.nn)
    ours = _FxModel(ft)
    ours.load_state_dict(ref.state_dict())
    graphs = [torch.fx.symbolic_trace(m) for m in (ref, ours)]
    calls = [[(n.op, n.target) for n in g.graph.nodes if n.op == "call_module"] for g in graphs]
    assert (
        calls[1]
        == calls[0]
        == [("call_module", "rnn"), ("call_module", "cell"), ("call_module", "out")]
    )
    x = torch.randn(N, T, I)
    torch.testing.assert_close(graphs[1](x), ref(x))
    assert type(graphs[1].rnn) is ft.LSTM and type(graphs[1].cell) is ft.LSTMCell


@pytest.mark.parametrize("cls_name", ["LSTM", "LSTMCell"])
def test_fx_tracing_the_module_itself_fails_as_for_torch_nn(cls_name):
    # fx traces a root module's forward, torch.nn's included, and that fails on the shape checks;
    # ours recorded the root as a call_module node of itself: a GraphModule calling itself.
    ref, ours = getattr(torch.nn, cls_name)(I, H), getattr(ft, cls_name)(I, H)
    with pytest.raises(torch.fx.proxy.TraceError):
        torch.fx.symbolic_trace(ref)
    with pytest.raises(torch.fx.proxy.TraceError):
        torch.fx.symbolic_trace(ours)


@pytest.mark.parametrize("cls_name", ["LSTMCell", "GRUCell"])
def test_cells_falling_back_compile_fullgraph_and_still_warn(monkeypatch, cls_name):
    # torch.compile(fullgraph=True) traces torch.nn's cells under autocast; ours fall back to
    # torch's cell there, but the one-time fallback warning (warnings.warn, which dynamo cannot
    # trace) made the first such compile raise torch._dynamo.exc.Unsupported.
    monkeypatch.setattr(_ops, "_warned_fallback", False)
    torch._dynamo.reset()
    ref, ours = pair(cls_name)
    x = torch.randn(N, I)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = ref(x)
        with pytest.warns(RuntimeWarning, match="falling back to torch's own implementation"):
            got = torch.compile(ours, backend="aot_eager", fullgraph=True)(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch._dynamo.reset()
