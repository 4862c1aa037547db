"""Tests that fastrnn.functional and the layers reject bad arguments (rank, shape, dtype,
mixed float32/float64, lengths, parameter keys and shapes, unknown mode, non-positive sizes)
with ValueError or TypeError whose message names the offending argument."""

import re

import fastrnn
import numpy as np
import pytest
from fastrnn import functional as F
from reference import make_params

T, N, I_SIZE, H, P = 5, 3, 4, 6, 2
BAD = (ValueError, TypeError)


def word(*names):
    """A regex matching any of the argument names as a whole word."""
    return "|".join(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9])" for n in names)


def problem(mode="lstm", dtype=np.float32, **kwargs):
    rng = np.random.default_rng(0)
    params = make_params(mode, I_SIZE, H, dtype=dtype, rng=rng, **kwargs)
    S = kwargs.get("proj") or H
    x = rng.standard_normal((T, N, I_SIZE)).astype(dtype)
    h0 = np.zeros((N, S), dtype)
    hx = (h0, np.zeros((N, H), dtype)) if mode == "lstm" else h0
    return x, params, hx


def test_valid_problem_runs():
    """The baseline that every bad case below perturbs is accepted."""
    for mode in ["rnn_tanh", "lstm", "gru"]:
        x, params, hx = problem(mode)
        y, _, ctx = F.forward(mode, x, params, hx, np.array([5, 1, 3]))
        F.backward(ctx, np.ones_like(y))


# ---------------------------------------------------------------------------------------------
# functional.forward


def test_unknown_mode():
    x, params, hx = problem("lstm")
    for mode in ["LSTM_", "rnn", "gru2", "", None, 3]:
        with pytest.raises(BAD, match=word("mode")):
            F.forward(mode, x, params)


@pytest.mark.parametrize("shape", [(T, N), (T * N * I_SIZE,), (1, T, N, I_SIZE), ()])
def test_x_wrong_rank(shape):
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("x")):
        F.forward("lstm", np.zeros(shape, np.float32), params)


@pytest.mark.parametrize("shape", [(T, N, I_SIZE + 1), (T, N, I_SIZE - 1)])
def test_x_wrong_shape(shape):
    _, params, _ = problem()
    with pytest.raises(BAD, match=word("x", "weight_ih")):
        F.forward("lstm", np.ones(shape, np.float32), params)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float16, np.complex64, np.bool_])
def test_x_wrong_dtype(dtype):
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("x")):
        F.forward("lstm", x.astype(dtype), params)


def test_x_not_an_array():
    _, params, _ = problem()
    with pytest.raises(BAD, match=word("x")):
        F.forward("lstm", "not an array", params)


@pytest.mark.parametrize("key", ["weight_ih", "weight_hh", "bias_ih", "weight_hr", "weight_ch"])
def test_param_dtype_differs_from_x(key):
    x, params, hx = problem(proj=P, peephole=True)
    params[key] = params[key].astype(np.float64)
    with pytest.raises(BAD, match=word(key, "params")):
        F.forward("lstm", x, params, hx)
    # and the other way round
    x64 = x.astype(np.float64)
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    params64[key] = params64[key].astype(np.float32)
    with pytest.raises(BAD, match=word(key, "params")):
        F.forward("lstm", x64, params64)


def test_param_int_dtype():
    x, params, _ = problem("gru")
    params["weight_hh"] = np.ones(params["weight_hh"].shape, np.int64)
    with pytest.raises(BAD, match=word("weight_hh", "params")):
        F.forward("gru", x, params)


@pytest.mark.parametrize("which", [0, 1])
def test_hx_dtype_differs_from_x(which):
    x, params, hx = problem("lstm")
    hx = tuple(a.astype(np.float64) if k == which else a for k, a in enumerate(hx))
    with pytest.raises(BAD, match=word("hx", "h0", "c0")):
        F.forward("lstm", x, params, hx)
    x, params, h0 = problem("gru")
    with pytest.raises(BAD, match=word("hx", "h0")):
        F.forward("gru", x, params, h0.astype(np.float64))


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("key", ["weight_ih", "weight_hh"])
def test_missing_required_param(mode, key):
    x, params, _ = problem(mode)
    del params[key]
    with pytest.raises(BAD, match=word(key)):
        F.forward(mode, x, params)


def test_params_not_a_dict():
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("params")):
        F.forward("lstm", x, list(params.values()))


# (mode, key, bad shape, names the message may use): when the bad shape only conflicts with
# another parameter's (H or S is read from one of them), naming either one is accepted
WRONG_SHAPES = [
    ("lstm", "weight_ih", (4 * H + 1, I_SIZE), ("weight_ih",)),
    ("lstm", "weight_ih", (4 * H,), ("weight_ih",)),
    ("lstm", "weight_ih", (4 * H, I_SIZE, 1), ("weight_ih",)),
    ("lstm", "weight_hh", (4 * H, H + 1), ("weight_hh", "weight_ih")),
    ("lstm", "weight_hh", (4 * H + 4, H), ("weight_hh", "weight_ih")),
    ("gru", "weight_hh", (3 * H, H - 1), ("weight_hh", "weight_ih")),
    ("rnn_tanh", "weight_hh", (H, H, 1), ("weight_hh",)),
    ("lstm", "bias_ih", (4 * H + 1,), ("bias_ih",)),
    ("lstm", "bias_hh", (4 * H, 1), ("bias_hh",)),
    ("gru", "bias_hh", (H,), ("bias_hh",)),
    ("rnn_relu", "bias_ih", (2 * H,), ("bias_ih",)),
]


@pytest.mark.parametrize("mode, key, shape, names", WRONG_SHAPES)
def test_wrong_param_shape(mode, key, shape, names):
    x, params, _ = problem(mode)
    params[key] = np.zeros(shape, np.float32)
    with pytest.raises(BAD, match=word(*names)):
        F.forward(mode, x, params)


@pytest.mark.parametrize(
    "key, shape, names",
    [
        ("weight_hr", (P, H + 1), ("weight_hr",)),
        ("weight_hr", (P,), ("weight_hr",)),
        ("weight_hr", (P + 1, H), ("weight_hr", "weight_hh")),  # weight_hh has P columns
        ("weight_ch", (4, H), ("weight_ch",)),
        ("weight_ch", (3, H + 1), ("weight_ch",)),
        ("weight_ch", (3 * H,), ("weight_ch",)),
    ],
)
def test_wrong_lstm_extra_param_shape(key, shape, names):
    x, params, hx = problem("lstm", proj=P, peephole=True)
    params[key] = np.zeros(shape, np.float32)
    with pytest.raises(BAD, match=word(*names)):
        F.forward("lstm", x, params)


@pytest.mark.parametrize(
    "mode, hx, names",
    [
        ("gru", np.zeros((N + 1, H), np.float32), ("hx", "h0")),
        ("gru", np.zeros((N, H + 1), np.float32), ("hx", "h0")),
        ("gru", np.zeros((1, N, H), np.float32), ("hx", "h0")),
        ("rnn_tanh", (np.zeros((N, H), np.float32),) * 2, ("hx", "h0")),
        ("lstm", np.zeros((N, H), np.float32), ("hx",)),
        ("lstm", (np.zeros((N, H), np.float32),), ("hx",)),
        ("lstm", (np.zeros((N, H + 1), np.float32), np.zeros((N, H), np.float32)), ("hx", "h0")),
        ("lstm", (np.zeros((N, H), np.float32), np.zeros((N + 1, H), np.float32)), ("hx", "c0")),
    ],
)
def test_wrong_hx(mode, hx, names):
    x, params, _ = problem(mode)
    with pytest.raises(BAD, match=word(*names)):
        F.forward(mode, x, params, hx)


def test_hx_with_projection_has_p_features():
    x, params, _ = problem("lstm", proj=P)
    hx = (np.zeros((N, H), np.float32), np.zeros((N, H), np.float32))  # h0 should be [N,P]
    with pytest.raises(BAD, match=word("hx", "h0")):
        F.forward("lstm", x, params, hx)


@pytest.mark.parametrize(
    "lengths",
    [
        np.array([T, 0, 1]),
        np.array([T + 1, 1, 1]),
        np.array([T, -1, 2]),
        np.array([T, 2]),
        np.array([T, 2, 1, 1]),
        np.array([[T, 2, 1]]),
        np.array(T),
        np.array([5.0, 2.0, 1.0]),
        np.array([4.5, 2, 1]),
        np.array(["5", "2", "1"]),
    ],
    ids=lambda a: repr(a.tolist()),
)
def test_bad_lengths(lengths):
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("lengths")):
        F.forward("lstm", x, params, None, lengths)


@pytest.mark.parametrize("lengths", [[T, [2], 1], [[T], [2, 1], [1]]], ids=["nested", "ragged"])
def test_lengths_numpy_cannot_convert_name_the_argument(lengths):
    # numpy's own ValueError ("inhomogeneous shape") would not say which argument was wrong
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("lengths")):
        F.forward("lstm", x, params, None, lengths)
    with pytest.raises(BAD, match=word("lengths")):
        fastrnn.LSTM(x.shape[2], 4).forward(x, None, lengths)


@pytest.mark.parametrize("clip", [-1.0, float("nan")])
def test_bad_cell_clip(clip):
    x, params, _ = problem()
    with pytest.raises(BAD, match=word("cell_clip")):
        F.forward("lstm", x, params, cell_clip=clip)


# ---------------------------------------------------------------------------------------------
# functional.backward


def forward_for_backward(mode):
    x, params, hx = problem(mode)
    y, state, ctx = F.forward(mode, x, params, hx)
    return y, state, ctx


@pytest.mark.parametrize("shape", [(T, N, H + 1), (T + 1, N, H), (T, N), (N, T, H, 1)])
def test_backward_wrong_dy_shape(shape):
    _, _, ctx = forward_for_backward("gru")
    with pytest.raises(BAD, match=word("dy")):
        F.backward(ctx, np.ones(shape, np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.float16])
def test_backward_wrong_dy_dtype(dtype):
    y, _, ctx = forward_for_backward("gru")
    with pytest.raises(BAD, match=word("dy")):
        F.backward(ctx, np.ones(y.shape, dtype))


def test_backward_wrong_dstate():
    y, state, ctx = forward_for_backward("gru")
    with pytest.raises(BAD, match=word("dstate", "dh_n")):
        F.backward(ctx, y, np.ones((N, H + 1), np.float32))
    with pytest.raises(BAD, match=word("dstate", "dh_n")):
        F.backward(ctx, y, state.astype(np.float64))
    y, (h, c), ctx = forward_for_backward("lstm")
    with pytest.raises(BAD, match=word("dstate", "dc_n")):
        F.backward(ctx, y, (h, np.ones((N + 1, H), np.float32)))
    with pytest.raises(BAD, match=word("dstate")):
        F.backward(ctx, y, h)  # lstm wants a tuple


@pytest.mark.parametrize("ctx", [None, "ctx", {}])
def test_backward_bad_ctx(ctx):
    with pytest.raises(BAD, match=word("ctx")):
        F.backward(ctx, np.ones((T, N, H), np.float32))


def test_backward_after_inference_forward():
    x, params, _ = problem("rnn_tanh")
    y, _, ctx = F.forward("rnn_tanh", x, params, training=False)
    assert ctx is None
    with pytest.raises(BAD, match=word("ctx")):
        F.backward(ctx, y)


# ---------------------------------------------------------------------------------------------
# layers


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
@pytest.mark.parametrize(
    "args, name",
    [
        ((0, H), "input_size"),
        ((-2, H), "input_size"),
        ((I_SIZE, 0), "hidden_size"),
        ((I_SIZE, -1), "hidden_size"),
    ],
)
def test_layer_non_positive_sizes(cls, args, name):
    with pytest.raises(BAD, match=word(name)):
        cls(*args)


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
def test_layer_non_integer_sizes(cls):
    with pytest.raises(BAD, match=word("input_size")):
        cls(2.5, H)
    with pytest.raises(BAD, match=word("hidden_size")):
        cls(I_SIZE, "6")


def test_layer_bad_options():
    with pytest.raises(BAD, match=word("proj_size")):
        fastrnn.LSTM(I_SIZE, H, proj_size=-1)
    with pytest.raises(BAD, match=word("nonlinearity")):
        fastrnn.RNN(I_SIZE, H, nonlinearity="sigmoid")
    with pytest.raises(BAD, match=word("dtype")):
        fastrnn.GRU(I_SIZE, H, dtype=np.int32)
    with pytest.raises(BAD, match=word("dtype")):
        fastrnn.GRU(I_SIZE, H, dtype=np.float16)
    with pytest.raises(BAD, match=word("cell_clip")):
        fastrnn.LSTM(I_SIZE, H, cell_clip=-0.5)


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
def test_layer_forward_bad_x(cls):
    layer = cls(I_SIZE, H, seed=0)
    with pytest.raises(BAD, match=word("x")):
        layer.forward(np.zeros((T, N), np.float32))
    with pytest.raises(BAD, match=word("x", "input_size")):
        layer.forward(np.zeros((T, N, I_SIZE + 1), np.float32))
    with pytest.raises(BAD, match=word("x")):
        layer.forward(np.zeros((T, N, I_SIZE), np.int64))


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.GRU])
def test_layer_forward_bad_hx(cls):
    layer = cls(I_SIZE, H, seed=0)
    x = np.zeros((T, N, I_SIZE), np.float32)
    for hx in [
        np.zeros((N, H), np.float32),
        np.zeros((1, N, H + 1), np.float32),
        np.zeros((2, N, H), np.float32),
    ]:
        with pytest.raises(BAD, match=word("hx", "h0")):
            layer.forward(x, hx)


def test_lstm_layer_forward_bad_hx():
    layer = fastrnn.LSTM(I_SIZE, H, seed=0)
    x = np.zeros((T, N, I_SIZE), np.float32)
    h0, c0 = np.zeros((1, N, H), np.float32), np.zeros((1, N, H), np.float32)
    for hx in [h0, (h0,), (h0, c0[:, :, 1:]), (h0[:, 1:], c0)]:
        with pytest.raises(BAD, match=word("hx", "h0", "c0")):
            layer.forward(x, hx)


@pytest.mark.parametrize("lengths", [np.array([T, 0, 1]), np.array([T, 1]), np.array([1.0, 2, 3])])
def test_layer_forward_bad_lengths(lengths):
    layer = fastrnn.GRU(I_SIZE, H, seed=0)
    with pytest.raises(BAD, match=word("lengths")):
        layer.forward(np.zeros((T, N, I_SIZE), np.float32), None, lengths)


def test_layer_batch_first_lengths_check_uses_batch_axis():
    layer = fastrnn.GRU(I_SIZE, H, batch_first=True, seed=0)
    x = np.zeros((N, T, I_SIZE), np.float32)
    layer.forward(x, None, np.array([T, 1, 2]))
    with pytest.raises(BAD, match=word("lengths")):
        layer.forward(x, None, np.array([T + 1, 1, 2]))


def test_layer_backward_bad_dy():
    layer = fastrnn.LSTM(I_SIZE, H, seed=0)
    y, _ = layer.forward(np.zeros((T, N, I_SIZE), np.float32))
    with pytest.raises(BAD, match=word("dy")):
        layer.backward(np.zeros((T, N, H + 1), np.float32))


def test_load_state_dict_bad():
    layer = fastrnn.LSTM(I_SIZE, H, seed=0)
    sd = layer.state_dict()
    missing = {k: v for k, v in sd.items() if k != "weight_hh_l0"}
    with pytest.raises((*BAD, KeyError), match=word("weight_hh_l0")):
        layer.load_state_dict(missing)
    wrong = dict(sd, bias_ih_l0=np.zeros(4 * H + 1, np.float32))
    with pytest.raises(BAD, match=word("bias_ih_l0")):
        layer.load_state_dict(wrong)
