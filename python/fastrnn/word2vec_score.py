"""Word2Vec.score: gensim's log-probability of sentences under a hierarchical-softmax model.

A sentence's score is the sum, over its in-vocabulary words (the first 10000) whose Huffman path is
not empty, of log σ(±f) over the inner nodes of that word's path (+ for code 0), f the dot of the
node's syn1 row with the input: for skip-gram each other word within `window` (every one, no
shrinking) in turn, for CBOW their mean (cbow_mean=1) or sum. As in gensim, nodes whose ±f is
saturated (|f| >= 6) add nothing, and log σ is read from gensim's table, so the scores are
gensim's: 1000 float32 values log σ(-6 + 0.012 k), looked up at k = int((x + 6) · 83) (gensim's
scale 1000 / 6 / 2 in integer arithmetic), not the exact log σ(x).
"""

from __future__ import annotations

import itertools

import numpy as np

_MAX_WORDS = 10000  # gensim scores a sentence's first 10000 in-vocabulary words
_MAX_EXP = 6.0
_TABLE = 1000  # entries of gensim's log σ table
_CHUNK = 8192  # rows gathered at a time


def _log_sigmoid_table() -> np.ndarray:
    """gensim's table [1000] float32 of log σ at -6, -5.988, ..., 5.988, rounded as it rounds."""
    x = (np.arange(_TABLE, dtype=np.float32) / np.float32(_TABLE) * 2 - 1) * np.float32(_MAX_EXP)
    e = np.exp(x.astype(np.float64)).astype(np.float32)
    return np.log((e / (e + np.float32(1))).astype(np.float64)).astype(np.float32)


_LOG_SIGMOID = _log_sigmoid_table()


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """gensim's log σ(x) for x [n] float64 (see the module), saturated entries (|x| >= 6) as 0."""
    inside = np.abs(x) < _MAX_EXP
    out = np.zeros(len(x))
    out[inside] = _LOG_SIGMOID[((x[inside] + _MAX_EXP) * (_TABLE // 6 // 2)).astype(np.int64)]
    return out


def _paths(tree, ids: np.ndarray):
    """The nodes of the words ids [n]: (owner [m] position in ids, points [m], signs [m] float64
    +1 for code 0, -1 for code 1)."""
    offsets, codes, points = tree
    starts, lengths = offsets[ids], offsets[ids + 1] - offsets[ids]
    owner = np.repeat(np.arange(len(ids)), lengths)
    at = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    at += np.arange(len(owner))
    return owner, points[at], 1.0 - 2.0 * codes[at].astype(np.float64)


def _row_dots(A: np.ndarray, a_rows: np.ndarray, B: np.ndarray, b_rows: np.ndarray) -> np.ndarray:
    """[k] float64: the float32 dots of A[a_rows[i]] and B[b_rows[i]] (A, B [*, E]; a_rows,
    b_rows [k]), gathered _CHUNK rows at a time."""
    out = np.empty(len(a_rows))
    for s in range(0, len(a_rows), _CHUNK):
        x, y = A[a_rows[s : s + _CHUNK]], B[b_rows[s : s + _CHUNK]]
        out[s : s + _CHUNK] = np.einsum("ij,ij->i", x, y, dtype=np.float32)
    return out


def score_sentence(model, ids: np.ndarray) -> float:
    """The score of one sentence as in-vocabulary ids [n] (see the module)."""
    tree = model._tree
    ids = ids[np.diff(tree[0])[ids] > 0]  # words without a path take no part
    n = len(ids)
    if n == 0:
        return 0.0
    vectors, syn1, w = model.wv.vectors, model.syn1, min(model.window, n - 1)
    owner, points, signs = _paths(tree, ids)  # the nodes of each centre word
    total = 0.0
    if model.sg:  # each node of centre i with each context word j, 0 < |i - j| <= window
        for d in (*range(-w, 0), *range(1, w + 1)):
            j = owner + d
            valid = (j >= 0) & (j < n)
            f = _row_dots(vectors, ids[j[valid]], syn1, points[valid])
            total += _log_sigmoid(f * signs[valid]).sum()
        return float(total)
    # CBOW: the window's sum (or mean) of the other words' vectors, one per centre word
    sums = np.concatenate(([np.zeros(vectors.shape[1])], np.cumsum(vectors[ids], 0, np.float64)))
    lo, hi = np.maximum(np.arange(n) - w, 0), np.minimum(np.arange(n) + w + 1, n)
    h = sums[hi] - sums[lo] - vectors[ids]  # [n, E]
    if model.cbow_mean:
        h /= np.maximum(hi - lo - 1, 1)[:, None]
    f = _row_dots(h.astype(np.float32), owner, syn1, points)
    return float(_log_sigmoid(f * signs).sum())


def score_sentences(model, sentences, total_sentences: int) -> np.ndarray:
    """Scores [min(len(sentences), total_sentences)] float32 of the first total_sentences token
    lists."""
    scores = []
    index = model.wv.key_to_index
    for sentence in itertools.islice(sentences, total_sentences):  # reads no sentence beyond
        ids = np.array([index[t] for t in sentence if t in index][:_MAX_WORDS], dtype=np.int64)
        scores.append(score_sentence(model, ids))
    return np.array(scores, dtype=np.float32)
