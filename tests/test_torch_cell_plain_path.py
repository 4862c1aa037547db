"""fastrnn.torch's cells: the common eager call goes straight to the kernels (_plain_call), every
other call takes the general path with its checks.

The plain call (plain contiguous CPU tensors of one kernel dtype, a batch [N,I], states of the
right shapes or none, the module's own parameters, nothing intercepting torch's ops, no autocast,
no torch.func transform) must give the general path's bits, outputs and gradients; each way a call
can leave that case must reach the general path, so that it keeps torch.nn's errors, fallbacks
and autograd.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
from fastrnn.torch import cells as ft_cells  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

I, H = 5, 7  # noqa: E741
KINDS = {
    "rnn_tanh": lambda **kw: ft.RNNCell(I, H, **kw),
    "rnn_relu": lambda **kw: ft.RNNCell(I, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: ft.LSTMCell(I, H, **kw),
    "lstm_extras": lambda **kw: ft.LSTMCell(I, H, peephole=True, cell_clip=0.5, **kw),
    "gru": lambda **kw: ft.GRUCell(I, H, **kw),
    "gru_reset_before": lambda **kw: ft.GRUCell(I, H, reset_after=False, **kw),
}


def make(kind, dtype=torch.float32, **kw):
    torch.manual_seed(0)
    return KINDS[kind](dtype=dtype, **kw)


def states(cell, N, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    h = torch.randn(N, H, generator=g, dtype=dtype)
    if isinstance(cell, ft.LSTMCell):
        return (h, torch.randn(N, H, generator=g, dtype=dtype))
    return h


def outputs(out):
    return out if isinstance(out, tuple) else (out,)


class PathSpy:
    """Counts the general path's calls (each asks _CellMixin._fallback first)."""

    def __init__(self, monkeypatch):
        self.general = 0
        original = ft_cells._CellMixin._fallback

        def fallback(cell, *args):
            self.general += 1
            return original(cell, *args)

        monkeypatch.setattr(ft_cells._CellMixin, "_fallback", fallback)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("N", [1, 3, 8])
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_call_gives_the_general_paths_bits(kind, dtype, with_hx, N, bias, monkeypatch):
    """Inference (no_grad) and training (grad: the outputs and every gradient)."""
    cell = make(kind, dtype, bias=bias)
    x = torch.randn(N, I, generator=torch.Generator().manual_seed(2), dtype=dtype)
    hx = states(cell, N, dtype) if with_hx else None
    spy = PathSpy(monkeypatch)

    def both_passes():
        with torch.no_grad():
            inference = outputs(cell(x, hx))
        xg = x.clone().requires_grad_()
        hg = None if hx is None else tuple(h.clone().requires_grad_() for h in outputs(hx))
        out = outputs(cell(xg, hg if hg is None or len(hg) == 2 else hg[0]))
        g = torch.Generator().manual_seed(3)
        loss = sum((torch.rand(o.shape, generator=g, dtype=dtype) * o).sum() for o in out)
        grads = torch.autograd.grad(loss, [xg, *(hg or ()), *cell.parameters()])
        return [*inference, *out, *grads]

    plain = both_passes()
    assert spy.general == 0, "the plain call took the general path"
    monkeypatch.setattr(ft_cells._CellMixin, "_plain_call", lambda *a: None)
    general = both_passes()
    assert spy.general == 2
    for p, g in zip(plain, general, strict=True):
        assert p.dtype == g.dtype == dtype and p.shape == g.shape
        np.testing.assert_array_equal(p.detach().numpy(), g.detach().numpy())


def test_requires_grad_follows_grad_mode_on_the_plain_path(monkeypatch):
    """Parameters require grad: under torch.no_grad no gradient is due, in grad mode one is;
    with every parameter frozen none is."""
    cell = make("lstm")
    x = torch.randn(2, I)
    spy = PathSpy(monkeypatch)
    with torch.no_grad():
        h, c = cell(x)
    assert not h.requires_grad and not c.requires_grad
    h, c = cell(x)
    assert h.requires_grad and c.requires_grad and h.grad_fn is not None
    for p in cell.parameters():
        p.requires_grad_(False)
    h, c = cell(x)
    assert not h.requires_grad
    assert spy.general == 0


def test_torch_func_transforms_take_the_general_path(monkeypatch):
    """Under a torch.func transform the general path applies the setup_context form of the op's
    autograd, which the transforms need; the gradients are torch.nn's."""
    cell = make("gru")
    ref = torch.nn.GRUCell(I, H)
    ref.load_state_dict(cell.state_dict())
    x, h = torch.randn(3, I), torch.randn(3, H)
    spy = PathSpy(monkeypatch)
    got = torch.func.vjp(lambda x: cell(x, h), x)[1](torch.ones(3, H))[0]
    want = torch.func.vjp(lambda x: ref(x, h), x)[1](torch.ones(3, H))[0]
    assert spy.general == 1
    torch.testing.assert_close(got, want)
    # The cell's own tensors plain, the transform's input elsewhere: still the general path.
    scale = torch.tensor(2.0)
    got = torch.func.vjp(lambda s: s * cell(x, h), scale)[1](torch.ones(3, H))[0]
    want = torch.func.vjp(lambda s: s * ref(x, h), scale)[1](torch.ones(3, H))[0]
    assert spy.general == 2
    torch.testing.assert_close(got, want)


class CountingMode(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def _leave_by(case, cell, x, hx):
    """(cell, x, hx, context) for a call that must not be the plain one, per case."""
    import contextlib

    none = contextlib.nullcontext()
    if case == "non-contiguous input":
        return cell, torch.randn(I, x.shape[0]).t(), hx, none
    if case == "unbatched input":
        return cell, x[0], None, none
    if case == "mixed dtypes":
        return cell, x.double(), hx, none
    if case == "wrong state shape":
        bad = torch.zeros(x.shape[0], H + 1)
        return cell, x, ((bad, bad) if isinstance(cell, ft.LSTMCell) else bad), none
    if case == "state as a list":
        return cell, x, list(hx) if isinstance(hx, tuple) else [hx], none
    if case == "a parameter replaced by a tensor":
        w = cell.weight_hh.detach().clone() * 2
        del cell.weight_hh
        cell.weight_hh = w
        return cell, x, hx, none
    if case == "parametrized":
        torch.nn.utils.parametrize.register_parametrization(cell, "weight_ih", torch.nn.Identity())
        return cell, x, hx, none
    if case == "dispatch mode":
        return cell, x, hx, CountingMode()
    if case == "autocast":
        return cell, x, hx, torch.autocast("cpu", dtype=torch.bfloat16)
    if case == "half precision":
        return cell.half(), x.half(), None, none
    raise AssertionError(case)


CASES = [
    "non-contiguous input",
    "unbatched input",
    "mixed dtypes",
    "wrong state shape",
    "state as a list",
    "a parameter replaced by a tensor",
    "parametrized",
    "dispatch mode",
    "autocast",
    "half precision",
]


@pytest.mark.filterwarnings("ignore:fastrnn.torch")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("training", [False, True])
def test_every_other_call_takes_the_general_path_and_matches_torch(
    training, kind, case, monkeypatch
):
    """Each way out of the plain case reaches the general path, and the call then does what
    torch.nn's cell does with the same parameters, with a gradient due (grad mode: the
    parameters want one) or not: the same values, or an error of the same type."""
    N = 3
    cell = make(kind)
    ref_class = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn_tanh": torch.nn.RNNCell}
    x = torch.randn(N, I, generator=torch.Generator().manual_seed(2))
    hx = states(cell, N)
    cell, x, hx, context = _leave_by(case, cell, x, hx)
    ref = ref_class[kind](I, H, dtype=x.dtype if case == "half precision" else torch.float32)
    ref.load_state_dict({k: v.detach() for k, v in cell.state_dict().items()}, strict=False)
    if case in ("a parameter replaced by a tensor", "parametrized"):
        with torch.no_grad():
            ref.weight_hh.copy_(cell.weight_hh)
            ref.weight_ih.copy_(cell.weight_ih)
    spy = PathSpy(monkeypatch)
    grad = torch.enable_grad() if training else torch.no_grad()
    try:
        with grad, context:
            want = ref(x, hx)
    except Exception as error:  # noqa: BLE001 - torch's own error type is the expectation
        with pytest.raises(type(error)), grad, context:
            cell(x, hx)
        assert spy.general == 1
        return
    with grad, context:
        got = cell(x, hx)
    assert spy.general == 1, f"{case}: the call did not take the general path"
    tol = {"rtol": 1e-2, "atol": 1e-2} if case in ("half precision", "autocast") else {}
    for g, w in zip(outputs(got), outputs(want), strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape and g.requires_grad == w.requires_grad
        torch.testing.assert_close(g.detach(), w.detach(), **tol)


def test_a_subclass_takes_the_general_path(monkeypatch):
    """A subclass may keep its weights elsewhere (here: weight_hh scaled by a property)."""

    class Scaled(ft.GRUCell):
        def _weights(self):
            w = super()._weights()
            return (w[0], 2 * w[1], *w[2:])

    torch.manual_seed(0)
    cell = Scaled(I, H)
    ref = torch.nn.GRUCell(I, H)
    ref.load_state_dict(cell.state_dict())
    with torch.no_grad():
        ref.weight_hh.mul_(2)
    x, h = torch.randn(3, I), torch.randn(3, H)
    spy = PathSpy(monkeypatch)
    with torch.no_grad():
        got, want = cell(x, h), ref(x, h)
    assert spy.general == 1
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_inference_loop_has_no_graph_break(kind):
    """torch.compile(fullgraph=True) of a cell loop with no gradient due: the plain check asks
    whether it is compiling before anything the compiler cannot trace."""
    torch._dynamo.reset()
    cell = make(kind)
    ref = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](I, H)
    ref.load_state_dict(cell.state_dict())

    def loop(module, x):
        state = None
        for t in range(x.shape[0]):
            state = module(x[t], state)
        return state

    x = torch.randn(4, 3, I)
    with torch.no_grad():
        got = torch.compile(loop, backend="aot_eager", fullgraph=True)(cell, x)
        want = loop(ref, x)
    for g, w in zip(outputs(got), outputs(want), strict=True):
        torch.testing.assert_close(g, w)
    torch._dynamo.reset()


def test_fx_tracing_does_not_bake_the_cell_into_a_constant():
    """Under torch.fx.symbolic_trace a call on concrete tensors with frozen parameters must not
    run the kernel at trace time (which would put its output in the graph as a constant): the
    parameters are fx's Proxies there, so the general path runs, and fails as it did before."""

    class Parent(torch.nn.Module):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell

        def forward(self, z):
            return z + self.cell(torch.ones(3, I))

    cell = make("gru").requires_grad_(False)
    try:
        traced = torch.fx.symbolic_trace(Parent(cell))
    except torch.fx.proxy.TraceError:
        return
    z = torch.zeros(3, H)
    with torch.no_grad():
        cell.weight_ih.mul_(3)
    torch.testing.assert_close(traced(z), Parent(cell)(z))
