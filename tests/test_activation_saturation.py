"""Saturating inputs: float32 LSTM and GRU layers whose pre-activations and cell states reach
|x| > 44 (where e^2x nears float32's largest value) must saturate tanh and sigmoid, not return
NaN. Found when a character LSTM's cell state grew past 44 in training."""

import fastrnn
import numpy as np
import pytest
import torch


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_large_pre_activations_saturate_like_torch(mode):
    T, N, I, H = 30, 3, 4, 8
    layer = getattr(fastrnn, mode)(I, H, seed=0)
    x = np.random.default_rng(0).choice([-1.0, 1.0], (T, N, I)).astype(np.float32) * 60.0
    for name in layer.params:  # all-positive weights push every pre-activation far out
        layer.params[name][...] = np.abs(layer.params[name])
    ref = getattr(torch.nn, mode)(I, H)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    y, _ = layer.forward(x)
    t_y, _ = ref(torch.from_numpy(x))
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, t_y.detach().numpy(), rtol=1e-4, atol=1e-5)
    dx, _ = layer.backward(np.ones_like(y))
    assert np.isfinite(dx).all()
    for g in layer.grads.values():
        assert np.isfinite(g).all()
