"""Hierarchical softmax (hs=1) in the C++ core: the Huffman tree's edge case, one skip-gram and one
CBOW update of the kernel against a numpy reference (float64, the kernels' sigmoid table), and
the trainer refusing hs off the CPU."""

import numpy as np
import pytest
from fastrnn import _C


def test_a_one_word_vocabulary_has_an_empty_path():
    offsets, codes, points = _C.w2v_huffman(np.array([7], dtype=np.int64))
    assert offsets.tolist() == [0, 0] and len(codes) == len(points) == 0


# ---- one update against a numpy reference ----

_TABLE = 4096  # the kernels' sigmoid: the centre of each of 4096 buckets over (-6, 6)
_SIGMOID = 1.0 / (1.0 + np.exp(-((np.arange(_TABLE + 1) + 0.5) * (12.0 / _TABLE) - 6.0)))


def _gradient(f, label, alpha):
    if not -6.0 < f < 6.0:
        return 0.0
    return (
        label - _SIGMOID[int((np.float32(f) + np.float32(6)) * np.float32(_TABLE / 12))]
    ) * alpha


def _log_loss(f, label):
    return 0.0 if not -6.0 < f < 6.0 else np.logaddexp(0.0, -f if label else f)


def _reference(sg, cbow_mean, words, syn0, syn1, tree, window, alpha):
    """The kernel's updates of one sentence, in float64: every position's context (all words
    within `window`) against the centre word's path; returns (syn0, syn1, loss)."""
    syn0, syn1 = syn0.astype(np.float64), syn1.astype(np.float64)
    offsets, codes, points = tree
    loss = 0.0
    for i, centre in enumerate(words):
        ctx = [
            words[j] for j in range(max(0, i - window), min(len(words), i + window + 1)) if j != i
        ]
        nodes = points[offsets[centre] : offsets[centre + 1]]
        labels = 1.0 - codes[offsets[centre] : offsets[centre + 1]]
        if sg:  # dX from Y before its update, Y from X before its update
            X, Y = syn0[ctx], syn1[nodes]
            S = X @ Y.T
            loss += sum(
                _log_loss(f, lab)
                for f, lab in zip(S.ravel(), np.tile(labels, len(ctx)), strict=True)
            )
            G = np.array(
                [
                    [_gradient(f, lab, alpha) for f, lab in zip(row, labels, strict=True)]
                    for row in S
                ]
            )
            np.add.at(syn1, nodes, G.T @ X)
            np.add.at(syn0, ctx, G @ Y)
        else:  # the nodes one after another, each adding to the error
            h = syn0[ctx].sum(0) / (len(ctx) if cbow_mean else 1)
            err = np.zeros_like(h)
            for node, lab in zip(nodes, labels, strict=True):
                f = h @ syn1[node]
                loss += _log_loss(f, lab)
                g = _gradient(f, lab, alpha)
                err += g * syn1[node]
                syn1[node] += g * h
            np.add.at(syn0, ctx, err / (1 if cbow_mean else len(ctx)))
    return syn0, syn1, loss


@pytest.mark.parametrize("sg, cbow_mean", [(1, 1), (0, 1), (0, 0)])
def test_one_sentence_update_matches_the_numpy_reference(sg, cbow_mean):
    rng = np.random.default_rng(3)
    V, E, window, alpha = 9, 12, 2, 0.05
    counts = rng.integers(1, 50, V).astype(np.int64)
    tree = _C.w2v_huffman(counts)
    syn0 = rng.uniform(-0.6, 0.6, (V, E)).astype(np.float32)
    syn1 = rng.uniform(-0.6, 0.6, (V, E)).astype(np.float32)
    words = np.array([3, 0, 5, 8, 1, 3, 7], dtype=np.int32)  # (a word twice)
    before = syn0.copy()
    want0, want1, want_loss = _reference(sg, cbow_mean, words, syn0, syn1, tree, window, alpha)
    trainer = _C.W2vTrainer(
        syn0, np.zeros_like(syn0), counts, np.full(V, 2**32 - 1, dtype=np.uint32),
        sg=bool(sg), window=window, negative=0, ns_exponent=0.75, cbow_mean=bool(cbow_mean),
        shrink_windows=False, compute_loss=True, alpha=alpha, min_alpha=alpha, workers=1,
        seed=1, hs=True, syn1=syn1, code_offsets=tree[0], codes=tree[1], points=tree[2],
    )  # fmt: skip
    trainer.start(len(words))
    trainer.train_ids(words, np.array([0, len(words)], dtype=np.int64), 0)
    assert np.abs(want0 - before).max() > 1e-2  # (the step moved them)
    np.testing.assert_allclose(syn0, want0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(syn1, want1, rtol=1e-4, atol=1e-6)
    assert trainer.loss == pytest.approx(want_loss, rel=1e-5)


def test_the_trainer_refuses_hs_off_the_cpu():
    V = 3
    counts = np.ones(V, dtype=np.int64)
    tree = _C.w2v_huffman(counts)
    syn = np.zeros((V, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="hs .* device 'emulated'"):
        _C.W2vTrainer(
            syn, syn.copy(), counts, np.zeros(V, np.uint32), sg=True, window=1, negative=0,
            ns_exponent=0.75, cbow_mean=True, shrink_windows=True, compute_loss=False,
            alpha=0.025, min_alpha=0.0001, workers=1, seed=1, device="emulated", hs=True,
            syn1=syn.copy(), code_offsets=tree[0], codes=tree[1], points=tree[2],
        )  # fmt: skip
