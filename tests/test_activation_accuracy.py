"""The float32 activations inside the layers, value by value: with W_ih set to stacked identities,
W_hh and the biases zero, every gate of unit j in row n sees the same pre-activation x[n, j], so
a layer's first output is a closed form of tanh and sigmoid of x (rnn_tanh: tanh x; GRU:
(1 - σx)·tanh x; LSTM: σx·tanh(σx·tanh x)). A dense grid over [-100, 100], the boundaries of the
approximations' pieces (sigmoid's zero below -80, tanh's polynomial below 0.625, its clamp at 10,
exp's range near ±88) and ±1e30 are checked against float64. (±inf and NaN cannot go through the
identity GEMM without spreading over the row, as 0·inf is NaN; test_properties.py has them.)
On AVX-512 machines this is the fused loop's register-wide activations (csrc/cpu/vec16_avx512.h),
on AVX2 ones those of csrc/cpu/vec8_avx2.h (also run under FASTRNN_ISA=avx2 by test_kernel_paths),
on others the scalar ones; H = 32 fills whole vectors, H = 21 leaves masked lanes."""

import fastrnn
import numpy as np
import pytest

GATES = {"rnn_tanh": 1, "gru": 3, "lstm": 4}
EDGES = [-80.0, 0.625, 10.0, 44.0, 87.3365, 88.3763, 100.0]


def _grid() -> np.ndarray:
    values = [np.linspace(-100.0, 100.0, 40001)]
    for e in EDGES:
        values.append(e * (1.0 + np.linspace(-1e-5, 1e-5, 41)))
        values.append(-e * (1.0 + np.linspace(-1e-5, 1e-5, 41)))
    values.append([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30])
    return np.concatenate(values).astype(np.float32)


def _expected(mode: str, x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        sig = 1.0 / (1.0 + np.exp(-x))
    if mode == "rnn_tanh":
        return np.tanh(x)
    if mode == "gru":
        return (1.0 - sig) * np.tanh(x)
    return sig * np.tanh(sig * np.tanh(x))


@pytest.mark.parametrize("H", [32, 21])
@pytest.mark.parametrize("mode", list(GATES))
def test_float32_activations_match_float64_everywhere(mode, H):
    grid = _grid()
    N = -(-grid.size // H)
    x0 = np.resize(grid, N * H).reshape(N, H)
    x = np.stack([x0, x0])  # [T=2, N, I=H]: two steps, so the layer takes its time loop
    layer = {"rnn_tanh": fastrnn.RNN, "gru": fastrnn.GRU, "lstm": fastrnn.LSTM}[mode](
        H, H, dtype=np.float32
    )
    for p in layer.params.values():
        p[...] = 0.0
    layer.params["weight_ih_l0"][...] = np.tile(np.eye(H, dtype=np.float32), (GATES[mode], 1))
    for training in (False, True):
        y, _ = layer.forward(x, training=training)
        want = _expected(mode, x0)
        got = y[0].astype(np.float64)
        err = np.abs(got - want)
        # GRU's 1 - σx cancels when σx nears 1: a few ulp of 1 (6e-8 each) in absolute terms.
        bound = 4e-7 * np.abs(want) + (3e-7 if mode == "gru" else 1e-7)
        worst = np.unravel_index(np.argmax(err - bound), err.shape)
        assert (err <= bound).all(), (
            f"{mode} H={H} training={training}: x={x0[worst]!r} gave {got[worst]!r}, "
            f"float64 says {want[worst]!r}"
        )
