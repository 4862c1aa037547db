"""Bad input to the issue-3 layer options and to the step cells: proj_size >= hidden_size or
on RNN/GRU, peepholes and cell clip on a non-LSTM, dropout outside [0, 1], num_layers, initial
and final state shapes that do not match num_layers * num_directions, cell states of the wrong
shape or dtype, cell inputs of the wrong shape, state_dicts of stacked layers.  Each raises
ValueError or TypeError whose message names the offending argument; backward without a forward
raises RuntimeError.  Also: the numeric types torch.nn accepts for dropout are accepted."""

import fastrnn
import numpy as np
import pytest
from test_bad_input import BAD, word

T, N, I_SIZE, H, P = 5, 3, 4, 6, 2
LAYERS = [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU]
CELLS = [fastrnn.RNNCell, fastrnn.LSTMCell, fastrnn.GRUCell]


def ids(cls):
    return cls.__name__


# ---------------------------------------------------------------------------------------------
# constructors


@pytest.mark.parametrize("proj", [H, H + 1, 10 * H])
def test_proj_size_not_below_hidden_size(proj):
    with pytest.raises(ValueError, match=word("proj_size")):
        fastrnn.LSTM(I_SIZE, H, proj_size=proj)
    with pytest.raises(ValueError, match=word("proj_size")):
        fastrnn.LSTM(I_SIZE, H, 2, True, False, 0.0, True, proj)  # positional, like torch


@pytest.mark.parametrize("proj", [2.0, "2", None, [2]])
def test_proj_size_not_an_int(proj):
    with pytest.raises(BAD, match=word("proj_size")):
        fastrnn.LSTM(I_SIZE, H, proj_size=proj)


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.GRU], ids=ids)
def test_proj_size_on_rnn_or_gru(cls):
    with pytest.raises(BAD, match=word("proj_size")):
        cls(I_SIZE, H, proj_size=P)
    with pytest.raises(BAD, match=word("proj_size")):
        cls(I_SIZE, H, num_layers=2, bidirectional=True, proj_size=P)


@pytest.mark.parametrize(
    "cls", [fastrnn.RNN, fastrnn.GRU, fastrnn.RNNCell, fastrnn.GRUCell], ids=ids
)
def test_lstm_only_options_on_other_cells(cls):
    with pytest.raises(BAD, match=word("peephole")):
        cls(I_SIZE, H, peephole=True)
    with pytest.raises(BAD, match=word("cell_clip")):
        cls(I_SIZE, H, cell_clip=1.0)


@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.LSTMCell, fastrnn.RNN], ids=ids)
def test_reset_after_only_on_gru(cls):
    with pytest.raises(BAD, match=word("reset_after")):
        cls(I_SIZE, H, reset_after=False)


@pytest.mark.parametrize("cls", [fastrnn.LSTMCell, fastrnn.RNNCell, fastrnn.GRUCell], ids=ids)
def test_proj_size_and_dropout_not_on_cells(cls):
    with pytest.raises(BAD, match=word("proj_size")):
        cls(I_SIZE, H, proj_size=P)
    with pytest.raises(BAD, match=word("dropout")):
        cls(I_SIZE, H, dropout=0.5)


@pytest.mark.parametrize("cls", LAYERS, ids=ids)
@pytest.mark.parametrize(
    "p", [-0.1, -1e-12, 1.0000001, 1.5, float("nan"), float("inf"), -float("inf")]
)
def test_dropout_out_of_range(cls, p):
    with pytest.raises(ValueError, match=word("dropout")):
        cls(I_SIZE, H, 2, dropout=p)


@pytest.mark.parametrize("cls", LAYERS, ids=ids)
@pytest.mark.parametrize("p", ["0.5", None, [0.5], True, 0.5j])
def test_dropout_not_a_number(cls, p):
    with pytest.raises(BAD, match=word("dropout")):
        cls(I_SIZE, H, 2, dropout=p)


@pytest.mark.parametrize(
    "p", [0, 0.0, 0.5, np.float64(0.25), np.float32(0.25), np.int64(0), 1.0, 1], ids=repr
)
def test_dropout_numbers_torch_accepts(p):
    """torch.nn.RNNBase accepts any numbers.Number in [0, 1] (numpy scalars included)."""
    layer = fastrnn.LSTM(I_SIZE, H, 2, dropout=p)
    assert layer.dropout == pytest.approx(float(p))
    layer.forward(np.zeros((T, N, I_SIZE), np.float32))


@pytest.mark.parametrize("cls", LAYERS, ids=ids)
@pytest.mark.parametrize("layers", [0, -1])
def test_num_layers_not_positive(cls, layers):
    with pytest.raises(ValueError, match=word("num_layers")):
        cls(I_SIZE, H, layers)


@pytest.mark.parametrize("cls", LAYERS, ids=ids)
@pytest.mark.parametrize("layers", [2.0, "2", None])
def test_num_layers_not_an_int(cls, layers):
    with pytest.raises(BAD, match=word("num_layers")):
        cls(I_SIZE, H, num_layers=layers)


@pytest.mark.parametrize("cls", CELLS, ids=ids)
def test_cell_bad_sizes_and_dtype(cls):
    for args, name in [((0, H), "input_size"), ((I_SIZE, -1), "hidden_size")]:
        with pytest.raises(ValueError, match=word(name)):
            cls(*args)
    with pytest.raises(BAD, match=word("input_size")):
        cls(2.5, H)
    with pytest.raises(BAD, match=word("dtype")):
        cls(I_SIZE, H, dtype=np.int32)


def test_cell_bad_options():
    with pytest.raises(BAD, match=word("nonlinearity")):
        fastrnn.RNNCell(I_SIZE, H, nonlinearity="sigmoid")
    for clip in (0, -0.0, -1.0, float("nan"), float("inf"), [1.0]):
        with pytest.raises(BAD, match=word("cell_clip")):
            fastrnn.LSTMCell(I_SIZE, H, cell_clip=clip)
        with pytest.raises(BAD, match=word("cell_clip")):
            fastrnn.LSTM(I_SIZE, H, 2, bidirectional=True, cell_clip=clip)


# ---------------------------------------------------------------------------------------------
# layers: states that do not match num_layers * num_directions


def stack(kind, L=2, bidirectional=True, proj=0):
    kwargs = {"proj_size": proj} if proj else {}
    return getattr(fastrnn, kind)(I_SIZE, H, L, bidirectional=bidirectional, seed=0, **kwargs)


X = np.zeros((T, N, I_SIZE), np.float32)


def zeros(*shape):
    return np.zeros(shape, np.float32)


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_stack_hx_shape(kind):
    layer = stack(kind)  # L*D = 4
    layer.forward(X, zeros(4, N, H))  # the valid baseline
    for hx in [
        zeros(2, N, H),  # num_layers only
        zeros(1, N, H),
        zeros(8, N, H),
        zeros(N, H),
        zeros(4, N + 1, H),
        zeros(4, N, H + 1),
        zeros(1, 4, N, H),
    ]:
        with pytest.raises(ValueError, match=word("hx", "h_0", "h0")):
            layer.forward(X, hx)
    with pytest.raises(TypeError, match=word("hx", "h_0", "h0")):
        layer.forward(X, (zeros(4, N, H),))
    unidirectional = stack(kind, L=3, bidirectional=False)  # L*D = 3
    unidirectional.forward(X, zeros(3, N, H))
    with pytest.raises(ValueError, match=word("hx", "h_0", "h0")):
        unidirectional.forward(X, zeros(6, N, H))


@pytest.mark.parametrize("proj", [0, P])
def test_lstm_stack_hx_shapes(proj):
    layer = stack("LSTM", proj=proj)
    S = proj or H
    layer.forward(X, (zeros(4, N, S), zeros(4, N, H)))  # the valid baseline
    for h0, c0, names in [
        (zeros(2, N, S), zeros(4, N, H), ("hx[0]", "h_0", "h0")),
        (zeros(4, N, S), zeros(2, N, H), ("hx[1]", "c_0", "c0")),
        (zeros(4, N, S), zeros(1, N, H), ("hx[1]", "c_0", "c0")),
        (zeros(4, N + 1, S), zeros(4, N, H), ("hx[0]", "h_0", "h0")),
        (zeros(4, N, S), zeros(4, N - 1, H), ("hx[1]", "c_0", "c0")),
        (zeros(4, N, S + 1), zeros(4, N, H), ("hx[0]", "h_0", "h0")),
        (zeros(4, N, S), zeros(4, N, H + 1), ("hx[1]", "c_0", "c0")),
        (None, zeros(2, N, H), ("hx[1]", "c_0", "c0")),
        (zeros(2, N, S), None, ("hx[0]", "h_0", "h0")),
    ]:
        with pytest.raises(ValueError, match=word(*names)):
            layer.forward(X, (h0, c0))
    if proj:  # the hidden state has P features, the cell state H
        with pytest.raises(ValueError, match=word("hx[0]", "h_0", "h0")):
            layer.forward(X, (zeros(4, N, H), zeros(4, N, H)))
        with pytest.raises(ValueError, match=word("hx[1]", "c_0", "c0")):
            layer.forward(X, (zeros(4, N, P), zeros(4, N, P)))
    for hx in [zeros(4, N, S), (zeros(4, N, S),), (zeros(4, N, S),) * 3]:
        with pytest.raises(TypeError, match=word("hx")):
            layer.forward(X, hx)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_stack_hx_dtype(kind):
    layer = stack(kind)
    h0 = np.zeros((4, N, H), np.float64)
    hx = (h0, zeros(4, N, H)) if kind == "LSTM" else h0
    with pytest.raises(TypeError, match=word("hx", "hx[0]", "h_0", "h0")):
        layer.forward(X, hx)


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
def test_stack_backward_dh_n_shape(kind):
    layer = stack(kind)
    y, h_n = layer.forward(X)
    for dh_n in [zeros(2, N, H), zeros(4, N, H + 1), zeros(4, N + 1, H)]:
        with pytest.raises(ValueError, match=word("dh_n")):
            layer.backward(np.zeros_like(y), dh_n)


@pytest.mark.parametrize("proj", [0, P])
def test_lstm_stack_backward_dh_n_shapes(proj):
    layer = stack("LSTM", proj=proj)
    S = proj or H
    y, _ = layer.forward(X)
    dy = np.zeros_like(y)
    for dh_n in [(zeros(2, N, S), None), (zeros(4, N, S + 1), zeros(4, N, H))]:
        with pytest.raises(ValueError, match=word("dh_n", "dh_n[0]")):
            layer.backward(dy, dh_n)
    for dh_n in [(None, zeros(2, N, H)), (zeros(4, N, S), zeros(4, N, S + 1))]:
        with pytest.raises(ValueError, match=word("dc_n", "dh_n[1]")):
            layer.backward(dy, dh_n)
    with pytest.raises(TypeError, match=word("dh_n")):
        layer.backward(dy, zeros(4, N, S))


def test_stack_backward_dy_shape_and_order_of_calls():
    layer = stack("GRU", L=2, bidirectional=True)
    with pytest.raises(RuntimeError):
        layer.backward(zeros(T, N, 2 * H))  # no forward yet
    y, _ = layer.forward(X)
    assert y.shape == (T, N, 2 * H)
    for dy in [zeros(T, N, H), zeros(T, N, 2 * H + 1), zeros(T + 1, N, 2 * H)]:
        with pytest.raises(ValueError, match=word("dy")):
            layer.backward(dy)
    fresh = stack("GRU", L=2, bidirectional=True)
    fresh.forward(X, training=False)
    with pytest.raises(RuntimeError):
        fresh.backward(np.zeros_like(y))  # an inference forward leaves nothing to backward


def test_stack_state_dict_bad():
    layer = stack("LSTM", proj=P)
    sd = layer.state_dict()
    for name in ["weight_ih_l1_reverse", "weight_hr_l1", "bias_hh_l0_reverse"]:
        missing = {k: v for k, v in sd.items() if k != name}
        with pytest.raises(ValueError, match=word(name)):
            layer.load_state_dict(missing)
    # layer 1 reads D*P features
    wrong = dict(sd, weight_ih_l1=np.zeros((4 * H, P), np.float32))
    with pytest.raises(ValueError, match=word("weight_ih_l1")):
        layer.load_state_dict(wrong)
    wrong = dict(sd, weight_hh_l0_reverse=np.zeros((4 * H, H), np.float32))
    with pytest.raises(ValueError, match=word("weight_hh_l0_reverse")):
        layer.load_state_dict(wrong)
    extra = dict(sd, weight_ih_l2=np.zeros((4 * H, 2 * P), np.float32))
    with pytest.raises(ValueError, match=word("weight_ih_l2")):
        layer.load_state_dict(extra)
    # a unidirectional state_dict into a bidirectional layer
    with pytest.raises(ValueError, match=word("weight_ih_l0_reverse")):
        layer.load_state_dict(stack("LSTM", bidirectional=False, proj=P).state_dict())
    # peephole weights into a layer without peepholes
    peep = fastrnn.LSTM(I_SIZE, H, 2, bidirectional=True, proj_size=P, peephole=True)
    with pytest.raises(ValueError, match=word("weight_ch_l0")):
        layer.load_state_dict(peep.state_dict())
    assert layer.params.keys() == sd.keys()  # failed loads left the layer alone
    for k, v in layer.params.items():
        np.testing.assert_array_equal(v, sd[k])


# ---------------------------------------------------------------------------------------------
# cells: inputs and states of the wrong shape or dtype


def cell_state(cls, *shape, dtype=np.float32):
    a = np.zeros(shape, dtype)
    return (a, a.copy()) if cls is fastrnn.LSTMCell else a


@pytest.mark.parametrize("method", ["step", "forward"])
@pytest.mark.parametrize("cls", CELLS, ids=ids)
def test_cell_bad_x(cls, method):
    cell = cls(I_SIZE, H, seed=0)
    run = getattr(cell, method)
    run(zeros(N, I_SIZE))  # the valid baseline
    for x in [zeros(N, I_SIZE + 1), zeros(I_SIZE - 1), zeros(1, N, I_SIZE), zeros(N, 0)]:
        with pytest.raises(ValueError, match=word("x")):
            run(x)
    for x in [np.zeros((N, I_SIZE)), np.zeros((N, I_SIZE), np.int32), "x"]:
        with pytest.raises(BAD, match=word("x")):
            run(x)


@pytest.mark.parametrize("method", ["step", "forward"])
@pytest.mark.parametrize("cls", [fastrnn.RNNCell, fastrnn.GRUCell], ids=ids)
def test_cell_bad_state(cls, method):
    cell = cls(I_SIZE, H, seed=0)
    run = getattr(cell, method)
    x = zeros(N, I_SIZE)
    run(x, zeros(N, H))
    for h in [zeros(N, H + 1), zeros(N + 1, H), zeros(H), zeros(1, N, H)]:
        with pytest.raises(ValueError, match=word("state", "h")):
            run(x, h)
    with pytest.raises(ValueError, match=word("state", "h")):
        run(x[0], zeros(N, H))  # unbatched x, batched state
    with pytest.raises(TypeError, match=word("state", "h")):
        run(x, (zeros(N, H),))
    with pytest.raises(TypeError, match=word("state", "h")):
        run(x, np.zeros((N, H)))  # float64 state, float32 cell


@pytest.mark.parametrize("method", ["step", "forward"])
def test_lstm_cell_bad_state(method):
    cell = fastrnn.LSTMCell(I_SIZE, H, seed=0)
    run = getattr(cell, method)
    x = zeros(N, I_SIZE)
    run(x, (zeros(N, H), zeros(N, H)))
    for h, c, names in [
        (zeros(N, H + 1), zeros(N, H), ("state[0]", "h")),
        (zeros(N + 1, H), zeros(N, H), ("state[0]", "h")),
        (zeros(N, H), zeros(N, H - 1), ("state[1]", "c")),
        (zeros(N, H), zeros(N + 1, H), ("state[1]", "c")),
        (zeros(N, H), zeros(H), ("state[1]", "c")),
        (None, zeros(1, H), ("state[1]", "c")),
    ]:
        with pytest.raises(ValueError, match=word(*names)):
            run(x, (h, c))
    for state in [zeros(N, H), (zeros(N, H),), (zeros(N, H),) * 3]:
        with pytest.raises(TypeError, match=word("state")):
            run(x, state)
    with pytest.raises(TypeError, match=word("state[1]", "c")):
        run(x, (zeros(N, H), np.zeros((N, H))))


@pytest.mark.parametrize("cls", CELLS, ids=ids)
def test_cell_backward_bad_dstate(cls):
    cell = cls(I_SIZE, H, seed=0)
    with pytest.raises(RuntimeError):
        cell.backward(cell_state(cls, N, H))  # empty tape
    cell.forward(zeros(N, I_SIZE))
    bad = [cell_state(cls, N, H + 1), cell_state(cls, N + 1, H), cell_state(cls, H)]
    for dstate in bad:
        with pytest.raises(ValueError, match=word("dstate")):
            cell.backward(dstate)
    with pytest.raises(BAD, match=word("dstate")):
        cell.backward(cell_state(cls, N, H, dtype=np.float64))
    if cls is fastrnn.LSTMCell:
        with pytest.raises(TypeError, match=word("dstate")):
            cell.backward(zeros(N, H))
    # failed calls popped nothing: the step is still there to backward
    dx, _ = cell.backward(cell_state(cls, N, H))
    assert dx.shape == (N, I_SIZE)


@pytest.mark.parametrize("cls", CELLS, ids=ids)
def test_cell_load_state_dict_bad(cls):
    cell = cls(I_SIZE, H, seed=0)
    sd = cell.state_dict()
    G = sd["weight_ih"].shape[0] // H
    with pytest.raises(ValueError, match=word("weight_hh")):
        cell.load_state_dict({k: v for k, v in sd.items() if k != "weight_hh"})
    with pytest.raises(ValueError, match=word("weight_hh")):
        cell.load_state_dict(dict(sd, weight_hh=np.zeros((G * H, H + 1), np.float32)))
    with pytest.raises(ValueError, match=word("weight_ih_l0")):  # a layer's names
        cell.load_state_dict({k + "_l0": v for k, v in sd.items()})
    with pytest.raises(TypeError, match=word("bias_ih")):
        cell.load_state_dict(dict(sd, bias_ih=np.zeros(G * H, np.int64)))


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: fastrnn.LSTM(3, 4, seed=seed),
        lambda seed: fastrnn.GRUCell(3, 4, seed=seed),
        lambda seed: fastrnn.nn.Linear(3, 4, seed=seed),
        lambda seed: fastrnn.nn.Embedding(3, 4, seed=seed),
        lambda seed: fastrnn.nn.Dropout(0.5, seed=seed),
    ],
)
def test_seed_is_none_or_a_non_negative_int(make):
    make(None)
    make(np.int64(7))
    with pytest.raises(ValueError, match="seed: expected None or an int >= 0, got -1"):
        make(-1)
    with pytest.raises(TypeError, match="seed: expected None or an int >= 0, got float"):
        make(1.5)
    with pytest.raises(TypeError, match="seed: expected None or an int >= 0, got str"):
        make("a")
