"""Edge inputs to the layers' constructors and forward, each checked against what torch.nn does
with the same call: proj_size given to RNN or GRU, and the wording of a wrong initial state."""

import fastrnn
import fastrnn.torch as ft
import numpy as np
import pytest
import torch

I_SIZE, H = 3, 4
PROJ_MESSAGE = "proj_size argument is only supported for LSTM, not RNN or GRU"


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
@pytest.mark.parametrize("proj_size", [0, 2, None])
def test_torch_rnn_and_gru_refuse_proj_size_as_a_keyword_as_torch_nn(kind, proj_size):
    # torch.nn.RNN/GRU refuse any proj_size keyword, 0 included; ours took proj_size=0.
    with pytest.raises(ValueError, match=PROJ_MESSAGE):
        getattr(torch.nn, kind)(I_SIZE, H, proj_size=proj_size)
    with pytest.raises(ValueError, match=PROJ_MESSAGE):
        getattr(ft, kind)(I_SIZE, H, proj_size=proj_size)


def test_torch_gru_takes_a_positional_zero_after_bidirectional_as_torch_nn():
    # torch.nn.GRU passes an eighth positional argument on as RNNBase's proj_size
    args = (I_SIZE, H, 1, True, False, 0.0, False, 0)
    assert repr(ft.GRU(*args)) == repr(torch.nn.GRU(*args))
    with pytest.raises(ValueError, match=PROJ_MESSAGE):
        ft.GRU(*args[:-1], 2)  # (torch.nn builds a GRU with a weight_hr it cannot run)
    module = ft.RNN(I_SIZE, H, 1, "tanh", True, False, 0.0, False, None, torch.float64)
    assert module.weight_ih_l0.dtype == torch.float64  # RNN's are device and dtype


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_numpy_rnn_and_gru_have_no_proj_size(kind):
    with pytest.raises(TypeError, match="proj_size"):
        getattr(fastrnn, kind)(I_SIZE, H, proj_size=0)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_an_unbatched_x_takes_only_unbatched_states_as_torch_nn(kind):
    # torch.nn: "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"; ours took a
    # [L*D,1,S] state, and for a wrong 2-D one named the shape with an axis the caller never gave.
    layer = getattr(fastrnn, kind)(I_SIZE, H, 2)
    x = np.zeros((5, I_SIZE), np.float32)
    lstm = kind == "LSTM"
    name = r"hx\[0\]" if lstm else "hx"

    def state(*shape):
        h = np.zeros(shape, np.float32)
        return (h, np.zeros((2, H), np.float32)) if lstm else h

    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx"):
        s = state(2, 1, H)
        getattr(torch.nn, kind)(I_SIZE, H, 2)(
            torch.from_numpy(x), tuple(map(torch.from_numpy, s)) if lstm else torch.from_numpy(s)
        )
    with pytest.raises(ValueError, match=rf"^{name}: expected shape \(2, 4\) .*got \(2, 1, 4\)$"):
        layer.forward(x, state(2, 1, H))
    with pytest.raises(ValueError, match=rf"^{name}: expected shape \(2, 4\) .*got \(1, 4\)$"):
        layer.forward(x, state(1, H))
    y, _ = layer.forward(x, state(2, H))
    with pytest.raises(
        ValueError, match=r"^dh_n(\[0\])?: expected shape \(2, 4\) .*got \(2, 1, 4\)$"
    ):
        layer.backward(np.zeros_like(y), state(2, 1, H))


def test_a_wrong_cell_state_is_described_as_hidden_size():
    # hx[1] (c, always [L*D,N,H]) was described as "(num_layers*num_directions, N, proj_size or
    # hidden_size)"
    layer = fastrnn.LSTM(I_SIZE, H)
    x = np.zeros((5, 2, I_SIZE), np.float32)
    h0, c0 = np.zeros((1, 2, H), np.float32), np.zeros((1, 2, H + 1), np.float32)
    with pytest.raises(
        ValueError,
        match=r"^hx\[1\]: expected shape \(1, 2, 4\) \(num_layers\*num_directions, N, "
        r"hidden_size\), got \(1, 2, 5\)$",
    ):
        layer.forward(x, (h0, c0))
    with pytest.raises(ValueError, match=r"^hx\[0\]: .*\(num_layers\*num_directions, N, proj_size"):
        fastrnn.LSTM(I_SIZE, H, proj_size=2).forward(x, (np.zeros((1, 2, H), np.float32), None))


@pytest.mark.parametrize(
    "kind, kwargs",
    [
        ("RNNCell", {}),
        ("LSTMCell", {}),
        ("LSTMCell", {"peephole": True, "cell_clip": 1.0}),
        ("GRUCell", {"reset_after": False}),
    ],
)
def test_torch_cells_with_no_hidden_units_run_as_torch_nn(kind, kwargs):
    # torch.nn's cells take hidden_size=0 (empty states, zero input gradient); ours raised the
    # core's "hidden_size must be positive" at the first step, and with peephole=True a
    # ZeroDivisionError in the constructor.
    ref = getattr(torch.nn, kind)(I_SIZE, 0)
    cell = getattr(ft, kind)(I_SIZE, 0, **kwargs)
    for module in (ref, cell):
        x = torch.randn(2, I_SIZE, requires_grad=True)
        out = module(x)
        h = out[0] if isinstance(out, tuple) else out
        assert h.shape == (2, 0)
        (h.sum() + 1.0 * x.sum()).backward()
        assert torch.equal(x.grad, torch.ones(2, I_SIZE))


@pytest.mark.parametrize("kind", ["GRUCell", "LSTMCell"])
def test_torch_cells_name_a_wrong_unbatched_state_in_the_callers_shape(kind):
    # It said "hidden0: expected shape (1, 4) (batch 1, hidden_size 4), got (1, 1, 4)" of a
    # state the caller gave as (1, 4).
    cell = getattr(ft, kind)(I_SIZE, H)
    h = torch.zeros(1, H)
    with pytest.raises(RuntimeError, match=r"hidden0: expected shape \(4,\) .*got \(1, 4\)$"):
        cell(torch.zeros(I_SIZE), (h, torch.zeros(H)) if kind == "LSTMCell" else h)
