"""Property-based tests (hypothesis) of the training-loop API beside the layers: fastrnn.nn's
Linear, SoftmaxCrossEntropy and Embedding, and word2vec's KeyedVectors lookups. For random shapes
(zero-sized leading axes included), memory layouts, dtypes, index arrays and NaN/Inf values,
every call either returns the float64 numpy reference's result or raises ValueError / TypeError
(KeyError for a word that is not in the vocabulary, as gensim) — never a crash or another answer.
Search effort: HYPOTHESIS_PROFILE (tests/conftest.py)."""

import fastrnn
import numpy as np
import pytest
from fastrnn import nn
from hypothesis import given
from hypothesis import strategies as st
from test_properties import LAYOUTS, relayout

FLOATS = [np.float32, np.float64]
OTHER_DTYPES = [np.float16, np.int32, np.int64, np.complex64, np.bool_, object]
TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-10, 1e-12)}


@given(
    lead=st.lists(st.integers(0, 4), min_size=0, max_size=2),
    sizes=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_numpy(lead, sizes, dtype, layout, bias, seed):
    I, O = sizes  # noqa: E741
    rng = np.random.default_rng(seed)
    layer = nn.Linear(I, O, bias=bias, dtype=dtype, seed=seed)
    x = rng.standard_normal((*lead, I)).astype(dtype)
    y = layer.forward(relayout(x, layout))
    w = layer.params["weight"].astype(np.float64)
    want = x.astype(np.float64) @ w.T + (layer.params["bias"] if bias else 0.0)
    assert y.shape == (*lead, O) and y.dtype == dtype
    np.testing.assert_allclose(y, want, *TOL[dtype])
    dy = rng.standard_normal((*lead, O)).astype(dtype)
    dx = layer.backward(relayout(dy, layout))
    np.testing.assert_allclose(dx, dy.astype(np.float64) @ w, *TOL[dtype])
    dw = dy.reshape(-1, O).astype(np.float64).T @ x.reshape(-1, I)
    np.testing.assert_allclose(layer.grads["weight"], dw, *TOL[dtype])


@given(dtype=st.sampled_from(OTHER_DTYPES), shape=st.sampled_from([(3, 2), (2,), (0, 2), (3, 5)]))
def test_linear_refuses_other_dtypes_and_shapes(dtype, shape):
    layer = nn.Linear(2, 3)
    x = np.zeros(shape, dtype=dtype)
    if dtype in FLOATS and shape[-1] == 2:
        layer.forward(x)  # accepted: nothing to refuse
        return
    with pytest.raises((TypeError, ValueError)):
        layer.forward(x)


def xent_reference(logits, targets, mask, ignore_index):
    """Mean cross-entropy in nats over the counted rows (float64) and its gradient."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    counted = targets != ignore_index
    if mask is not None:
        counted &= mask
    rows = np.flatnonzero(counted)
    loss = -np.log(p[rows, targets[rows]]).sum()
    grad = np.zeros_like(p)
    grad[rows] = p[rows]
    grad[rows, targets[rows]] -= 1.0
    n = len(rows)
    return (loss / n if n else np.nan), (grad / n if n else grad)


@given(
    M=st.integers(0, 6),
    V=st.integers(1, 7),
    dtype=st.sampled_from(FLOATS),
    layout=st.sampled_from(LAYOUTS),
    use_mask=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_softmax_cross_entropy_matches_numpy(M, V, dtype, layout, use_mask, seed):
    rng = np.random.default_rng(seed)
    logits = (3 * rng.standard_normal((M, V))).astype(dtype)
    targets = rng.integers(0, V, M)
    targets[rng.random(M) < 0.3] = -100
    mask = rng.random(M) < 0.7 if use_mask else None
    want, want_grad = xent_reference(logits, targets, mask, -100)
    loss_fn = nn.SoftmaxCrossEntropy()
    loss = loss_fn.forward(relayout(logits, layout), targets, mask)
    if np.isnan(want):
        assert np.isnan(loss)
    else:
        np.testing.assert_allclose(loss, want, *TOL[dtype])
    grad = loss_fn.backward()
    assert grad.shape == (M, V) and grad.dtype == dtype
    np.testing.assert_allclose(grad, want_grad, *TOL[dtype])


@given(
    bad=st.sampled_from(["target_high", "target_negative", "float_targets", "int_logits", "shape"])
)
def test_softmax_cross_entropy_refuses_bad_input(bad):
    logits, targets = np.zeros((4, 3), np.float32), np.array([0, 1, 2, 1])
    if bad == "target_high":
        targets[2] = 3
    elif bad == "target_negative":
        targets[0] = -2
    elif bad == "float_targets":
        targets = targets.astype(np.float64)
    elif bad == "int_logits":
        logits = logits.astype(np.int64)
    else:
        targets = targets[:3]
    with pytest.raises((TypeError, ValueError)):
        nn.SoftmaxCrossEntropy().forward(logits, targets)


@given(value=st.sampled_from([np.nan, np.inf, -np.inf]), row=st.integers(0, 2))
def test_softmax_cross_entropy_propagates_nan_and_inf(value, row):
    logits = np.zeros((3, 4), np.float32)
    logits[row, 1] = value
    loss_fn = nn.SoftmaxCrossEntropy(reduction="sum")
    loss = loss_fn.forward(logits, np.array([0, 0, 0]))
    grad = loss_fn.backward()
    others = [r for r in range(3) if r != row]
    assert np.all(np.isfinite(grad[others]))  # one bad row leaves the others alone
    if value == -np.inf:  # a class with zero probability: an exact, finite answer
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
    else:
        assert not np.isfinite(loss) or np.isnan(loss) or loss == np.inf


@given(
    ids=st.lists(st.integers(-3, 9), min_size=0, max_size=8),
    id_dtype=st.sampled_from([np.int64, np.int32, np.uint8, np.float64, np.bool_]),
    dtype=st.sampled_from(FLOATS),
)
def test_embedding_rows_or_clear_error(ids, id_dtype, dtype):
    V, E = 6, 3
    emb = nn.Embedding(V, E, dtype=dtype, seed=0)
    a = np.array(ids).astype(id_dtype) if ids else np.zeros(0, id_dtype)
    valid = a.dtype.kind in "iu" and bool(np.all((a >= 0) & (a < V)))
    if not valid:
        with pytest.raises((TypeError, ValueError)):
            emb.forward(a)
        return
    out = emb.forward(a)
    np.testing.assert_array_equal(out, emb.params["weight"][a.astype(np.int64)])
    dy = np.ones((len(a), E), dtype)
    emb.backward(dy)
    want = np.zeros((V, E))
    np.add.at(want, a.astype(np.int64), 1.0)  # repeated ids add up
    np.testing.assert_allclose(emb.grads["weight"].to_dense(V), want)


@pytest.fixture(scope="module")
def vectors():
    sentences = [[f"w{i % 7}", f"w{(3 * i) % 7}", f"w{(5 * i + 1) % 7}"] for i in range(200)]
    model = fastrnn.Word2Vec(sentences, vector_size=8, min_count=1, workers=1, seed=1, epochs=2)
    return model.wv


@given(
    key=st.one_of(
        st.sampled_from([f"w{i}" for i in range(9)]),
        st.integers(-10, 10),
        st.text(max_size=4),
        st.none(),
        st.floats(allow_nan=True),
    )
)
def test_keyed_vectors_lookup_or_clear_error(vectors, key):
    # gensim's KeyedVectors take a word or a position 0 <= i < len
    position = isinstance(key, int) and 0 <= key < len(vectors)
    try:
        v = vectors[key]
    except (KeyError, TypeError, ValueError):
        assert not (key in vectors.key_to_index if isinstance(key, str) else position)
        return
    if isinstance(key, str):
        np.testing.assert_array_equal(v, vectors.vectors[vectors.key_to_index[key]])
    else:
        assert position
        np.testing.assert_array_equal(v, vectors.vectors[key])
