"""fastrnn.torch under forward-mode AD, and under torch.func.vjp over a vmap: such a call runs on
torch's implementation, with torch.nn's tangents and gradients (or torch.nn's error).

The kernels have no forward derivative. Before, forward-mode AD with no gradient due lost the
tangent silently (None from torch.autograd.forward_ad, a zero tangent from torch.func.jvp: a
frozen model's jvp over its input was all zeros), and raised NotImplementedError with one due.
Now such a call takes the modules' fallback (a RuntimeWarning once per process), and every other
call, inside a dual level too, stays on the kernels.

Tiny sizes, float64: these are about which path runs and what it returns.
"""

import functools

import pytest

torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
import torch.autograd.forward_ad as forward_ad  # noqa: E402
from fastrnn.torch import _ops  # noqa: E402

T, N, I, H = 4, 3, 5, 6  # noqa: E741
F64 = torch.float64
pytestmark = pytest.mark.filterwarnings(
    "ignore:fastrnn.torch.*falling back:RuntimeWarning",  # the fallback's warning: tested below
    "ignore::DeprecationWarning",  # forward_ad's import: torch.jit.script
)

# name: (fastrnn module, torch.nn module, input shape), the same weights
MODELS = {
    "lstm": (
        lambda: ft.LSTM(I, H, num_layers=2, bidirectional=True, dtype=F64),
        lambda: torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=F64),
        (T, N, I),
    ),
    "lstm_proj": (
        lambda: ft.LSTM(I, H, proj_size=3, batch_first=True, dtype=F64),
        lambda: torch.nn.LSTM(I, H, proj_size=3, batch_first=True, dtype=F64),
        (N, T, I),
    ),
    "gru": (lambda: ft.GRU(I, H, dtype=F64), lambda: torch.nn.GRU(I, H, dtype=F64), (T, N, I)),
    "rnn_relu": (
        lambda: ft.RNN(I, H, nonlinearity="relu", dtype=F64),
        lambda: torch.nn.RNN(I, H, nonlinearity="relu", dtype=F64),
        (T, N, I),
    ),
    "rnn_cell": (
        lambda: ft.RNNCell(I, H, dtype=F64),
        lambda: torch.nn.RNNCell(I, H, dtype=F64),
        (N, I),
    ),
    "lstm_cell": (
        lambda: ft.LSTMCell(I, H, dtype=F64),
        lambda: torch.nn.LSTMCell(I, H, dtype=F64),
        (N, I),
    ),
    "gru_cell": (
        lambda: ft.GRUCell(I, H, dtype=F64),
        lambda: torch.nn.GRUCell(I, H, dtype=F64),
        (N, I),
    ),
}


def pair(name):
    """(fastrnn module, torch.nn module with its weights, input)."""
    make_ours, make_ref, shape = MODELS[name]
    torch.manual_seed(0)
    ours, ref = make_ours(), make_ref()
    ref.load_state_dict(ours.state_dict())
    return ours, ref, torch.randn(shape, dtype=F64)


def first(out):
    """The output sequence of a layer, h' of a cell."""
    return out[0] if isinstance(out, tuple) else out


def dual_tangent(module, x, v, grad_enabled):
    with forward_ad.dual_level(), torch.set_grad_enabled(grad_enabled):
        out = first(module(forward_ad.make_dual(x, v)))
        return forward_ad.unpack_dual(out).tangent


def jvp_tangent(module, x, v, grad_enabled):
    with torch.set_grad_enabled(grad_enabled):
        return torch.func.jvp(lambda a: first(module(a)), (x,), (v,))[1]


def frozen_jvp_tangent(module, x, v, grad_enabled):
    module.requires_grad_(False)  # no gradient due anywhere: the case that lost the tangent
    return jvp_tangent(module, x, v, grad_enabled)


def jvp_over_parameters(module, x, v, grad_enabled):
    """The tangent along a direction in parameter space (torch.func.functional_call)."""
    params = {k: p.detach() for k, p in module.named_parameters()}
    g = torch.Generator().manual_seed(3)
    tangents = {k: torch.randn(p.shape, generator=g, dtype=F64) for k, p in params.items()}
    with torch.set_grad_enabled(grad_enabled):
        call = functools.partial(torch.func.functional_call, module)
        return torch.func.jvp(lambda q: first(call(q, (x,))), (params,), (tangents,))[1]


WAYS = {
    "forward_ad": dual_tangent,
    "jvp": jvp_tangent,
    "jvp_frozen": frozen_jvp_tangent,
    "jvp_parameters": jvp_over_parameters,
}


@pytest.mark.parametrize("grad_enabled", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("name", list(MODELS))
def test_forward_mode_ad_gives_torch_nns_tangent(name, way, grad_enabled):
    ours, ref, x = pair(name)
    v = torch.randn_like(x)
    got = WAYS[way](ours, x, v, grad_enabled)
    want = WAYS[way](ref, x, v, grad_enabled)
    assert got is not None and want is not None
    assert want.abs().max() > 1e-3  # a real tangent, which the old path gave as zeros or None
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["lstm", "gru_cell"])
def test_jacfwd_and_hessian_give_torch_nns(name):
    ours, ref, x = pair(name)
    x = x[:2] if name == "lstm" else x[:1]  # small Jacobians

    def scalar(m):
        return lambda a: first(m(a)).square().sum()

    torch.testing.assert_close(
        torch.func.jacfwd(lambda a: first(ours(a)))(x),
        torch.func.jacfwd(lambda a: first(ref(a)))(x),
        rtol=1e-10,
        atol=1e-12,
    )
    torch.testing.assert_close(
        torch.func.hessian(scalar(ours))(x),
        torch.func.hessian(scalar(ref))(x),
        rtol=1e-9,
        atol=1e-11,
    )


def test_the_fallback_warns_once_and_names_the_reason(monkeypatch):
    monkeypatch.setattr(_ops, "_warned_fallback", False)
    spy = TorchPathSpy(monkeypatch)
    ours, _, x = pair("lstm_cell")
    with pytest.warns(RuntimeWarning, match="LSTMCell: forward-mode AD .* falling back to torch"):
        dual_tangent(ours, x, torch.randn_like(x), grad_enabled=False)
    assert spy.calls == 1


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: ft.LSTM(I, H, peephole=True, dtype=F64), (T, N, I)),
        (lambda: ft.GRU(I, H, reset_after=False, dtype=F64), (T, N, I)),
        (lambda: ft.LSTMCell(I, H, cell_clip=1.0, dtype=F64), (N, I)),
        (lambda: ft.GRUCell(I, H, reset_after=False, dtype=F64), (N, I)),
    ],
    ids=["lstm_peephole", "gru_reset_before", "lstm_cell_clip", "gru_cell_reset_before"],
)
@pytest.mark.parametrize("grad_enabled", [True, False], ids=["grad", "no_grad"])
def test_extras_torch_lacks_refuse_forward_mode_ad(make, shape, grad_enabled):
    """torch's implementation has no peephole, cell clip or reset-before GRU to fall back on."""
    module = make()
    x = torch.randn(shape, dtype=F64)
    match = "need fastrnn's kernels, but forward-mode AD"
    with pytest.raises(NotImplementedError, match=match):
        dual_tangent(module, x, torch.randn_like(x), grad_enabled)
    with pytest.raises(NotImplementedError, match=match):
        jvp_tangent(module, x, torch.randn_like(x), grad_enabled)


class TorchPathSpy:
    """Counts the calls run on torch's implementation (the modules' and cells' fallback)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        classes = (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU)
        for cls in (*classes, torch.nn.RNNCell, torch.nn.LSTMCell, torch.nn.GRUCell):
            monkeypatch.setattr(cls, "forward", self._counted(cls.forward))

    def _counted(self, forward):
        def counted(*args, **kwargs):
            self.calls += 1
            return forward(*args, **kwargs)

        return counted


def in_unused_dual_level(call):
    """call() inside a dual level that no tensor of it has a tangent at."""

    def run():
        with forward_ad.dual_level():
            return call()

    return run


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's loop
@pytest.mark.parametrize("name", ["lstm", "gru", "lstm_cell", "gru_cell"])
@pytest.mark.parametrize("grad_enabled", [True, False], ids=["grad", "no_grad"])
def test_calls_without_a_tangent_stay_on_the_kernels(monkeypatch, name, grad_enabled):
    """Inside a dual level without a tangent: a plain call, under a dispatch mode (which sees the
    op), under vmap, vjp and jacrev, each giving the bits it gives outside one; and under
    torch.func.jvp, a call on constants, giving torch.nn's result (with no gradient due it raised
    'Cannot access data pointer of Tensor that doesn't have storage': the direct call took
    numpy() of a tensor the transform had lifted)."""
    from torch.utils.flop_counter import FlopCounterMode

    ours, ref, x = pair(name)

    def under_a_mode(m):
        with FlopCounterMode(display=False):
            return first(m(x))

    def constant_under_jvp(m):
        return torch.func.jvp(lambda p: p * first(m(x)), (torch.tensor(2.0, dtype=F64),),
                              (torch.tensor(1.0, dtype=F64),))  # fmt: skip

    calls = {
        "plain": lambda m: first(m(x)),
        "mode": under_a_mode,
        "vmap": lambda m: torch.func.vmap(lambda a: first(m(a)))(x.unsqueeze(0)),
        "vjp": lambda m: torch.func.vjp(lambda a: first(m(a)), x)[0],
        "jacrev": lambda m: torch.func.jacrev(lambda a: first(m(a))[-1].sum())(x),
    }
    with torch.set_grad_enabled(grad_enabled):
        want = constant_under_jvp(ref)
        spy = TorchPathSpy(monkeypatch)
        for what, call in calls.items():
            got = in_unused_dual_level(lambda call=call: call(ours))()
            torch.testing.assert_close(got, call(ours), rtol=0, atol=0, msg=what)
        for a, b in zip(constant_under_jvp(ours), want, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert spy.calls == 0


@pytest.mark.parametrize("name", ["lstm", "gru", "lstm_cell", "gru_cell"])
def test_float32_gives_torch_nns_outcome(name):
    """In float32 torch runs its LSTM layer on oneDNN, which has no forward derivative: the
    fallback raises torch.nn's own error there, and gives its tangent elsewhere."""
    ours, ref, x = pair(name)
    ours.float(), ref.float()
    x = x.float()
    v = torch.randn_like(x)
    outcomes = []
    for m in (ours, ref):
        try:
            outcomes.append(jvp_tangent(m, x, v, grad_enabled=False))
        except NotImplementedError as e:
            outcomes.append(str(e))
    if isinstance(outcomes[1], str):
        assert outcomes[0] == outcomes[1]
    else:
        torch.testing.assert_close(outcomes[0], outcomes[1])


@pytest.mark.parametrize("name", ["gru", "gru_cell"])
def test_a_compiled_module_gives_torch_nns_tangent(name):
    """While torch.compile traces inside a dual level, every call takes the fallback (the
    queries for a tangent are not traced)."""
    ours, ref, x = pair(name)
    v = torch.randn_like(x)
    torch._dynamo.reset()
    got = dual_tangent(torch.compile(ours, backend="eager"), x, v, grad_enabled=False)
    torch.testing.assert_close(got, dual_tangent(ref, x, v, False), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["lstm", "gru_cell"])
def test_a_dual_tensor_under_vjp_and_jacrev_gives_torch_nns_tangent(monkeypatch, name):
    """A dual tensor of torch.autograd.forward_ad fed through torch.func.vjp or jacrev (whose
    wrapper hides its tangent from a plain unpack_dual), and one made on vjp's wrapper with the
    weights frozen: torch.nn's tangent, not fastrnn's refusal or None."""
    ours, ref, x = pair(name)
    v = torch.randn_like(x)

    def through_vjp(m):
        with forward_ad.dual_level():
            out, _ = torch.func.vjp(lambda a: first(m(a)), forward_ad.make_dual(x, v))
            return forward_ad.unpack_dual(out).tangent

    def through_jacrev(m):
        with forward_ad.dual_level():
            jac = torch.func.jacrev(lambda a: first(m(a)).sum())(forward_ad.make_dual(x, v))
            return forward_ad.unpack_dual(jac).tangent

    def dual_made_inside_vjp(m):
        m.requires_grad_(False)
        tangent = []

        def f(a):
            out = first(m(forward_ad.make_dual(a.detach(), v)))
            tangent.append(forward_ad.unpack_dual(out).tangent)
            return out

        with forward_ad.dual_level():
            torch.func.vjp(f, x)
        m.requires_grad_(True)
        return tangent[0]

    for way in (through_vjp, through_jacrev, dual_made_inside_vjp):
        got, want = way(ours), way(ref)
        assert got is not None and want is not None, way.__name__
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=way.__name__)


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's loop
@pytest.mark.parametrize("name", ["lstm", "gru_cell"])
def test_vmap_of_constants_under_jvp_stays_on_the_kernels(monkeypatch, name):
    """torch.func.jvp over a scale p of vmap(module) on constants: no tangent reaches the module
    (torch.nn has no batching rule for its LSTM or cells there, so a fallback would fail)."""
    ours, _, x = pair(name)
    xs = torch.stack([x, 2 * x])
    spy = TorchPathSpy(monkeypatch)
    one = torch.tensor(1.0, dtype=F64)
    out, tangent = torch.func.jvp(
        lambda p: p * torch.func.vmap(lambda a: first(ours(a)))(xs), (one,), (one,)
    )
    assert spy.calls == 0
    torch.testing.assert_close(tangent, torch.stack([first(ours(a)) for a in xs]))


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's loop
@pytest.mark.parametrize("name", ["rnn_cell", "gru_cell", "lstm_cell", "gru", "lstm"])
def test_vjp_over_vmap_does_what_torch_nn_does(name):
    """torch.func.vjp of a function that vmaps the module (jacrev over a vmap alike): torch's
    autograd wrapper for the op has no batching rule there, which raised an unclear RuntimeError
    about setup_context. Now torch.nn's result: the same gradients for its RNNCell and GRUCell,
    its own 'Batching rule not implemented' error for the LSTMCell and the layers."""
    ours, ref, x = pair(name)
    xs = torch.stack([x, 2 * x])

    def outcome(m):
        def loss(a):
            return torch.func.vmap(lambda b: first(m(b)))(a).square().sum()

        try:
            _, pull = torch.func.vjp(loss, xs)
            return pull(torch.tensor(1.0, dtype=F64))[0]
        except RuntimeError as e:
            return str(e)

    got, want = outcome(ours), outcome(ref)
    if isinstance(want, str):
        assert got == want and "Batching rule not implemented" in want
    else:
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's loop
@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "trainable"])
@pytest.mark.parametrize("name", ["rnn_cell", "lstm_cell", "lstm"])
def test_a_module_under_vmap_inside_grad_of_something_else_stays_on_the_kernels(
    monkeypatch, name, frozen
):
    """grad over a scale w of vmap(module) on data: the transform differentiates nothing the
    module takes (its parameters, trainable or not, are outside it), so its calls need no
    batching rule and run on the kernels (torch.nn's LSTM and LSTMCell have none there and
    raise)."""
    ours, _, x = pair(name)
    ours.requires_grad_(not frozen)
    xs = torch.stack([x, 2 * x])
    spy = TorchPathSpy(monkeypatch)
    mapped = torch.func.vmap(lambda b: first(ours(b)))
    got = torch.func.grad(lambda w: (mapped(xs) * w).sum())(torch.tensor(2.0, dtype=F64))
    assert spy.calls == 0
    torch.testing.assert_close(got, mapped(xs).sum())
