"""Large, infinite and NaN pre-activations: float32's fast tanh and sigmoid saturate like the
float64 reference (they once returned NaN for |x| >= 44 and x < -87), and NaN propagates — on the
layer path, the one-step cell path and the generic kernels (FASTRNN_ISA=generic in a
subprocess)."""

import os
import subprocess
import sys

import fastrnn
import numpy as np
import pytest
from fastrnn import _C
from fastrnn import functional as F
from reference import reference_forward

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
VALUES = np.array([0.5, 30, 44, 50, 87, 88, 89, 100, 1e4, 1e30, np.inf, np.nan])
H = 17  # a partial 16-unit block too


def extreme_case(mode, dtype):
    """(y, expected) for steps whose pre-activations are ±VALUES (x = value, W_ih = ±1)."""
    G = GATES[mode]
    # [T=2, N, I=1]: two steps, so float32 on AVX-512 or AVX2 takes the fused time loop
    x = np.repeat(np.concatenate([VALUES, -VALUES])[None, :, None], 2, axis=0)
    sign = np.where(np.arange(G * H) % 2 == 0, 1.0, -1.0)[:, None]
    params = {"weight_ih": sign, "weight_hh": np.zeros((G * H, H))}
    y, _, _ = F.forward(
        mode, x.astype(dtype), {k: v.astype(dtype) for k, v in params.items()}, training=False
    )
    ry, _, _ = reference_forward(mode, x, params)
    return y, ry


def check(y, ry):
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ry))
    finite = ~np.isnan(ry)
    np.testing.assert_allclose(y[finite], ry[finite], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", sorted(GATES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturating_pre_activations_match_the_reference(mode, dtype):
    with np.errstate(invalid="ignore", over="ignore"):
        check(*extreme_case(mode, dtype))


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_step_cells_saturate_like_the_reference(mode):
    cls = {"lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell, "rnn_tanh": fastrnn.RNNCell}[mode]
    cell = cls(1, H, bias=False)
    G = GATES[mode]
    cell.params["weight_ih"] = np.where(np.arange(G * H) % 2 == 0, 1.0, -1.0)[:, None].astype(
        np.float32
    )
    cell.params["weight_hh"] = np.zeros((G * H, H), np.float32)
    x = np.concatenate([VALUES, -VALUES])[:, None].astype(np.float32)  # [N, 1]
    state = cell.step(x)
    h = state[0] if mode == "lstm" else state
    with np.errstate(invalid="ignore", over="ignore"):
        _, rstate, _ = reference_forward(mode, x[None].astype(np.float64), cell.params)
    check(h, rstate[0] if mode == "lstm" else rstate)


def test_generic_kernels_saturate_like_the_reference():
    code = (
        f"import sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "import numpy as np, fastrnn\n"
        "from test_extreme_values import GATES, check, extreme_case\n"
        "assert fastrnn._C.simd_level() == 'generic'\n"
        "with np.errstate(invalid='ignore', over='ignore'):\n"
        "    for mode in GATES:\n"
        "        check(*extreme_case(mode, np.float32))\n"
        "print('ok')\n"
    )
    env = dict(os.environ, FASTRNN_ISA="generic")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
    assert _C.simd_level() in ("avx512", "avx2", "generic")
