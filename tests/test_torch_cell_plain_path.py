"""fastrnn.torch's cells: the common eager inference call runs at once (_plain_inference), every
other call the general path with its checks.

The plain call (plain CPU tensors of one kernel dtype, a batch [N,I], states of the right shapes
or none, the module's own parameters, no gradient due, nothing intercepting torch's ops, no
autocast) must give the general path's bits; each way a call can leave that case must reach the
general path, so that it keeps torch.nn's errors, fallbacks and autograd.
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
    """Counts the general path's calls (_CellMixin._step and the fallbacks to torch.nn)."""

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
    cell = make(kind, dtype, bias=bias)
    x = torch.randn(N, I, generator=torch.Generator().manual_seed(2), dtype=dtype)
    hx = states(cell, N, dtype) if with_hx else None
    spy = PathSpy(monkeypatch)
    with torch.no_grad():
        plain = cell(x, hx)
    assert spy.general == 0, "the plain call took the general path"
    monkeypatch.setattr(ft_cells._CellMixin, "_plain_inference", lambda *a: None)
    with torch.no_grad():
        general = cell(x, hx)
    assert spy.general == 1
    for p, g in zip(outputs(plain), outputs(general), strict=True):
        assert p.dtype == dtype and p.shape == (N, H) and not p.requires_grad
        np.testing.assert_array_equal(p.numpy(), g.numpy())


def test_requires_grad_parameters_without_grad_mode_take_the_plain_path(monkeypatch):
    """Parameters require grad, but under torch.no_grad no gradient is due; with grad enabled
    and only plain tensors (x, hx not requiring grad), the parameters still want one."""
    cell = make("lstm")
    x = torch.randn(2, I)
    spy = PathSpy(monkeypatch)
    with torch.no_grad():
        cell(x)
    assert spy.general == 0
    h, c = cell(x)
    assert spy.general == 1 and h.requires_grad and c.requires_grad
    for p in cell.parameters():
        p.requires_grad_(False)
    h, c = cell(x)  # nothing wants a gradient: plain, even in grad mode
    assert spy.general == 1 and not h.requires_grad


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
    if case == "input that wants a gradient":
        return cell, x.clone().requires_grad_(), hx, none
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
    "input that wants a gradient",
    "dispatch mode",
    "autocast",
    "half precision",
]


@pytest.mark.filterwarnings("ignore:fastrnn.torch")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_every_other_call_takes_the_general_path_and_matches_torch(kind, case, monkeypatch):
    """Each way out of the plain case reaches the general path, and the call then does what
    torch.nn's cell does with the same parameters: the same values, or an error of the same
    type."""
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
    grad = torch.enable_grad() if case == "input that wants a gradient" else torch.no_grad()
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
        assert g.dtype == w.dtype and g.shape == w.shape
        torch.testing.assert_close(g.detach(), w.detach(), **tol)
    if case == "input that wants a gradient":
        assert all(g.requires_grad for g in outputs(got))


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
