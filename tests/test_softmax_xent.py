"""Tests of the fused softmax cross-entropy (fastrnn.nn.SoftmaxCrossEntropy, C++ forward and
backward): against a numpy reference (float64), finite differences (float64), and
torch.nn.functional.cross_entropy (values and gradients, ignore_index, mean/sum, float32 and
float64); masks, large logits, thread-count independence, several Python threads, bad input."""

import threading

import fastrnn
import numpy as np
import pytest
import torch
from fastrnn.nn import SoftmaxCrossEntropy

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-4, np.float64: 1e-10}


def reference(logits, targets, counted, reduction):
    """Plain numpy: (loss, dlogits) in float64."""
    x = logits.astype(np.float64).reshape(-1, logits.shape[-1])
    t, c = targets.reshape(-1), counted.reshape(-1)
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.flatnonzero(c)
    total = -logp[rows, t[rows]].sum()
    scale = 1.0 / len(rows) if reduction == "mean" else 1.0
    d = np.exp(logp)
    d[rows, t[rows]] -= 1.0
    d[~c] = 0.0
    return total * scale, (d * scale).reshape(logits.shape)


def make(shape, V, dtype, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal((*shape, V))).astype(dtype)
    targets = rng.integers(0, V, shape)
    return logits, targets


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_numpy_reference_with_ignore_and_mask(dtype, reduction):
    logits, targets = make((7, 5), 11, dtype)
    targets[0, :2] = -100
    mask = np.random.default_rng(1).random((7, 5)) < 0.8
    loss_fn = SoftmaxCrossEntropy(reduction=reduction)
    loss = loss_fn(logits, targets, mask)
    d = loss_fn.backward()
    counted = mask & (targets != -100)
    ref_loss, ref_d = reference(logits, targets, counted, reduction)
    assert loss_fn.count == counted.sum()
    np.testing.assert_allclose(loss, ref_loss, rtol=TOL[dtype])
    assert d.dtype == dtype and d.shape == logits.shape
    np.testing.assert_allclose(d, ref_d, rtol=TOL[dtype], atol=TOL[dtype] * 1e-2)


def test_finite_differences_float64():
    logits, targets = make((6,), 5, np.float64, seed=3)
    targets[2] = 7  # the ignore index below
    loss_fn = SoftmaxCrossEntropy(ignore_index=7)
    loss_fn(logits, targets)
    d = loss_fn.backward(2.5)
    eps = 1e-6
    num = np.zeros_like(logits)
    for i in np.ndindex(logits.shape):
        plus, minus = logits.copy(), logits.copy()
        plus[i] += eps
        minus[i] -= eps
        num[i] = 2.5 * (loss_fn(plus, targets) - loss_fn(minus, targets)) / (2 * eps)
    np.testing.assert_allclose(d, num, rtol=1e-6, atol=1e-8)
    assert np.all(d[2] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_matches_torch_cross_entropy(dtype, reduction):
    logits, targets = make((40,), 65, dtype, seed=5)
    targets[::7] = 3  # ignore_index=3 is also a valid class id: those rows must not count
    loss_fn = SoftmaxCrossEntropy(ignore_index=3, reduction=reduction)
    loss = loss_fn(logits, targets)
    d = loss_fn.backward()
    t_logits = torch.from_numpy(logits).requires_grad_()
    t_loss = torch.nn.functional.cross_entropy(
        t_logits, torch.from_numpy(targets), ignore_index=3, reduction=reduction
    )
    t_loss.backward()
    np.testing.assert_allclose(loss, t_loss.item(), rtol=TOL[dtype])
    np.testing.assert_allclose(d, t_logits.grad.numpy(), rtol=TOL[dtype], atol=TOL[dtype] * 1e-3)


def test_upstream_gradient_may_be_a_0d_array_or_tensor():
    logits, targets = make((6,), 5, np.float64, seed=2)
    loss_fn = SoftmaxCrossEntropy()
    loss_fn(logits, targets)
    expected = loss_fn.backward(0.5)
    for dloss in (
        np.array(0.5),
        np.float32(0.5),
        torch.tensor(0.5, dtype=torch.float64),
        torch.tensor(0.5, requires_grad=True),
    ):
        np.testing.assert_array_equal(loss_fn.backward(dloss), expected)
    with pytest.raises(
        TypeError, match=r"dloss: expected a float or a 0-d real array, got shape \(2,\)"
    ):
        loss_fn.backward(np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match="dloss: expected a float or a 0-d array, got str"):
        loss_fn.backward("0.5")


def test_large_logits_are_stable():
    logits = np.array([[1000.0, 0.0, -1000.0], [-5e4, -5e4 + 1, -5e4]], np.float32)
    targets = np.array([0, 1])
    loss_fn = SoftmaxCrossEntropy(reduction="sum")
    loss = loss_fn(logits, targets)
    d = loss_fn.backward()
    ref = -np.log(np.exp(1) / (np.exp(1) + 2))
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    assert np.all(np.isfinite(d))


def test_all_ignored_gives_nan_mean_and_zero_gradient():
    logits, targets = make((4,), 3, np.float32)
    loss_fn = SoftmaxCrossEntropy()
    assert np.isnan(loss_fn(logits, targets, np.zeros(4, bool)))
    assert np.all(loss_fn.backward() == 0)
    assert SoftmaxCrossEntropy(reduction="sum")(logits, targets, np.zeros(4, bool)) == 0.0


def test_masked_rows_may_hold_any_target():
    logits, targets = make((4,), 3, np.float32)
    targets[1] = -1  # padding id, out of range but masked out
    mask = np.array([True, False, True, True])
    loss = SoftmaxCrossEntropy()(logits, targets, mask)
    assert np.isfinite(loss)


def test_result_does_not_depend_on_thread_count():
    logits, targets = make((3000,), 97, np.float32, seed=9)
    out = []
    old = fastrnn.get_num_threads()
    try:
        for n in (1, 2):
            fastrnn.set_num_threads(n)
            loss_fn = SoftmaxCrossEntropy()
            out.append((loss_fn(logits, targets), loss_fn.backward()))
    finally:
        fastrnn.set_num_threads(old)
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_several_python_threads():
    logits, targets = make((2000,), 50, np.float64, seed=2)
    expected = reference(logits, targets, np.ones(2000, bool), "mean")[0]
    results = []

    def work():
        for _ in range(5):
            results.append(SoftmaxCrossEntropy()(logits, targets))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 15
    np.testing.assert_allclose(results, expected, rtol=1e-12)


def test_bad_input():
    loss_fn = SoftmaxCrossEntropy()
    logits, targets = make((4,), 3, np.float32)
    with pytest.raises(ValueError, match=r"targets: expected class indices in \[0, 3\).*= 3"):
        loss_fn(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="targets.*-5"):
        loss_fn(logits, np.array([0, -5, 2, 1]))
    with pytest.raises(TypeError, match="targets: expected an integer array, got dtype float"):
        loss_fn(logits, targets.astype(np.float32))
    with pytest.raises(ValueError, match=r"targets: expected shape \(4,\)"):
        loss_fn(logits, targets[:3])
    with pytest.raises(TypeError, match="logits: expected dtype float32 or float64, got int64"):
        loss_fn(targets[:, None], targets)
    with pytest.raises(TypeError, match="mask: expected dtype bool"):
        loss_fn(logits, targets, np.ones(4, np.int32))
    with pytest.raises(ValueError, match=r"mask: expected shape \(4,\)"):
        loss_fn(logits, targets, np.ones(5, bool))
    with pytest.raises(ValueError, match="reduction"):
        SoftmaxCrossEntropy(reduction="none")
    with pytest.raises(TypeError, match="ignore_index"):
        SoftmaxCrossEntropy(ignore_index=1.5)
    with pytest.raises(ValueError, match="ignore_index: expected an int64, got 2361183"):
        SoftmaxCrossEntropy(ignore_index=2**71)
    with pytest.raises(ValueError, match=r"logits: expected shape \[..., V\] with V >= 1"):
        loss_fn(np.zeros((3, 0), np.float32), np.zeros(3, np.int64))
    with pytest.raises(RuntimeError, match="call forward first"):
        SoftmaxCrossEntropy().backward()
    with pytest.raises(ValueError, match=r"logits: expected V >= 1"):
        fastrnn._C.softmax_xent_forward(
            np.zeros((2, 0), np.float32), np.zeros(2, np.int64), None, -100
        )
    with pytest.raises(ValueError, match="stats: expected shape"):
        fastrnn._C.softmax_xent_backward(
            logits, targets, None, np.zeros((4, 1), np.float32), -100, 1.0
        )
