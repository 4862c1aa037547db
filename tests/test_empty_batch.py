"""An empty batch (N = 0) and zero steps (T = 0), as torch.nn has them: torch.nn.RNN/LSTM/GRU and
their cells return empty outputs of the right shapes for N = 0 and their backward gives zero
weight gradients; zero steps are an error. The numpy API (functional, layers, cells), the
torch.library ops and the fastrnn.torch modules do the same without calling a kernel on an empty
batch."""

import fastrnn
import fastrnn.torch as ft
import numpy as np
import pytest
import torch
from fastrnn import functional as F
from torch_oracle import TORCH_DTYPES

I_SIZE, H, P, T = 3, 4, 2, 5

# name -> (class name, fastrnn/torch kwargs)
VARIANTS = {
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm_proj": ("LSTM", {"proj_size": P}),
    "gru": ("GRU", {}),
}


def _shapes(value):
    """The shapes and dtypes of an array, tensor or nested tuple of them."""
    if isinstance(value, (tuple, list)):
        return tuple(_shapes(v) for v in value)
    if isinstance(value, torch.Tensor):
        return tuple(value.shape), value.numpy(force=True).dtype
    return value.shape, value.dtype


def _torch_empty_batch(cls_name, kwargs, dtype, num_layers, bidirectional, batch_first, hx):
    """torch.nn's outputs, dx, dhx and weight gradients for an empty batch (N = 0)."""
    module = getattr(torch.nn, cls_name)(
        I_SIZE,
        H,
        num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        dtype=TORCH_DTYPES[np.dtype(dtype)],
        **kwargs,
    )
    x = torch.zeros(
        (0, T, I_SIZE) if batch_first else (T, 0, I_SIZE), dtype=module.weight_ih_l0.dtype
    )
    x.requires_grad_(True)
    states = tuple(s.requires_grad_(True) for s in hx) if hx is not None else None
    y, state = module(x, (states if cls_name == "LSTM" else states[0]) if hx is not None else None)
    flat = state if isinstance(state, tuple) else (state,)
    (y.sum() + sum(s.sum() for s in flat)).backward()
    grads = {n: p.grad for n, p in module.named_parameters()}
    dhx = tuple(s.grad for s in states) if states is not None else None
    return y, state, x.grad, dhx, grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(
    "num_layers, bidirectional, batch_first, with_hx, with_lengths",
    [
        (1, False, False, False, False),
        (2, True, True, True, False),
        (2, False, False, True, True),
        (1, True, True, False, True),
    ],
)
def test_layers_take_an_empty_batch_as_torch_nn(
    variant, dtype, num_layers, bidirectional, batch_first, with_hx, with_lengths
):
    cls_name, kwargs = VARIANTS[variant]
    D = 2 if bidirectional else 1
    S = kwargs.get("proj_size") or H
    lstm = cls_name == "LSTM"
    hx = None
    if with_hx:
        hx = (np.zeros((num_layers * D, 0, S), dtype),)
        if lstm:
            hx += (np.zeros((num_layers * D, 0, H), dtype),)
    layer = getattr(fastrnn, cls_name)(
        I_SIZE,
        H,
        num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        dropout=0.5 if num_layers > 1 else 0.0,
        dtype=dtype,
        seed=0,
        **kwargs,
    )
    x = np.zeros((0, T, I_SIZE) if batch_first else (T, 0, I_SIZE), dtype)
    lengths = np.zeros(0, np.int64) if with_lengths else None
    state0 = None if hx is None else (hx if lstm else hx[0])

    ty, tstate, tdx, tdhx, tgrads = _torch_empty_batch(
        cls_name,
        kwargs,
        dtype,
        num_layers,
        bidirectional,
        batch_first,
        None if hx is None else tuple(torch.from_numpy(h) for h in hx),
    )
    y, state = layer.forward(x, state0, lengths, training=False)
    assert _shapes((y, state)) == _shapes((ty, tstate))

    y, state = layer.forward(x, state0, lengths)
    assert _shapes((y, state)) == _shapes((ty, tstate))
    dh_n = (np.ones_like(state[0]), np.ones_like(state[1])) if lstm else np.ones_like(state)
    dx, dhx = layer.backward(np.ones_like(y), dh_n)
    assert _shapes(dx) == _shapes(tdx)
    if hx is not None:
        assert _shapes(dhx) == _shapes(tdhx if lstm else tdhx[0])
    assert sorted(layer.grads) == sorted(tgrads)
    for name, g in layer.grads.items():
        assert _shapes(g) == _shapes(tgrads[name])
        assert not g.any(), name
    dx, _ = layer.backward(np.ones_like(y), input_grad=False)
    assert dx is None


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
def test_functional_runs_an_empty_batch(mode):
    layer = {"rnn_tanh": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}[mode](
        I_SIZE, H, dtype=np.float64, seed=0
    )
    params = layer._layer_params(0, 0)
    x = np.zeros((T, 0, I_SIZE))
    y, state, ctx = F.forward(mode, x, params, reverse=True)
    assert y.shape == (T, 0, H) and y.dtype == np.float64
    h_n = state[0] if mode == "lstm" else state
    assert h_n.shape == (0, H)
    if mode == "lstm":
        assert state[1].shape == (0, H)
    dx, dhx, grads = F.backward(ctx, np.zeros((T, 0, H)))
    assert dx.shape == x.shape and dx.dtype == np.float64
    assert (dhx[0] if mode == "lstm" else dhx).shape == (0, H)
    assert sorted(grads) == sorted(params)
    assert all(g.shape == params[k].shape and not g.any() for k, g in grads.items())
    with pytest.raises(ValueError, match=r"dy: expected shape \(5, 0, 4\), got \(5, 1, 4\)"):
        F.backward(ctx, np.zeros((T, 1, H)))


@pytest.mark.parametrize("batch_first", [False, True])
def test_zero_steps_are_an_error_naming_x(batch_first):
    layer = fastrnn.LSTM(I_SIZE, H, batch_first=batch_first)
    shape = (2, 0, I_SIZE) if batch_first else (0, 2, I_SIZE)
    with pytest.raises(ValueError, match=rf"x: expected at least one time step .*{shape}"):
        layer.forward(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match=r"x: expected at least one time step .*\(0, 3\)"):
        layer.forward(np.zeros((0, I_SIZE), np.float32))  # unbatched
    with pytest.raises(ValueError, match=r"x: expected at least one time step .*\(0, 2, 3\)"):
        F.forward("lstm", np.zeros((0, 2, I_SIZE), np.float32), layer._layer_params(0, 0))


@pytest.mark.parametrize("cls_name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_take_an_empty_batch_as_torch_nn(cls_name):
    ref = getattr(torch.nn, cls_name)(I_SIZE, H, dtype=torch.float64)
    tx = torch.zeros(0, I_SIZE, dtype=torch.float64, requires_grad=True)
    tout = ref(tx)
    (tout[0] if isinstance(tout, tuple) else tout).sum().backward()

    cell = getattr(fastrnn, cls_name)(I_SIZE, H, dtype=np.float64, seed=0)
    x = np.zeros((0, I_SIZE))
    lstm = cls_name == "LSTMCell"
    state = (np.zeros((0, H)), np.zeros((0, H))) if lstm else np.zeros((0, H))
    assert _shapes(cell.step(x)) == _shapes(tout)
    assert _shapes(cell.step(x, state)) == _shapes(tout)
    assert _shapes(cell.forward(x, state)) == _shapes(tout)
    dx, dstate = cell.backward((np.ones((0, H)), None) if lstm else np.ones((0, H)))
    assert _shapes(dx) == _shapes(tx.grad)
    assert _shapes(dstate) == _shapes(state)
    assert all(not g.any() for g in cell.grads.values())
    bad = (np.zeros((1, H)), np.zeros((0, H))) if lstm else np.zeros((1, H))
    with pytest.raises(ValueError, match=r"state(\[0\])?: expected shape \(0, 4\), got \(1, 4\)"):
        cell.step(x, bad)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
def test_ops_run_an_empty_batch(mode, training):
    G = F.MODES[mode]
    x = torch.zeros(T, 0, I_SIZE, dtype=torch.float64)
    w_ih, w_hh = torch.randn(G * H, I_SIZE, dtype=x.dtype), torch.randn(G * H, H, dtype=x.dtype)
    b = torch.randn(G * H, dtype=x.dtype)
    args = (x, None, None, None, w_ih, w_hh, b, b, None, None, mode, False, training, True, 0.0)
    y, h_n, c_n, reserve = torch.ops.fastrnn.rnn_forward(*args)
    assert y.shape == (T, 0, H) and h_n.shape == (0, H) and y.dtype == x.dtype
    assert c_n.shape == ((0, H) if mode == "lstm" else (0,))
    assert reserve.shape == (0,)
    torch.library.opcheck(torch.ops.fastrnn.rnn_forward.default, args)  # the fake agrees
    with pytest.raises(ValueError, match=r"h0: expected shape \(0, 4\), got \(1, 4\)"):
        torch.ops.fastrnn.rnn_forward(x, None, torch.zeros(1, H, dtype=x.dtype), *args[3:])
    if not training:
        return
    dx, dh0, dc0, *dw = torch.ops.fastrnn.rnn_backward(
        torch.zeros_like(y),
        None,
        None,
        x,
        None,
        w_ih,
        w_hh,
        b,
        b,
        None,
        None,
        reserve,
        mode,
        False,
        True,
        0.0,
    )
    assert dx.shape == x.shape and dh0.shape == (0, H)
    assert dc0.shape == ((0, H) if mode == "lstm" else (0,))
    for g, w in zip(dw, (w_ih, w_hh, b, b), strict=False):
        assert g.shape == w.shape and not g.any()


@pytest.mark.parametrize(
    "cls, kwargs",
    [(ft.LSTM, {"peephole": True}), (ft.LSTM, {"proj_size": P}), (ft.GRU, {"reset_after": False})],
)
def test_torch_modules_give_every_parameter_a_zero_gradient_for_an_empty_batch(cls, kwargs):
    module = cls(I_SIZE, H, 2, bidirectional=True, **kwargs)
    x = torch.zeros(T, 0, I_SIZE, requires_grad=True)
    y, state = module(x)
    assert y.shape == (T, 0, 2 * (kwargs.get("proj_size") or H))
    (y.sum() + (state[0] if isinstance(state, tuple) else state).sum()).backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.any(), name
    assert x.grad.shape == x.shape
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        module(torch.zeros(0, 2, I_SIZE))


def test_torch_peephole_cell_gives_weight_ch_a_zero_gradient_for_an_empty_batch():
    cell = ft.LSTMCell(I_SIZE, H, peephole=True)
    h, c = cell(torch.zeros(0, I_SIZE, requires_grad=True))
    assert h.shape == c.shape == (0, H)
    (h.sum() + c.sum()).backward()
    for name, p in cell.named_parameters():
        assert p.grad is not None and not p.grad.any(), name
