"""Padded positions (t >= lengths[n]) give and get no gradient, whatever they hold: NaN or Inf in
the padded rows of x or dy must leave every output and gradient equal to the float64 reference
run with zeros there — for every mode, both directions, both dtypes, and on each CPU kernel path
(the fused float32 loop, and the generic path forced by FASTRNN_ISA in a subprocess; the AVX2 loop
in test_kernel_paths' AVX2 re-run)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from fastrnn import functional as F
from reference import assert_close, make_params, reference_backward, reference_forward

# mode, peephole, clip, reset_after, proj
VARIANTS = {
    "rnn_tanh": ("rnn_tanh", False, None, True, 0),
    "rnn_relu": ("rnn_relu", False, None, True, 0),
    "lstm": ("lstm", False, None, True, 0),
    "lstm_peephole_clip": ("lstm", True, 0.6, True, 0),
    "lstm_proj": ("lstm", False, None, True, 5),
    "gru": ("gru", False, None, True, 0),
    "gru_reset_before": ("gru", False, None, False, 0),
}
T, N, I, H = 7, 19, 13, 37


def padded_case(name, dtype, reverse, poison, seed=0):
    """(ours, reference) for one layer call whose padded rows of x and dy hold `poison`."""
    mode, peephole, clip, reset_after, proj = VARIANTS[name]
    rng = np.random.default_rng(seed)
    params = make_params(mode, I, H, proj=proj, peephole=peephole, rng=rng)
    S = proj or H
    x = rng.standard_normal((T, N, I))
    dy = rng.standard_normal((T, N, S))
    lengths = rng.integers(1, T, size=N)
    lengths[0] = T
    padded = np.arange(T)[:, None] >= lengths[None, :]  # [T,N]
    x[padded] = 0.0
    dy[padded] = 0.0
    x_bad, dy_bad = x.copy(), dy.copy()
    x_bad[padded] = poison
    dy_bad[padded] = poison
    cast = {k: v.astype(dtype) for k, v in params.items()}
    y, state, ctx = F.forward(
        mode,
        x_bad.astype(dtype),
        cast,
        None,
        lengths,
        reverse=reverse,
        reset_after=reset_after,
        cell_clip=clip,
    )
    dx, dhx, grads = F.backward(ctx, dy_bad.astype(dtype))
    ours = {"y": y, "state": state, "dx": dx, "dhx": dhx, "grads": grads}
    ry, rstate, cache = reference_forward(
        mode, x, params, None, lengths, reverse=reverse, reset_after=reset_after, cell_clip=clip
    )
    rdx, rdhx, rgrads = reference_backward(cache, dy)
    ref = {"y": ry, "state": rstate, "dx": rdx, "dhx": rdhx, "grads": rgrads}
    return ours, ref


def check(ours, ref, dtype, what):
    tol = (2e-4, 2e-5) if dtype == np.float32 else (1e-10, 1e-10)
    for key in ours:
        assert_close(ours[key], ref[key], *tol, what=f"{what} {key}")


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_in_padding_changes_nothing(name, reverse, dtype):
    ours, ref = padded_case(name, dtype, reverse, np.nan)
    check(ours, ref, dtype, name)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_inf_in_padding_changes_nothing(name):
    for poison in (np.inf, -np.inf):
        ours, ref = padded_case(name, np.float32, True, poison)
        check(ours, ref, np.float32, name)


_SUBPROCESS = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
import fastrnn
from test_padding_isolation import VARIANTS, check, padded_case
assert fastrnn._C.simd_level() == {isa!r}, fastrnn._C.simd_level()
for name in sorted(VARIANTS):
    for reverse in (False, True):
        for dtype in (np.float32, np.float64):
            ours, ref = padded_case(name, dtype, reverse, np.nan)
            check(ours, ref, dtype, name)
print("ok")
"""


def test_nan_in_padding_changes_nothing_on_the_generic_path():
    code = _SUBPROCESS.format(tests=os.path.dirname(__file__), isa="generic")
    env = dict(os.environ, FASTRNN_ISA="generic")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"


def test_nan_in_padding_of_a_stacked_bidirectional_layer():
    import fastrnn

    lstm = fastrnn.LSTM(I, H, num_layers=2, bidirectional=True, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, N, I))
    lengths = rng.integers(1, T + 1, size=N)
    padded = np.arange(T)[:, None] >= lengths[None, :]
    x[padded] = 0.0
    y, _ = lstm.forward(x, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    dy[padded] = 0.0
    lstm.backward(dy)
    clean = {k: v.copy() for k, v in lstm.grads.items()}
    lstm.zero_grad()
    x[padded] = np.nan
    dy[padded] = np.nan
    y2, _ = lstm.forward(x, lengths=lengths)
    lstm.backward(dy)
    assert np.array_equal(np.nan_to_num(y2, nan=7.0), y)
    for k, v in clean.items():
        assert np.all(np.isfinite(lstm.grads[k])), k
        np.testing.assert_allclose(lstm.grads[k], v, rtol=1e-12, atol=1e-12, err_msg=k)
