"""state_dict interchange between torch.nn and fastrnn.torch, pickling, and convert/revert."""

import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import fastrnn  # noqa: E402
import fastrnn.torch as ft  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

T, N, I, H = 5, 3, 4, 6  # noqa: E741
PAIRS = [
    (torch.nn.RNN, ft.RNN, {"nonlinearity": "relu", "num_layers": 2}),
    (torch.nn.LSTM, ft.LSTM, {"num_layers": 2, "bidirectional": True, "proj_size": 3}),
    (torch.nn.GRU, ft.GRU, {"bias": False, "bidirectional": True}),
    (torch.nn.RNNCell, ft.RNNCell, {}),
    (torch.nn.LSTMCell, ft.LSTMCell, {}),
    (torch.nn.GRUCell, ft.GRUCell, {"bias": False}),
]


def _input(module):
    cell = isinstance(module, torch.nn.RNNCellBase)
    return torch.randn(N, I) if cell else torch.randn(T, N, I)


def _out(module, x):
    out = module(x)
    if isinstance(module, torch.nn.RNNCellBase):
        return out[0] if isinstance(out, tuple) else out
    return out[0]


@pytest.mark.parametrize("base, fast, kwargs", PAIRS)
def test_state_dict_loads_both_ways(base, fast, kwargs):
    src = base(I, H, **kwargs)
    dst = fast(I, H, **kwargs)
    dst.load_state_dict(src.state_dict())  # strict: same keys and shapes
    x = _input(src)
    torch.testing.assert_close(_out(dst, x), _out(src, x), rtol=1e-4, atol=1e-5)
    back = base(I, H, **kwargs)
    back.load_state_dict(fast(I, H, **kwargs).state_dict())
    assert list(back.state_dict()) == list(src.state_dict())


def test_state_dict_through_torch_save_and_numpy_layers():
    m = ft.LSTM(I, H, 2, bidirectional=True)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    ref = torch.nn.LSTM(I, H, 2, bidirectional=True)
    ref.load_state_dict(torch.load(buf))
    layer = fastrnn.LSTM(I, H, 2, bidirectional=True)
    layer.load_state_dict(m.state_dict())  # the numpy layers take the same names
    x = torch.randn(T, N, I)
    np.testing.assert_allclose(
        layer.forward(x.numpy(), training=False)[0],
        ref(x)[0].detach().numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


def test_extras_add_parameters_under_the_pattern():
    m = ft.LSTM(I, H, 2, bidirectional=True, peephole=True)
    extra = [k for k in m.state_dict() if k.startswith("weight_ch")]
    assert extra == ["weight_ch_l0", "weight_ch_l0_reverse", "weight_ch_l1", "weight_ch_l1_reverse"]
    result = m.load_state_dict(
        torch.nn.LSTM(I, H, 2, bidirectional=True).state_dict(), strict=False
    )
    assert sorted(result.missing_keys) == sorted(extra) and not result.unexpected_keys
    assert "weight_ch" in ft.LSTMCell(I, H, peephole=True).state_dict()


def test_whole_module_pickles():
    m = ft.GRU(I, H, 2, reset_after=False)
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    m2 = torch.load(buf, weights_only=False)
    assert type(m2) is ft.GRU and m2.reset_after is False
    x = torch.randn(T, N, I)
    torch.testing.assert_close(m2(x)[0], m(x)[0])


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(I, I), torch.nn.Tanh())
        self.rnn = torch.nn.LSTM(I, H, 2, bidirectional=True, batch_first=True)
        self.cells = torch.nn.ModuleList([torch.nn.GRUCell(2 * H, H), torch.nn.RNNCell(H, H)])
        self.head = torch.nn.Linear(H, 1)

    def forward(self, x):  # x: [N,T,I]
        y, _ = self.rnn(self.encoder(x))
        h = self.cells[0](y[:, -1])
        return self.head(self.cells[1](h)).sum()


def test_convert_and_revert_share_parameters_and_results():
    torch.manual_seed(0)
    net = Net()
    params = {n: p for n, p in net.named_parameters()}
    calls = []
    net.rnn.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(N, T, I)
    want = net(x)
    want.backward()
    want_grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()

    net.eval()
    assert ft.convert(net) is net
    assert type(net.rnn) is ft.LSTM and net.rnn.batch_first and not net.rnn.training
    assert type(net.cells[0]) is ft.GRUCell and type(net.cells[1]) is ft.RNNCell
    assert type(net.encoder[0]) is torch.nn.Linear
    assert all(p is params[n] for n, p in net.named_parameters())  # the same Parameter objects
    net.train()
    got = net(x)
    got.backward()
    assert len(calls) == 2  # the hook moved with the module
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    for n, p in net.named_parameters():
        torch.testing.assert_close(p.grad, want_grads[n], rtol=1e-4, atol=1e-5)

    before = net.rnn.weight_ih_l0.detach().clone()
    torch.optim.SGD(net.parameters(), lr=0.1).step()  # updates what the module computes with
    assert not torch.equal(net.rnn.weight_ih_l0, before)
    stepped = net(x)

    assert ft.revert(net) is net
    assert type(net.rnn) is torch.nn.LSTM and type(net.cells[0]) is torch.nn.GRUCell
    assert all(p is params[n] for n, p in net.named_parameters())
    assert not hasattr(net.rnn, "peephole")
    torch.testing.assert_close(net(x), stepped, rtol=1e-4, atol=1e-5)


def test_convert_top_level_module_and_skip_subclasses():
    lstm = torch.nn.LSTM(I, H)
    fast = ft.convert(lstm)
    assert type(fast) is ft.LSTM and fast.weight_ih_l0 is lstm.weight_ih_l0
    assert type(ft.revert(fast)) is torch.nn.LSTM

    class MyLSTM(torch.nn.LSTM):
        pass

    mine = MyLSTM(I, H)
    assert ft.convert(mine) is mine  # its forward may be custom: left alone
    with pytest.raises(ValueError, match="peephole"):
        ft.revert(ft.LSTM(I, H, peephole=True))
    with pytest.raises(TypeError):
        ft.convert("not a module")


def test_dtype_moves_and_deepcopy_keep_working():
    import copy

    m = ft.LSTM(I, H, 2, peephole=True)
    m.double()
    assert m.weight_ch_l1.dtype == torch.float64 and m._flat_weights[0].dtype == torch.float64
    x = torch.randn(T, N, I, dtype=torch.float64)
    y = m(x)[0]
    twin = copy.deepcopy(m)
    assert twin.weight_ih_l0 is not m.weight_ih_l0
    torch.testing.assert_close(twin(x)[0], y, rtol=0, atol=0)


class Tagger(torch.nn.Module):
    """A typical user model: embedding, packed bidirectional 2-layer LSTM with dropout, a GRU cell
    over the final states, a linear head."""

    def __init__(self, vocab=20):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, I)
        self.rnn = torch.nn.LSTM(I, H, 2, batch_first=True, bidirectional=True, dropout=0.3)
        self.cell = torch.nn.GRUCell(2 * H, H)
        self.head = torch.nn.Linear(H, 3)

    def forward(self, tokens, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.emb(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, (h, _) = self.rnn(packed)
        return self.head(self.cell(torch.cat([h[-2], h[-1]], 1)))


def test_training_run_matches_torch_nn_after_one_changed_line():
    """Adam, dropout, gradient clipping, packed batches: the same losses step by step."""
    losses = {}
    for converted in (False, True):
        torch.manual_seed(0)
        model = Tagger()
        if converted:
            model = ft.convert(model)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        data = torch.Generator().manual_seed(1)
        losses[converted] = []
        for _ in range(4):
            tokens = torch.randint(0, 20, (N + 1, T), generator=data)
            lengths = torch.randint(1, T + 1, (N + 1,), generator=data)
            labels = torch.randint(0, 3, (N + 1,), generator=data)
            loss = torch.nn.functional.cross_entropy(model(tokens, lengths), labels)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses[converted].append(loss.item())
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)


def test_parametrized_weights_behave_as_in_torch_nn():
    from torch.nn.utils.parametrizations import weight_norm

    torch.manual_seed(0)
    ref, new = torch.nn.GRU(I, H), ft.GRU(I, H)
    new.load_state_dict(ref.state_dict())
    for m in (ref, new):
        weight_norm(m, "weight_hh_l0")
        with torch.no_grad():
            m.parametrizations.weight_hh_l0.original0.mul_(2.0)
    x = torch.randn(T, N, I)
    a, b = ref(x)[0], new(x)[0]
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    a.sum().backward()
    b.sum().backward()
    torch.testing.assert_close(
        new.parametrizations.weight_hh_l0.original1.grad,
        ref.parametrizations.weight_hh_l0.original1.grad,
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("base, fast, kwargs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_convert_and_revert_modules_with_parametrized_weights(base, fast, kwargs):
    """torch.nn.utils.parametrize moves a module into a generated subclass (ParametrizedGRU, say)
    that only adds a property per parametrized tensor; convert and revert left such a module
    unconverted without a word. Now it gets the same subclass of the other class: same
    parametrizations, same results, and removing them leaves the plain other class."""
    from torch.nn.utils import parametrize
    from torch.nn.utils.parametrizations import weight_norm

    torch.manual_seed(0)
    ref = base(I, H, **kwargs)
    name = "weight_hh" if issubclass(base, torch.nn.RNNCellBase) else "weight_hh_l0"
    weight_norm(ref, name)
    model = torch.nn.Sequential(copy.deepcopy(ref))
    x = _input(ref)
    fast_model = ft.convert(model)
    new = fast_model[0]
    assert isinstance(new, fast) and parametrize.is_parametrized(new, name)
    torch.testing.assert_close(_out(new, x), _out(ref, x), rtol=1e-4, atol=1e-5)
    back = ft.revert(fast_model)[0]
    assert isinstance(back, base) and not isinstance(back, fast)
    assert parametrize.is_parametrized(back, name)
    torch.testing.assert_close(_out(back, x), _out(ref, x), rtol=1e-4, atol=1e-5)
    parametrize.remove_parametrizations(new, name)
    assert type(new) is fast


@pytest.mark.parametrize("base, fast, kwargs", PAIRS[1:2] + PAIRS[4:5])
def test_hook_handles_from_before_a_swap_remove_the_hook_from_the_new_module(base, fast, kwargs):
    # torch.nn: handle.remove() stops the hook. After convert/revert the hook moved with the
    # module but its handle still pointed at the old module's hook dict: remove() left the hook
    # running on the module in the model, silently.
    torch.manual_seed(0)
    old = base(I, H, **kwargs)
    calls = {"fwd": 0, "pre": 0, "bwd": 0, "old": 0}

    def count(key):
        def hook(*_):
            calls[key] += 1

        return hook

    handles = [
        old.register_forward_hook(count("fwd"), with_kwargs=True, always_call=True),
        old.register_forward_pre_hook(count("pre")),
        old.register_full_backward_hook(count("bwd")),
    ]
    new = ft.convert(old)
    assert type(new) is fast
    x = _input(old).requires_grad_()  # (a full backward hook warns without an input gradient)
    _out(new, x).sum().backward()
    assert calls == {"fwd": 1, "pre": 1, "bwd": 1, "old": 0}  # the hooks moved with the module
    for handle in handles:
        handle.remove()
    _out(new, x).sum().backward()
    assert calls == {"fwd": 1, "pre": 1, "bwd": 1, "old": 0}  # and their handles with them
    old.register_forward_hook(count("old"))  # the old module keeps hook dicts of its own
    _out(new, x)
    assert calls["old"] == 0

    handle = new.register_forward_hook(count("fwd"))
    back = ft.revert(new)
    assert type(back) is base
    handle.remove()
    _out(back, x)
    assert calls["fwd"] == 1


def test_a_module_compiled_in_place_runs_the_swapped_in_module(monkeypatch):
    # Module.compile() stores torch.compile(module._call_impl), bound to that module. The
    # swapped-in module copied it, so its calls ran the old module: convert()ed, it still ran
    # torch.nn's forward, with the old module's train/eval flag (dropout after model.eval()).
    import fastrnn.torch.modules as modules
    from torch._dynamo.testing import CompileCounter

    kernel_calls = []
    layer_forward = modules.layer_forward
    monkeypatch.setattr(
        modules, "layer_forward", lambda *a: (kernel_calls.append(1), layer_forward(*a))[1]
    )
    torch._dynamo.reset()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.LSTM(I, H, 3, dropout=0.5))
    compiler = CompileCounter()
    net[0].compile(backend=compiler)
    x = torch.randn(T, N, I)
    ft.convert(net).eval()
    want = net(x)[0]
    assert kernel_calls  # fastrnn's forward ran
    assert compiler.frame_count > 0  # compiled as it was asked to be
    torch.testing.assert_close(net(x)[0], want, rtol=0, atol=0)  # no dropout in eval mode
    net = ft.revert(net)
    kernel_calls.clear()
    torch.testing.assert_close(net(x)[0], want)
    assert not kernel_calls  # torch.nn's forward ran
    torch._dynamo.reset()
