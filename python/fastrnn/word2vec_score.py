"""Word2Vec.score: gensim's log-probability of sentences under a hierarchical-softmax model.

The sentences are read here (each one's in-vocabulary words as ids) and scored by the C++ kernel
(_C.w2v_score: the model's `workers` threads, in jobs of `chunksize` sentences, GIL released).
A sentence's score is the sum, over its in-vocabulary words (the first 10000) whose Huffman path
is not empty, of log σ(±f) over the inner nodes of that word's path (+ for code 0), f the float32
dot of the node's syn1 row with the input: for skip-gram each other word within `window` (every
one, no shrinking) in turn, for CBOW their mean (cbow_mean=1) or sum. As in gensim, nodes whose
±f is saturated (|f| >= 6) add nothing, and log σ is read from gensim's table, so the scores are
gensim's: 1000 float32 values log σ(-6 + 0.012 k), looked up at k = int((x + 6) · 83) (gensim's
scale 1000 / 6 / 2 in integer arithmetic), not the exact log σ(x). Each score depends on its
sentence alone, so it does not depend on workers or chunksize. The sentences are read and scored
in batches, so memory does not grow with their number.
"""

from __future__ import annotations

import itertools

import numpy as np

from fastrnn import _C


def encode_sentences(index: dict, sentences, total_sentences: int):
    """The first total_sentences token lists as (ids [W] int32 of their in-vocabulary words,
    offsets [S+1] int64: sentence s is ids[offsets[s]:offsets[s+1]])."""
    ids: list = []
    offsets = [0]
    get = index.get
    for sentence in itertools.islice(sentences, total_sentences):  # reads no sentence beyond
        ids.extend(i for i in map(get, sentence) if i is not None)
        offsets.append(len(ids))
    return np.array(ids, dtype=np.int32), np.array(offsets, dtype=np.int64)


BATCH_SENTENCES = 10_000  # sentences read and scored at a time, so memory stays flat


def score_sentences(model, sentences, total_sentences: int, chunksize: int) -> np.ndarray:
    """Scores [min(len(sentences), total_sentences)] float32 of the first total_sentences token
    lists under the model (hs=1), read and scored BATCH_SENTENCES (or chunksize, if larger) at a
    time."""
    syn0 = np.ascontiguousarray(model.wv.vectors, dtype=np.float32)
    syn1 = np.ascontiguousarray(model.syn1, dtype=np.float32)
    code_offsets, codes, points = model._tree
    batch = max(BATCH_SENTENCES, min(chunksize, total_sentences))
    scores = []
    left = total_sentences
    while left > 0:
        ids, offsets = encode_sentences(model.wv.key_to_index, sentences, min(batch, left))
        if len(offsets) == 1:  # the sentences ended
            break
        left -= len(offsets) - 1
        scores.append(
            _C.w2v_score(
                syn0,
                syn1,
                code_offsets,
                codes,
                points,
                ids,
                offsets,
                window=model.window,
                sg=bool(model.sg),
                cbow_mean=bool(model.cbow_mean),
                workers=model.workers,
                chunksize=min(chunksize, batch),
            )
        )
    return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
