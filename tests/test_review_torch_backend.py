"""Review of fastrnn.torch against torch.nn: the corners a drop-in user touches.

An LSTM's hx given as one tensor (torch raises TypeError where it reaches its kernel with it),
the error messages of wrongly shaped inputs and states, backward with frozen parameters (no
weight gradient is computed), convert/revert of a module referenced twice in a model, and cells
with input_size=0. Small sizes: T=5, N=3, I=4, H=6.
"""

import copy
import functools

import pytest

torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
from fastrnn.torch import _ops  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

T, N, I, H = 5, 3, 4, 6  # noqa: E741


def _pair(base, fast, *args, **kwargs):
    torch.manual_seed(0)
    ref = base(*args, **kwargs)
    torch.manual_seed(0)
    return ref, fast(*args, **kwargs)


def _outcome(f):
    """("ok", flat output tensors) or ("err", exception type, message)."""
    try:
        out = f()
    except Exception as e:  # noqa: BLE001 (compared with torch's)
        return ("err", type(e), str(e))

    def flat(o):
        if isinstance(o, torch.Tensor):
            return [o]
        if isinstance(o, (tuple, list)):
            return [t for x in o for t in flat(x)]
        return flat(o.data)

    return ("ok", flat(out))


def _same(ref, new, *args, message=False):
    want, got = _outcome(lambda: ref(*args)), _outcome(lambda: new(*args))
    assert got[0] == want[0], f"torch.nn: {want}, fastrnn: {got}"
    if want[0] == "err":
        assert got[1] is want[1], f"torch.nn raises {want[1:]}, fastrnn {got[1:]}"
        if message:
            assert got[2] == want[2]
        return
    for a, b in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_lstm_hx_as_one_tensor_behaves_as_in_torch():
    """torch.nn indexes hx[0], hx[1]: a [2, L*D, N, H] tensor passes its shape checks and its
    kernel then refuses it (TypeError); unbatched, it is unpacked into a tuple and works."""
    ref, new = _pair(torch.nn.LSTM, ft.LSTM, I, H, 2)
    x = torch.randn(T, N, I)
    _same(ref, new, x, torch.randn(2, 2, N, H))  # batched: TypeError
    _same(ref, new, x[:, 0], torch.randn(2, 2, H))  # unbatched: runs
    _same(ref, new, x, (torch.randn(2, N, H), torch.randn(2, N, H)))
    _same(ref, new, x, [torch.randn(2, N, H), torch.randn(2, N, H)])  # a list is fine
    packed = pack_padded_sequence(x, [5, 3, 2], enforce_sorted=True)
    _same(ref, new, packed, torch.randn(2, 2, N, H))  # sorted: no permutation, TypeError
    cref, cnew = _pair(torch.nn.LSTMCell, ft.LSTMCell, I, H)
    _same(cref, cnew, x[0], torch.randn(2, N, H))  # batched: TypeError
    _same(cref, cnew, x[0, 0], torch.randn(2, H))  # unbatched: runs
    _same(cref, cnew, x[0], [torch.randn(N, H), torch.randn(N, H)])


@pytest.mark.parametrize("base, fast", [(torch.nn.RNN, ft.RNN), (torch.nn.GRU, ft.GRU)])
def test_shape_error_messages_are_torchs(base, fast):
    ref, new = _pair(base, fast, I, H, 2)
    x = torch.randn(T, N, I)
    for args in [
        (torch.randn(I),),
        (torch.randn(1, T, N, I),),
        (x, torch.zeros(2, H)),
        (x, torch.zeros(2, N, H, 1)),
        (x[:, 0], torch.zeros(2, 1, H)),
        (x, torch.zeros(3, N, H)),
    ]:
        _same(ref, new, *args, message=True)
    lref, lnew = _pair(torch.nn.LSTM, ft.LSTM, I, H, 2)
    for args in [
        (torch.randn(I),),
        (x, (torch.zeros(2, H), torch.zeros(2, N, H))),
        (x[:, 0], (torch.zeros(2, 1, H), torch.zeros(2, 1, H))),
        (x, (torch.zeros(2, N, H), torch.zeros(2, N, H + 1))),
    ]:
        _same(lref, lnew, *args, message=True)


def _spy_backward(monkeypatch, need_dx=None):
    """Records, per _C.rnn_backward call, which of the six weight-gradient arrays it was given
    (and, in the list need_dx when given, whether it asked for dx)."""
    calls = []
    real = _ops._C.rnn_backward

    def spy(*args, **kwargs):
        calls.append([g is not None for g in args[-6:]])
        if need_dx is not None:
            need_dx.append(kwargs.get("need_dx", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(_ops._C, "rnn_backward", spy)
    return calls


def test_frozen_parameters_get_no_weight_gradient_work(monkeypatch):
    """Only the gradients autograd asks for are computed: a frozen layer's backward skips the
    weight-gradient GEMMs (the C++ core skips null gradient arrays)."""
    ref, new = _pair(torch.nn.LSTM, ft.LSTM, I, H, 2, proj_size=2, dtype=torch.float64)
    for m in (ref, new):
        m.weight_ih_l0.requires_grad_(False)
        m.bias_hh_l0.requires_grad_(False)
        for name in ("weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_hr_l1"):
            getattr(m, name).requires_grad_(False)
    calls = _spy_backward(monkeypatch)
    grads = []
    for m in (ref, new):
        x = torch.randn(T, N, I, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        x.requires_grad_()
        y, (h, c) = m(x)
        wanted = [x, *(p for p in m.parameters() if p.requires_grad)]
        grads.append(torch.autograd.grad(y.sum() + c.square().sum(), wanted))
    for a, b in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # layer 1 (backward runs first): nothing; layer 0: weight_hh, bias_ih, weight_hr
    assert calls == [[False] * 6, [False, True, True, False, True, False]]


def test_frozen_module_on_a_trained_input_computes_only_dx(monkeypatch):
    ref, new = _pair(torch.nn.GRU, ft.GRU, I, H, 1, batch_first=True)
    new.requires_grad_(False)
    ref.requires_grad_(False)
    calls = _spy_backward(monkeypatch)
    got, want = [], []
    for m, out in ((ref, want), (new, got)):
        x = torch.randn(N, T, I, generator=torch.Generator().manual_seed(2), requires_grad=True)
        m(x)[1].sum().backward()
        out.append(x.grad)
    torch.testing.assert_close(got[0], want[0], rtol=1e-4, atol=1e-6)
    assert calls == [[False] * 6]


def test_backward_op_weight_grads_mask_passes_opcheck():
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    x, h0, c0 = r(T, N, I), r(N, 2), r(N, H)
    w = (r(4 * H, I), r(4 * H, 2), r(4 * H), r(4 * H), r(2, H), r(3, H))
    y, h_n, c_n, reserve = torch.ops.fastrnn.rnn_forward(
        x, None, h0, c0, *w, "lstm", False, True, True, 0.0
    )
    mask = [True, False, False, True, True, False]
    args = (y.clone(), h_n.clone(), c_n.clone(), x, None, *w, reserve, "lstm", False, True, 0.0)
    full = torch.ops.fastrnn.rnn_backward(*args)
    part = torch.ops.fastrnn.rnn_backward(*args, mask)
    for k in range(3):
        assert torch.equal(part[k], full[k])
    for want, a, b in zip(mask, part[3:], full[3:], strict=True):
        assert torch.equal(a, b) if want else a.shape == (0,)
    torch.library.opcheck(torch.ops.fastrnn.rnn_backward.default, (*args, mask))


class _Shared(torch.nn.Module):
    """One LSTM and one GRUCell each reachable under two names (weight sharing)."""

    def __init__(self):
        super().__init__()
        self.enc = torch.nn.LSTM(I, H)
        self.dec = self.enc
        self.cells = torch.nn.ModuleList([torch.nn.GRUCell(H, H)])
        self.cell = self.cells[0]

    def forward(self, x):
        y = self.enc(x)[0] + self.dec(x)[0]
        return self.cell(y[-1]) + self.cells[0](y[0])


def test_convert_and_revert_reach_every_reference_of_a_shared_module():
    torch.manual_seed(0)
    model = _Shared()
    x = torch.randn(T, N, I)
    want = model(x)
    assert ft.convert(model) is model
    assert type(model.enc) is ft.LSTM and model.dec is model.enc
    assert type(model.cell) is ft.GRUCell and model.cells[0] is model.cell
    torch.testing.assert_close(model(x), want, rtol=1e-4, atol=1e-5)
    assert ft.revert(model) is model
    assert type(model.dec) is torch.nn.LSTM and model.dec is model.enc
    assert type(model.cell) is torch.nn.GRUCell and model.cells[0] is model.cell


def test_cuda_backward_kernel_honours_the_mask_like_the_cpu_op(monkeypatch):
    """The op's "cuda" kernel (device entry points swapped for their host-memory emulated twins)
    returns skipped weight gradients as [0], like the CPU op and the fake."""
    from fastrnn import _C
    from fastrnn.torch import _cuda_ops

    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    x = r(T, N, I)
    w = (r(3 * H, I), r(3 * H, H), r(3 * H), r(3 * H), None, None)
    fwd = torch.ops.fastrnn.rnn_forward(x, None, None, None, *w, "gru", False, True, True, 0.0)
    mask = [False, True, True, False, True, True]
    args = (r(T, N, H), r(N, H), None, x, None, *w, fwd[3], "gru", False, True, 0.0, mask)
    cpu = torch.ops.fastrnn.rnn_backward(*args)
    monkeypatch.setattr(_C, "cuda_rnn_backward", _C._emulated_rnn_backward_ptr, raising=False)
    monkeypatch.setattr(_cuda_ops, "load_cublas", lambda: "")
    monkeypatch.setattr(_cuda_ops, "_stream", lambda t: 0)
    gpu = _ops.rnn_backward_cuda_kernel(*args)
    assert [t.shape for t in gpu] == [t.shape for t in cpu]
    assert [t.numel() for t in cpu[3:]] == [0, 3 * H * H, 3 * H, 0, 0, 0]
    for a, b in zip(gpu, cpu, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "base, fast",
    [
        (torch.nn.RNNCell, ft.RNNCell),
        (torch.nn.LSTMCell, ft.LSTMCell),
        (torch.nn.GRUCell, ft.GRUCell),
    ],
)
def test_cells_without_input_features_work_as_in_torch(base, fast):
    """torch.nn's cells take input_size=0 (the state evolves on its own); the layers refuse it."""
    ref, new = _pair(base, fast, 0, H)
    h = torch.randn(N, H)
    hx = (h, torch.randn(N, H)) if base is torch.nn.LSTMCell else h
    _same(ref, new, torch.randn(N, 0), hx)
    _same(ref, new, torch.randn(0))
    with pytest.raises(ValueError, match="input_size"):
        ft.LSTM(0, H)  # as torch.nn.LSTM


@pytest.mark.parametrize("cls, ref_cls", [(ft.LSTM, torch.nn.LSTM), (ft.GRU, torch.nn.GRU)])
def test_data_input_gets_no_input_gradient_work(monkeypatch, cls, ref_cls):
    """x without requires_grad (data fed to the first layer): the first layer's backward skips
    dx's GEMM (as torch's autograd does); the upper layers' inputs still get theirs, and every
    parameter gradient is torch's."""
    ref, new = _pair(ref_cls, cls, I, H, 2, dtype=torch.float64)
    need_dx = []
    _spy_backward(monkeypatch, need_dx)
    grads = []
    for m in (ref, new):
        x = torch.randn(T, N, I, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        y = m(x)[0]
        grads.append(torch.autograd.grad(y.square().sum(), list(m.parameters())))
    for a, b in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert need_dx == [True, False]  # layer 1 (its input is layer 0's output), then layer 0


def test_backward_op_without_input_grad_passes_opcheck():
    g = torch.Generator().manual_seed(0)
    x, h0 = (torch.randn(*s, generator=g) for s in ((T, N, I), (N, H)))
    w = (torch.randn(3 * H, I, generator=g), torch.randn(3 * H, H, generator=g))
    y, h_n, _, reserve = torch.ops.fastrnn.rnn_forward(
        x, None, h0, None, *w, None, None, None, None, "gru", False, True, True, 0.0
    )
    args = (y.clone(), h_n.clone(), None, x, None, *w, None, None, None, None, reserve)
    args = (*args, "gru", False, True, 0.0, None)
    full = torch.ops.fastrnn.rnn_backward(*args)
    part = torch.ops.fastrnn.rnn_backward(*args, False)
    assert part[0].shape == (0,) and full[0].shape == x.shape
    for a, b in zip(part[1:], full[1:], strict=True):
        assert torch.equal(a, b)
    torch.library.opcheck(torch.ops.fastrnn.rnn_backward.default, (*args, False))


def test_cuda_backward_kernel_passes_no_pointer_for_what_is_not_wanted(monkeypatch):
    """The "cuda" kernel (emulated on the host) hands the driver null pointers for dx and the
    unwanted weight gradients, so their GEMMs are skipped there too; the rest equals the CPU op."""
    from fastrnn import _C
    from fastrnn.torch import _cuda_ops

    g = torch.Generator().manual_seed(1)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    x = r(T, N, I)
    w = (r(4 * H, I), r(4 * H, H), r(4 * H), r(4 * H), None, None)
    fwd = torch.ops.fastrnn.rnn_forward(x, None, None, None, *w, "lstm", False, True, True, 0.0)
    mask = [False, True, False, True, True, True]
    args = (r(T, N, H), None, r(N, H), x, None, *w, fwd[3], "lstm", False, True, 0.0, mask, False)
    cpu = torch.ops.fastrnn.rnn_backward(*args)
    seen = []

    def emulated(desc, T_, N_, float64, device, stream, out, grads, inputs, weights, reverse):
        seen.append((out[0], [p != 0 for p in grads]))
        return _C._emulated_rnn_backward_ptr(
            desc, T_, N_, float64, device, stream, out, grads, inputs, weights, reverse
        )

    monkeypatch.setattr(_C, "cuda_rnn_backward", emulated, raising=False)
    monkeypatch.setattr(_cuda_ops, "load_cublas", lambda: "")
    monkeypatch.setattr(_cuda_ops, "_stream", lambda t: 0)
    gpu = _ops.rnn_backward_cuda_kernel(*args)
    assert seen == [(0, [False, True, False, True, False, False])]  # w_hr, w_ch are absent
    assert gpu[0].shape == cpu[0].shape == (0,)
    for a, b in zip(gpu, cpu, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # vmap's loop
@pytest.mark.parametrize(
    "base, fast", [(torch.nn.RNNCell, ft.RNNCell), (torch.nn.GRUCell, ft.GRUCell)]
)
def test_vmap_over_cells_works_as_in_torch(base, fast):
    """torch.func.vmap runs torch.nn's RNNCell and GRUCell (a loop over the mapped slices):
    over the inputs, and over stacked parameters (model ensembling), then backward. fastrnn's
    cells raised 'You tried to vmap over _EagerForward'; torch.func.grad inside vmap stays
    unsupported, with a clear error."""
    ref, new = _pair(base, fast, I, H)
    torch.manual_seed(1)
    x = torch.randn(T, N, I)

    def mapped(m, a):
        return torch.func.vmap(m)(a)

    torch.testing.assert_close(mapped(new, x), mapped(ref, x), rtol=1e-4, atol=1e-5)
    params, _ = torch.func.stack_module_state([ref, copy.deepcopy(ref)])
    grads = []
    for m in (ref, new):
        p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        call = functools.partial(torch.func.functional_call, m)
        y = torch.func.vmap(lambda q, a, call=call: call(q, (a,)), (0, None))(p, x[0])
        grads.append(torch.autograd.grad((y * y).sum(), list(p.values())))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    loss = lambda q, a: torch.func.functional_call(new, q, (a,)).sum()  # noqa: E731
    with pytest.raises(NotImplementedError, match="torch.func.grad and vjp under torch.func.vmap"):
        torch.func.vmap(torch.func.grad(loss), (0, None))(params, x[0])
