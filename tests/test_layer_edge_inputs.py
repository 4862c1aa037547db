"""Edge inputs to the layers' constructors and forward, each checked against what torch.nn does
with the same call: proj_size given to RNN or GRU, and the wording of a wrong initial state."""

import fastrnn
import fastrnn.torch as ft
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
