"""float32 cells far in the saturated range, beside test_activation_saturation.py: pre-activations
of ±44 and beyond once made the fast float32 tanh/sigmoid return NaN (a bit-trick reciprocal
estimate, since replaced by a division, was invalid above ~1.6e38). Here: every mode including
the tanh RNN, both signs, training and inference forward, backward, and the step cells'
single-call path, each against float64."""

import fastrnn
import numpy as np
import pytest

LAYERS = {"rnn_tanh": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}
CELLS = {"rnn_tanh": fastrnn.RNNCell, "lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell}


def _saturated(module, bias: float, seed: int = 0):
    """Sets every bias to `bias` plus noise and scales the weights up, so that gate
    pre-activations reach |bias| and more."""
    rng = np.random.default_rng(seed)
    for name, p in module.params.items():
        if name.startswith("bias"):
            p[:] = bias + rng.uniform(-5, 5, p.shape)
        else:
            p[:] = rng.uniform(-3, 3, p.shape)


@pytest.mark.parametrize("mode", LAYERS)
@pytest.mark.parametrize("bias", [-1e4, -100.0, -45.0, 45.0, 100.0, 1e4])
def test_float32_layer_matches_float64_when_saturated(mode, bias):
    x = np.random.default_rng(1).uniform(-3, 3, (6, 5, 4))  # [T, N, I]
    layers = [LAYERS[mode](4, 24, dtype=dt) for dt in (np.float32, np.float64)]
    _saturated(layers[1], bias)
    layers[0].load_state_dict(layers[1].state_dict())
    for training in (False, True):
        y32, _ = layers[0].forward(x.astype(np.float32), training=training)
        y64, _ = layers[1].forward(x, training=training)
        assert np.isfinite(y32).all()
        np.testing.assert_allclose(y32, y64, atol=1e-4)
    dx32, _ = layers[0].backward(np.ones_like(y32))
    dx64, _ = layers[1].backward(np.ones_like(y64))
    assert np.isfinite(dx32).all()
    np.testing.assert_allclose(dx32, dx64, atol=1e-3 * max(1.0, np.abs(dx64).max()))


@pytest.mark.parametrize("mode", CELLS)
@pytest.mark.parametrize("bias", [-100.0, 100.0])
def test_float32_cell_step_matches_float64_when_saturated(mode, bias):
    x = np.random.default_rng(2).uniform(-3, 3, (5, 4))  # [N, I]
    cells = [CELLS[mode](4, 24, dtype=dt) for dt in (np.float32, np.float64)]
    _saturated(cells[1], bias)
    cells[0].load_state_dict(cells[1].state_dict())
    s32 = cells[0].step(x.astype(np.float32))
    s64 = cells[1].step(x)
    for a, b in zip(np.atleast_3d(s32), np.atleast_3d(s64), strict=True):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, atol=1e-4)
