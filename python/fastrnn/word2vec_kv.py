"""KeyedVectors: word vectors with gensim's lookup, similarity and evaluation interface.

`vectors` is [V, E] float32; `index_to_key[i]` names row i and `key_to_index` inverts it. Unit
norms are cached and refreshed after training (`fill_norms(force=True)`). Lookups may run while
a model trains in another thread: they read the shared array and never resize it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import operator
import warnings
from typing import NamedTuple

import numpy as np

from fastrnn._atomic import atomic_write
from fastrnn._compressed import naming_corruption, open_text
from fastrnn._npz import read_npz, write_npz
from fastrnn.nn._checks import int_at_least, real_number
from fastrnn.word2vec_format import (
    Word2VecFormatWarning,
    read_vocab_counts,
    read_word2vec,
    vocab_counts_written,
    write_word2vec,
)

_FORMAT = "fastrnn.keyedvectors"
_COSMUL_EPSILON = 1e-6  # gensim's: keeps 3CosMul finite when a negative term's shifted cosine is 0
_ANALOGY_BLOCK = 1 << 22  # scores per analogy batch: [quads, restrict_vocab] float32 of 16 MiB

logger = logging.getLogger(__name__)


def _is_key(x) -> bool:
    return isinstance(x, (str, int, np.integer))


def _ensure_list(x) -> list:
    """positive/negative-style arguments as a list: one key or vector [E] becomes a list of one,
    the rows of a [n, E] array become n vectors (as gensim)."""
    if x is None:
        return []
    if isinstance(x, np.ndarray) and x.ndim == 2:
        return list(x)
    if _is_key(x) or isinstance(x, np.ndarray):
        return [x]
    return list(x)


def _keys_arg(value, name: str) -> list:
    """A keys argument as a list: one key becomes [key], an iterable its items."""
    if _is_key(value):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(
            f"{name}: expected a key or an iterable of keys, got {type(value).__name__}"
        ) from None


def _as_topn(topn) -> int | None:
    """topn as gensim reads it: None (every score) or an int (< 1: an empty result)."""
    if topn is None:
        return None
    try:
        return operator.index(topn)
    except TypeError:
        raise TypeError(f"topn: expected an int or None, got {type(topn).__name__}") from None


def _descending_stable(values: np.ndarray) -> np.ndarray:
    """The rows of values [n] by descending value, equal values in row order."""
    n = len(values)
    return (n - 1 - np.argsort(values[::-1], kind="stable"))[::-1]


def _top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """The rows of the k highest scores ([<= k]), best first; equal scores in row order."""
    n = len(scores)
    if k < n:
        kth_highest = np.partition(scores, n - k)[n - k]
        rows = np.flatnonzero(scores >= kth_highest)
    else:
        rows = np.arange(n)
    return rows[np.argsort(-scores[rows], kind="stable")][:k]


def _cosmul(positive_cos: np.ndarray, negative_cos: np.ndarray) -> np.ndarray:
    """3CosMul (Levy & Goldberg 2014) from cosines with the terms on axis 1 ([n, P, ...] and
    [n, N, ...]): the product of the positives' (1 + cos) / 2 over the negatives' product + 1e-6."""
    numerator = np.prod((1 + positive_cos) / 2, axis=1)
    return numerator / (np.prod((1 + negative_cos) / 2, axis=1) + _COSMUL_EPSILON)


def _analogy_3cosadd(normed: np.ndarray, abc: np.ndarray) -> np.ndarray:
    """3CosAdd scores [B, R]: the cosine of each unit row of normed [R, E] with b + c - a, for
    the rows abc [B, 3] (a, b, c) of B questions."""
    target = normed[abc[:, 1]] + normed[abc[:, 2]] - normed[abc[:, 0]]
    target /= 3.0
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    return target @ normed.T


def _analogy_3cosmul(normed: np.ndarray, abc: np.ndarray) -> np.ndarray:
    """3CosMul scores [B, R] of each unit row of normed [R, E] for the rows abc [B, 3] (a, b, c)
    of B questions: b and c positive, a negative."""
    cos = (normed[abc.ravel()] @ normed.T).reshape(len(abc), 3, len(normed))  # [B, (a, b, c), R]
    return _cosmul(cos[:, 1:], cos[:, :1])


_ANALOGY_SCORES = {"most_similar": _analogy_3cosadd, "most_similar_cosmul": _analogy_3cosmul}


def _unitvec(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _rank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties averaged (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    xs = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


class CorrelationResult(NamedTuple):
    """A correlation and its p-value; unpacks as (statistic, pvalue), as scipy's results do."""

    statistic: float
    pvalue: float


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else float("nan")


class KeyedVectors:
    """Vectors addressed by string keys (gensim's KeyedVectors interface)."""

    def __init__(self, vector_size: int, count: int = 0, dtype=np.float32):
        if int(vector_size) < 1:
            raise ValueError(f"vector_size: expected a positive size, got {vector_size}")
        if int(count) < 0:
            raise ValueError(f"count: expected >= 0, got {count}")
        self.vector_size = int(vector_size)
        self.index_to_key: list = [None] * int(count)
        self.key_to_index: dict = {}
        self.vectors = np.zeros((int(count), self.vector_size), dtype=dtype)
        self.norms: np.ndarray | None = None
        self.expandos: dict = {}
        self._next_slot = 0  # add_vector fills the empty rows of KeyedVectors(E, count) in order
        # gensim's lock factors: Word2Vec scales each word's input-vector updates by its factor
        # (0: frozen); [1] one factor for all, or [V] one per row (intersect_word2vec_format)
        self.vectors_lockf = np.ones(1, dtype=np.float32)

    # gensim 3's names, which gensim 4 refuses with a pointer to the new ones: the same here
    @property
    def vocab(self):
        raise AttributeError(
            "KeyedVectors has no vocab (gensim 4's interface): use key_to_index, index_to_key, "
            "get_vecattr(key, 'count') and set_vecattr(key, attr, value)"
        )

    @property
    def index2word(self):
        raise AttributeError("index2word is gensim 3's name: use index_to_key")

    index2entity = index2word

    @property
    def vectors_norm(self):
        raise AttributeError("vectors_norm is gensim 3's: use get_normed_vectors()")

    # ---- lookup ----

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, key) -> bool:
        return self.has_index_for(key)

    def has_index_for(self, key) -> bool:
        return self.get_index(key, -1) >= 0

    def get_index(self, key, default=None) -> int:
        """The row of `key`; an int key is a row number. KeyError naming it when absent."""
        val = self.key_to_index.get(key, -1) if isinstance(key, str) else -1
        if val >= 0:
            return val
        if isinstance(key, (int, np.integer)) and 0 <= key < len(self.index_to_key):
            return int(key)
        if default is not None:
            return default
        raise KeyError(f"Key '{key}' not present")

    def get_vector(self, key, norm: bool = False) -> np.ndarray:
        index = self.get_index(key)
        if norm:
            self.fill_norms()
            return self.vectors[index] / self.norms[index]
        return self.vectors[index]

    def __getitem__(self, key_or_keys):
        if _is_key(key_or_keys):
            return self.get_vector(key_or_keys)
        return np.vstack([self.get_vector(k) for k in key_or_keys])

    word_vec = get_vector

    def __setitem__(self, keys, weights) -> None:
        """kv[key] = vector [E], or kv[[keys]] = vectors [n, E]: adds the keys, replacing the
        vectors of those present (gensim's add_vectors(..., replace=True))."""
        if not isinstance(keys, list):
            keys = [keys]
            weights = np.asarray(weights).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    def add_vector(self, key, vector) -> int:
        """Adds one key with its vector [E] and returns its row: the next row KeyedVectors(E,
        count) left without a key, else a new last row (which copies the table: add many keys at
        once with add_vectors). A key already present keeps its vector and row."""
        if not isinstance(key, str):
            raise TypeError(f"key: expected a str, got {type(key).__name__}")
        vector = np.asarray(vector, dtype=self.vectors.dtype)
        if vector.shape != (self.vector_size,):
            raise ValueError(f"vector: expected shape ({self.vector_size},), got {vector.shape}")
        if key in self.key_to_index:
            return self.key_to_index[key]
        row = getattr(self, "_next_slot", 0)  # (absent in objects pickled before it existed)
        while row < len(self) and self.index_to_key[row] is not None:
            row += 1
        if row == len(self):
            self.add_vectors([key], vector[None])
        else:
            self.index_to_key[row] = key
            self.key_to_index[key] = row
            self.vectors[row] = vector
            self.norms = None
        self._next_slot = row + 1
        return row

    def vectors_for_all(self, keys, allow_inference: bool = True, copy_vecattrs: bool = False):
        """A new KeyedVectors with (copies of) the vectors of the given keys that are present,
        each once, in the order given (allow_inference is for gensim's FastText: word vectors
        infer nothing); copy_vecattrs copies their vecattrs too."""
        wanted = list(dict.fromkeys(k for k in _keys_arg(keys, "keys") if self.has_index_for(k)))
        rows = [self.get_index(k) for k in wanted]
        result = KeyedVectors(self.vector_size, dtype=self.vectors.dtype)
        # a made-up 'count' counting down from len(wanted), as gensim's (copy_vecattrs: the real)
        made_up = len(wanted) - np.arange(len(wanted), dtype=np.int64)
        result._set(wanted, self.vectors[rows].copy(), made_up)
        if copy_vecattrs:
            result.expandos.update(
                {attr: values[rows].copy() for attr, values in self.expandos.items()}
            )
        return result

    def get_vecattr(self, key, attr: str):
        return self.expandos[attr][self.get_index(key)]

    def set_vecattr(self, key, attr: str, val) -> None:
        """Sets key's value of the attribute `attr`, a number; a new attribute's array takes the
        value's dtype (int64 for an int, float64 for a float), as gensim's, so a float is not cut
        to an int; a float into an integer attribute is a TypeError (as gensim)."""
        index = self.get_index(key)
        value = np.asarray(val)
        if value.ndim != 0 or value.dtype.kind not in "biuf":
            raise TypeError(f"val: expected a number, got {type(val).__name__}")
        values = self.expandos.get(attr)
        if values is None:
            values = self.expandos[attr] = np.zeros(len(self), dtype=value.dtype)
        elif value.dtype.kind == "f" and values.dtype.kind in "biu":
            raise TypeError(
                f"val: {attr!r} holds {values.dtype} values, got the float {val!r} (it would be "
                "cut to an int)"
            )
        values[index] = value

    def add_vectors(self, keys, weights, extras=None, replace: bool = False) -> None:
        """Appends new keys with their vectors ([n, E]); as gensim, a key already present keeps
        its vector unless replace=True (a key given twice: the first, or with replace the last).
        `extras`: {attribute: [n] values} for set_vecattr. Everything is checked before anything
        changes."""
        weights = np.asarray(weights, dtype=self.vectors.dtype)
        if isinstance(keys, str):  # one key: any array of E numbers (as gensim)
            keys, weights = [keys], weights.reshape(1, -1)
        else:
            keys = list(keys)
        if weights.shape != (len(keys), self.vector_size) and weights.size + len(keys) > 0:
            raise ValueError(
                f"weights: expected shape ({len(keys)}, {self.vector_size}) for {len(keys)} "
                f"keys, got {weights.shape}"
            )
        weights = weights.reshape(len(keys), self.vector_size)
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"keys: expected str, got {type(k).__name__}")
        extras = {attr: list(values) for attr, values in (extras or {}).items()}
        for attr, values in extras.items():
            if len(values) != len(keys):
                raise ValueError(
                    f"extras[{attr!r}]: expected {len(keys)} values, got {len(values)}"
                )
        new_at: dict = {}  # new key -> its position in keys
        for i, k in enumerate(keys):
            if k in self.key_to_index:
                if replace:
                    self.vectors[self.key_to_index[k]] = weights[i]
            elif replace or k not in new_at:
                new_at[k] = i
        if new_at:
            start = len(self.index_to_key)
            self.vectors = np.vstack([self.vectors, weights[list(new_at.values())]])
            for offset, k in enumerate(new_at):
                self.index_to_key.append(k)
                self.key_to_index[k] = start + offset
            for attr, arr in self.expandos.items():
                self.expandos[attr] = np.concatenate([arr, np.zeros(len(new_at), dtype=arr.dtype)])
            # per-row factors: new rows train freely (np.shape: a list or a number assigned by
            # the user is left for train() to name)
            if np.shape(self.vectors_lockf) == (start,) and start > 1:
                extra = np.ones(len(new_at), dtype=np.float32)
                self.vectors_lockf = np.concatenate([self.vectors_lockf, extra])
        for attr, values in extras.items():
            for i, (k, v) in enumerate(zip(keys, values, strict=True)):
                if replace or new_at.get(k) == i:
                    self.set_vecattr(k, attr, v)
        self.norms = None

    # ---- similarity ----

    def fill_norms(self, force: bool = False) -> None:
        if self.norms is None or force or len(self.norms) != len(self.vectors):
            self.norms = np.linalg.norm(self.vectors, axis=1)

    def get_normed_vectors(self) -> np.ndarray:
        self.fill_norms()
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.vectors / self.norms[:, None]

    def get_mean_vector(
        self, keys, weights=None, pre_normalize=True, post_normalize=False, ignore_missing=True
    ) -> np.ndarray:
        """The weighted mean of keys' vectors (unit length with pre_normalize) and of vectors
        given as keys, as gensim: [E] float32 with post_normalize (unit length), else in the
        vectors' dtype."""
        keys = _ensure_list(keys)
        if not keys:
            raise ValueError("cannot compute the mean of an empty list of keys")
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(keys),):
            raise ValueError(
                f"weights: expected one weight per key, shape ({len(keys)},), got {weights.shape}"
            )
        mean = np.zeros(self.vector_size, dtype=np.float64)
        total = 0.0
        for w, key in zip(weights, keys, strict=True):
            if isinstance(key, np.ndarray):
                mean += w * key
                total += abs(w)
            elif key in self:
                mean += w * self.get_vector(key, norm=pre_normalize)
                total += abs(w)
            elif not ignore_missing:
                raise KeyError(f"Key '{key}' not present in vocabulary")
        if total > 0:
            mean /= total
        if post_normalize:
            return _unitvec(mean).astype(np.float32)
        return mean.astype(self.vectors.dtype)  # as gensim: the vectors' dtype

    def most_similar(
        self,
        positive=None,
        negative=None,
        topn: int | None = 10,
        clip_start: int = 0,
        clip_end: int | None = None,
        restrict_vocab: int | None = None,
        indexer=None,
    ):
        """The topn keys nearest by cosine to the mean of positive minus negative keys/vectors.

        Items may be keys, vectors or (key, weight) pairs. topn=None returns all similarities.
        """
        topn = _as_topn(topn)
        if topn is not None and topn < 1:
            return []
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        if not positive and not negative:
            raise ValueError("cannot compute similarity with no input")
        self.fill_norms()
        clip_end = clip_end or len(self.vectors)
        if restrict_vocab:
            clip_start, clip_end = 0, restrict_vocab
        keys = []
        weight = np.concatenate((np.ones(len(positive)), -np.ones(len(negative))))
        for i, item in enumerate(positive + negative):
            if _is_key(item) or isinstance(item, np.ndarray):
                keys.append(item)
            else:
                keys.append(item[0])
                weight[i] = item[1]
        mean = self.get_mean_vector(
            keys, weight, pre_normalize=True, post_normalize=True, ignore_missing=False
        )
        if indexer is not None and topn is not None:  # as gensim: the indexer answers
            return indexer.most_similar(mean, topn)
        exclude = {self.get_index(k) for k in keys if _is_key(k) and self.has_index_for(k)}
        with np.errstate(invalid="ignore", divide="ignore"):
            dists = (self.vectors[clip_start:clip_end] @ mean) / self.norms[clip_start:clip_end]
        dists = np.nan_to_num(dists, nan=-np.inf)
        if topn is None:
            return dists
        return self._best_keys(dists, topn, exclude, first_row=clip_start)

    def _best_keys(self, scores: np.ndarray, topn: int, exclude: set, first_row: int = 0) -> list:
        """(key, score) of the topn highest scores ([R] for rows first_row...), best first, equal
        scores in row order, the rows in exclude left out."""
        best = _top_rows(scores, topn + len(exclude))
        result = [
            (self.index_to_key[first_row + i], float(scores[i]))
            for i in best
            if first_row + i not in exclude
        ]
        return result[:topn]

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        """gensim's older name of similar_by_key (its argument named word, as gensim's)."""
        return self.similar_by_key(word, topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1, w2) -> np.floating:
        """The cosine of the two keys' vectors (0.0 when one is all zeros), as gensim: a numpy
        scalar of the vectors' dtype (np.float32 for a float32 table)."""
        return np.dot(_unitvec(self.get_vector(w1)), _unitvec(self.get_vector(w2)))

    def distance(self, w1, w2) -> np.floating:
        """1 - similarity, a numpy scalar of the vectors' dtype (as gensim)."""
        return 1 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2) -> np.floating:
        """The cosine of the means of two lists of keys' raw vectors (not of their unit vectors),
        as gensim: keys not in the table are left out, so a list of none but unknown keys has a
        zero mean and a similarity of 0.0; an empty list is a ZeroDivisionError. A numpy scalar of
        the vectors' dtype, as gensim."""
        if not len(ws1) or not len(ws2):
            raise ZeroDivisionError("At least one of the passed lists is empty.")
        a = _unitvec(self.get_mean_vector(ws1, pre_normalize=False))
        b = _unitvec(self.get_mean_vector(ws2, pre_normalize=False))
        return np.dot(a, b)

    def doesnt_match(self, words):
        """The word furthest from the mean of the others (unknown words are ignored)."""
        return self.rank_by_centrality(words)[-1][1]

    def rank_by_centrality(self, words, use_norm: bool = True) -> list:
        """(cosine with the words' normalised mean vector, word) pairs, most central first; equal
        cosines put the greater word first (gensim's sorted(..., reverse=True)). Unit vectors
        unless use_norm=False; words without a vector are left out (logged, as gensim)."""
        words = _ensure_list(words)
        known = [w for w in words if w in self]
        if len(known) != len(words):
            unknown = [w for w in words if w not in self]
            logger.warning("rank_by_centrality: no vector for %s; left out", unknown)
        if not known:
            raise ValueError("words: cannot rank an empty list (no word has a vector)")
        rows = [self.get_index(w) for w in known]
        vecs = self._unit_rows(rows) if use_norm else self.vectors[rows]
        mean = _unitvec(vecs.mean(axis=0))
        cos = (vecs * mean).sum(axis=1)  # row by row: equal vectors get equal cosines
        return sorted(zip(cos.tolist(), known, strict=True), reverse=True)

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The topn keys by 3CosMul (Levy & Goldberg 2014) as gensim computes it: the product of
        the positive terms' shifted cosines (1 + cos) / 2 over the negative terms' product + 1e-6.

        A list of (key, score), best first (equal scores: lower row first), without the input
        keys. Items are keys (their unit vectors) or vectors [E], used as given as gensim does (a
        vector not of unit length scales its cosines). restrict_vocab searches the first rows
        only; topn=None returns the scores of every searched row, [V] or [restrict_vocab].
        """
        topn = _as_topn(topn)
        if topn is not None and topn < 1:
            return []
        searched = self._searched_rows(restrict_vocab)
        positive_terms, positive_rows = self._cosmul_terms(positive, "positive")
        negative_terms, negative_rows = self._cosmul_terms(negative, "negative")
        if not positive_terms:
            raise ValueError(
                "positive: 3CosMul needs at least one key or vector (negative terms only divide)"
            )
        terms = np.vstack(positive_terms + negative_terms)  # [P + N, E]
        self.fill_norms()
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (self.vectors[:searched] @ terms.T) / self.norms[:searched, None]  # [R, P + N]
            scores = _cosmul(cos[:, : len(positive_terms)], cos[:, len(positive_terms) :])
        scores[np.isnan(scores)] = -np.inf  # rows of zero vectors are nobody's nearest
        if topn is None:
            return scores
        return self._best_keys(scores, topn, set(positive_rows + negative_rows))

    def _searched_rows(self, restrict_vocab) -> int:
        """How many leading rows a search covers: all, or restrict_vocab when it is not 0/None."""
        if restrict_vocab is None:
            return len(self.vectors)
        limit = int_at_least(restrict_vocab, "restrict_vocab", 0)
        return min(limit, len(self.vectors)) if limit else len(self.vectors)

    def _cosmul_terms(self, items, name: str) -> tuple[list, list]:
        """The terms of positive or negative as vectors [E] (a key's unit vector, a vector as
        given) and the rows of the keys among them."""
        terms, rows = [], []
        for i, item in enumerate(_ensure_list(items)):
            if _is_key(item):
                row = self.get_index(item)
                rows.append(row)
                terms.append(self._unit_rows([row])[0])
            elif isinstance(item, np.ndarray):
                terms.append(self._vector_arg(item, f"{name}[{i}]"))
            else:
                raise TypeError(
                    f"{name}[{i}]: expected a key (str or int) or a vector [{self.vector_size}], "
                    f"got {type(item).__name__} (3CosMul takes no (key, weight) pairs)"
                )
        return terms, rows

    def _unit_rows(self, rows) -> np.ndarray:
        """The vectors of rows scaled to unit length, [len(rows), E]; a zero vector stays zero, a
        vector holding NaN stays NaN (not zero: its cosines are no numbers, not 0)."""
        self.fill_norms()
        norms = self.norms[rows][:, None]
        unit = np.zeros((len(norms), self.vector_size), dtype=self.vectors.dtype)
        with np.errstate(invalid="ignore"):
            return np.divide(self.vectors[rows], norms, out=unit, where=norms != 0)

    def _vector_arg(self, value, name: str) -> np.ndarray:
        """value as a vector [E] of the vectors' dtype; TypeError/ValueError naming `name`."""
        vector = np.asarray(value)
        if vector.dtype.kind not in "fiu":
            raise TypeError(
                f"{name}: expected a key or a vector of {self.vector_size} numbers, got "
                f"{type(value).__name__} of dtype {vector.dtype}"
            )
        if vector.shape != (self.vector_size,):
            raise ValueError(
                f"{name}: expected a vector of shape ({self.vector_size},), got {vector.shape}"
            )
        return vector.astype(self.vectors.dtype, copy=False)

    def _key_row(self, key, name: str) -> int:
        """The row of key (KeyError when absent); TypeError naming `name` for a non-key."""
        if not _is_key(key):
            raise TypeError(f"{name}: expected a key (str or int), got {type(key).__name__}")
        return self.get_index(key)

    @staticmethod
    def cosine_similarities(vector_1, vectors_all) -> np.ndarray:
        """Cosines of vector_1 [E] with each row of vectors_all [n, E]: [n] (nan for a zero
        vector)."""
        vector_1, vectors_all = np.asarray(vector_1), np.asarray(vectors_all)
        for name, a in (("vector_1", vector_1), ("vectors_all", vectors_all)):
            if a.dtype.kind not in "fiu":
                raise TypeError(f"{name}: expected numbers, got dtype {a.dtype}")
        if vector_1.ndim != 1:
            raise ValueError(f"vector_1: expected a vector [E], got shape {vector_1.shape}")
        if vectors_all.ndim != 2 or vectors_all.shape[1] != len(vector_1):
            raise ValueError(
                f"vectors_all: expected shape [n, {len(vector_1)}] (vector_1 has "
                f"{len(vector_1)} values), got {vectors_all.shape}"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            norms = np.linalg.norm(vector_1) * np.linalg.norm(vectors_all, axis=1)
            return (vectors_all @ vector_1) / norms

    def distances(self, word_or_vector, other_words=()) -> np.ndarray:
        """Cosine distances 1 - cos from a key's vector or a vector [E] to each of other_words
        ([len(other_words)]), or to every row when other_words is empty ([V])."""
        if _is_key(word_or_vector):
            source = self.get_vector(word_or_vector)
        else:
            source = self._vector_arg(word_or_vector, "word_or_vector")
        keys = [] if other_words is None else _keys_arg(other_words, "other_words")
        rows = [self._key_row(k, f"other_words[{i}]") for i, k in enumerate(keys)]
        return 1 - self.cosine_similarities(source, self.vectors[rows] if rows else self.vectors)

    def _rows_closer(self, key1, key2) -> np.ndarray:
        """The rows (ascending) closer by cosine distance to key1 than key2 is, key1's left out."""
        row1, row2 = self._key_row(key1, "key1"), self._key_row(key2, "key2")
        dist = 1 - self.cosine_similarities(self.vectors[row1], self.vectors)
        closer = np.flatnonzero(dist < dist[row2])
        return closer[closer != row1]

    def closer_than(self, key1, key2) -> list:
        """The keys closer to key1 than key2 is (cosine distance), in row order, key1 left out."""
        return [self.index_to_key[i] for i in self._rows_closer(key1, key2)]

    def words_closer_than(self, word1, word2) -> list:
        """Deprecated (as in gensim 4): closer_than(word1, word2)."""
        warnings.warn(
            "words_closer_than is deprecated: use closer_than", DeprecationWarning, stacklevel=2
        )
        return self.closer_than(word1, word2)

    def rank(self, key1, key2) -> int:
        """1 + how many keys are closer to key1 than key2 is (key2's rank among key1's
        neighbours)."""
        return len(self._rows_closer(key1, key2)) + 1

    def most_similar_to_given(self, key1, keys_list):
        """The item of keys_list with the highest cosine with key1 (the first of equals)."""
        row1 = self._key_row(key1, "key1")
        keys = _keys_arg(keys_list, "keys_list")
        if not keys:
            raise ValueError("keys_list: expected at least one key, got none")
        rows = [self._key_row(k, f"keys_list[{i}]") for i, k in enumerate(keys)]
        cos = (self._unit_rows(rows) * self._unit_rows([row1])).sum(axis=1)  # row by row
        return keys[int(np.argmax(cos))]

    def relative_cosine_similarity(self, wa, wb, topn: int = 10) -> float:
        """cos(wa, wb) over the sum of the cosines of wa's topn nearest keys (Leeuwenberg et al.
        2016, equation 1)."""
        self._key_row(wa, "wa")
        self._key_row(wb, "wb")
        topn = int_at_least(topn, "topn", 1)
        nearest = self.similar_by_key(wa, topn=topn)
        if not nearest:
            raise ValueError("wa: no other key to compare with (the vocabulary has one key)")
        return float(self.similarity(wa, wb)) / sum(cos for _, cos in nearest)  # a float, as gensim

    def init_sims(self, replace: bool = False) -> None:
        """gensim's older call: fill_norms(), and with replace=True unit_normalize_all()."""
        self.fill_norms()
        if replace:
            self.unit_normalize_all()

    def unit_normalize_all(self) -> None:
        """Scales every row of vectors to unit length in place (a zero vector stays zero); norms
        become 1 (0 for a zero vector). Training cannot sensibly continue afterwards."""
        self.fill_norms(force=True)
        norms = self.norms[:, None]
        np.divide(self.vectors, norms, out=self.vectors, where=norms > 0)
        self.norms = (self.norms > 0).astype(self.norms.dtype)

    def sort_by_descending_frequency(self) -> None:
        """Reorders the rows by descending 'count' vecattr, equal counts in reverse row order (as
        gensim); vectors, norms, every vecattr, index_to_key and key_to_index follow. A Word2Vec
        model whose wv is sorted follows the new order when it next trains, updates, predicts or
        saves (its output weights, counts and subsampling thresholds are reordered the same way)."""
        if not len(self):
            return
        counts = self.expandos.get("count")
        if counts is None:
            raise KeyError(
                "sort_by_descending_frequency: the keys have no 'count' vecattr to sort by "
                f"(they have: {sorted(self.expandos) or 'none'})"
            )
        # descending counts, equal ones latest row first (gensim's order); no negation, which
        # would wrap unsigned counts
        order = np.argsort(counts, kind="stable")[::-1]
        self.index_to_key = [self.index_to_key[i] for i in order]
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key) if k is not None}
        self.vectors = self.vectors[order]
        if self.norms is not None and len(self.norms) == len(order):
            self.norms = self.norms[order]
        for attr, values in self.expandos.items():
            self.expandos[attr] = values[order]
        if np.shape(self.vectors_lockf) == (len(order),) and len(order) > 1:
            self.vectors_lockf = np.asarray(self.vectors_lockf)[order]

    # ---- evaluation ----

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict:
        ok = [(i, k) for i, k in enumerate(self.index_to_key[:restrict_vocab]) if k is not None]
        if case_insensitive:
            return {k.upper(): i for i, k in reversed(ok)}
        return {k: i for i, k in ok}

    def evaluate_word_analogies(
        self,
        analogies,
        restrict_vocab=300000,
        case_insensitive=True,
        dummy4unknown=False,
        similarity_function="most_similar",
    ):
        """Accuracy on a questions-words file: (score, sections), as gensim.

        similarity_function: "most_similar" (3CosAdd) or "most_similar_cosmul" (3CosMul; gensim 4.4
        takes the name but runs 3CosAdd). Only the first restrict_vocab rows answer.
        """
        scores_of = _ANALOGY_SCORES.get(similarity_function)
        if scores_of is None:
            raise ValueError(
                f"similarity_function: expected one of {sorted(_ANALOGY_SCORES)}, "
                f"got {similarity_function!r}"
            )
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        self.fill_norms()
        with np.errstate(invalid="ignore", divide="ignore"):  # only the rows that answer
            normed = self.vectors[:restrict_vocab] / self.norms[:restrict_vocab, None]  # [R, E]
        normed = normed.astype(np.float32, copy=False)
        sections, section, oov, questions = [], None, 0, []  # questions: (section, quad, known)
        with open_text(analogies) as f, naming_corruption(analogies):
            for line_no, line in enumerate(f, 1):
                if line.startswith(": "):
                    if section:
                        sections.append(section)
                    section = {"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []}
                    continue
                if not section:
                    raise ValueError(f"{analogies}: line {line_no}: missing section header")
                try:
                    words = line.split()
                    a, b, c, expected = (w.upper() for w in words) if case_insensitive else words
                except ValueError:
                    continue  # gensim skips lines that are not four words
                known = all(w in ok_vocab for w in (a, b, c, expected))
                if not known:
                    oov += 1
                    if not dummy4unknown:
                        continue
                questions.append((section, (a, b, c, expected), known))
        if section:
            sections.append(section)
        known_quads = [quad for _, quad, known in questions if known]
        logger.info(
            "%s: %d of %d questions have a word outside the first %d keys",
            analogies,
            oov,
            oov + len(known_quads),
            restrict_vocab,
        )
        right = iter(
            self._analogy_answers(known_quads, ok_vocab, normed, scores_of, case_insensitive)
        )
        for sec, quad, known in questions:  # in file order, as gensim lists them
            (sec["correct"] if known and next(right) else sec["incorrect"]).append(quad)
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        n = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / n if n else 0.0
        sections.append(total)
        return score, sections

    def _analogy_answers(self, quads, ok_vocab: dict, normed, scores_of, uppercase: bool) -> list:
        """Whether each question (a, b, c, expected) of quads, all in ok_vocab, is answered right,
        as gensim picks the answer: of the 5 best-scoring rows of normed [R, E] but a, b, c, the
        first whose key (uppercased if asked) is in ok_vocab and none of a, b, c."""
        answers = []
        batch_size = max(1, min(512, _ANALOGY_BLOCK // max(len(normed), 1)))
        for start in range(0, len(quads), batch_size):
            batch = quads[start : start + batch_size]
            abc = np.array([[ok_vocab[w] for w in quad[:3]] for quad in batch])  # [B, 3]
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = scores_of(normed, abc)  # [B, R]
            scores[np.arange(len(batch))[:, None], abc] = -np.inf
            scores[np.isnan(scores)] = -np.inf
            for row_scores, (a, b, c, expected) in zip(scores, batch, strict=True):
                predicted = None
                for i in _top_rows(row_scores, 5):
                    key = self.index_to_key[i]
                    predicted = key.upper() if uppercase else key
                    if predicted in ok_vocab and predicted not in (a, b, c):
                        break
                answers.append(predicted == expected)
        return answers

    def evaluate_word_pairs(
        self,
        pairs,
        delimiter="\t",
        encoding="utf8",
        restrict_vocab=300000,
        case_insensitive=True,
        dummy4unknown=False,
    ):
        """(pearson, spearman, oov_ratio) on a word-pair similarity file such as WordSim-353.

        pearson and spearman are CorrelationResult (statistic, pvalue) pairs, read as gensim's
        scipy results are (`.statistic`, `.pvalue`, or unpacked; pvalue from scipy when installed,
        else nan); oov_ratio is the percentage of pairs with an unknown word.
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model, oov = [], [], 0
        with open_text(pairs, encoding) as f, naming_corruption(pairs):
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                try:
                    a, b, sim = line.rstrip("\n").split(delimiter)
                    sim = float(sim)
                except ValueError:
                    continue  # gensim skips lines it cannot parse (and not of three fields)
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                if a not in ok_vocab or b not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        gold.append(sim)
                        model.append(0.0)
                    continue
                gold.append(sim)
                model.append(float(self.similarity(ok_vocab[a], ok_vocab[b])))
        if not gold:
            raise ValueError(f"{pairs}: no pair has both words in the vocabulary")
        g, m = np.array(gold), np.array(model)
        pearson, spearman = _pearson(g, m), _pearson(_rank(g), _rank(m))
        p_pearson = p_spearman = float("nan")
        try:
            from scipy import stats

            p_pearson = float(stats.pearsonr(g, m)[1])
            p_spearman = float(stats.spearmanr(g, m)[1])
        except ImportError:
            pass
        # with dummy4unknown the unknown pairs are in gold already
        oov_ratio = float(oov) / (len(gold) if dummy4unknown else len(gold) + oov) * 100
        return (
            CorrelationResult(pearson, p_pearson),
            CorrelationResult(spearman, p_spearman),
            oov_ratio,
        )

    # ---- files ----

    def save_word2vec_format(
        self,
        fname,
        fvocab=None,
        binary=False,
        total_vec=None,
        write_header=True,
        prefix="",
        append=False,
        sort_attr="count",
    ):
        """Writes word2vec.c's text (binary=False) or binary format atomically, as gensim: the
        keys in descending order of their `sort_attr` vecattr (index order when they have none),
        each written after `prefix`; a header saying `total_vec` vectors (default: all of them;
        gensim's way of announcing vectors appended later) unless write_header=False (GloVe's
        format); append=True adds to the end of fname (and fvocab) instead of replacing it. fvocab
        gets word2vec.c's vocabulary file: each key and its `sort_attr` value."""
        if total_vec is not None:
            total_vec = int_at_least(total_vec, "total_vec", 0)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix: expected a str, got {type(prefix).__name__}")
        ranks = self.expandos.get(sort_attr)
        if ranks is None and fvocab is not None:
            raise ValueError(
                f"sort_attr: the keys have no {sort_attr!r} attribute to write to fvocab "
                f"(they have: {sorted(self.expandos) or 'none'})"
            )
        # descending, equal values in row order (no negation: it would wrap unsigned values)
        order = None if ranks is None else _descending_stable(ranks)
        if order is None or (order == np.arange(len(order))).all():
            keys, vectors = self.index_to_key, self.vectors
        else:
            keys, vectors = [self.index_to_key[i] for i in order], self.vectors[order]
        keys = [prefix + k if isinstance(k, str) else k for k in keys]
        # fvocab is written first and replaced last, so an error writing either file changes
        # neither (an append that failed on fvocab had already appended to fname)
        with contextlib.ExitStack() as both:
            if fvocab is not None:
                counts = ranks if order is None else ranks[order]
                both.enter_context(vocab_counts_written(fvocab, keys, counts, append=append))
            write_word2vec(
                fname,
                keys,
                vectors,
                binary=binary,
                header_count=total_vec,
                write_header=write_header,
                append=append,
            )

    @classmethod
    def load_word2vec_format(
        cls,
        fname,
        fvocab=None,
        binary=False,
        encoding="utf8",
        unicode_errors="strict",
        limit=None,
        datatype=np.float32,
        no_header=False,
    ):
        """Reads word2vec.c's or gensim's text or binary files (or a text file without the header
        line, no_header=True), as gensim: `limit` keeps the first vectors (None or 0: all); a
        repeated word keeps its first vector (with a Word2VecFormatWarning); the 'count' vecattr
        comes from fvocab (word2vec.c's -save-vocab file; 0 for a word it lacks, with a warning)
        or, without one, counts down from the number of vectors read, as gensim makes up."""
        table = read_word2vec(
            fname,
            binary=binary,
            limit=limit,
            encoding=encoding,
            unicode_errors=unicode_errors,
            datatype=datatype,
            no_header=no_header,
        )
        keys = table.keys
        if fvocab is None:
            counts = table.records - np.arange(len(keys), dtype=np.int64)
        else:
            known = read_vocab_counts(fvocab, encoding, unicode_errors)
            counts = np.array([known.get(k, 0) for k in keys], dtype=np.int64)
            missing = [k for k in keys if k not in known]
            if missing:
                warnings.warn(
                    f"{fvocab}: {len(missing)} of the {len(keys)} words lack a count (the first: "
                    f"{missing[0]!r}); their count is 0",
                    Word2VecFormatWarning,
                    stacklevel=2,
                )
        kv = cls(table.vectors.shape[1])
        kv._set(keys, table.vectors, counts, source=str(fname))
        return kv

    def intersect_word2vec_format(
        self, fname, lockf=0.0, binary=False, encoding="utf8", unicode_errors="strict"
    ) -> int:
        """Copies into this table the vectors a word2vec file holds for keys already here (no key
        is added) and gives those keys the lock factor `lockf` (0, the default: Word2Vec's
        training leaves them as loaded; 1: trains them as the others). Returns how many keys took
        a vector; a word the file repeats takes its last vector, as gensim's. vectors_lockf
        becomes a float32 array per row ([V], 1 for the other rows) if it was not."""
        lock = real_number(lockf, "lockf")
        if not np.isfinite(lock):
            raise ValueError(f"lockf: expected a finite number, got {lockf}")
        factors = checked_lockf(self.vectors_lockf, len(self), "vectors_lockf")
        table = read_word2vec(  # this table's words only, each with its last record
            fname,
            binary=binary,
            encoding=encoding,
            unicode_errors=unicode_errors,
            only=self.key_to_index,
            vector_size=self.vector_size,
        )
        rows = np.array([self.key_to_index[k] for k in table.keys], dtype=np.int64)
        found = np.arange(len(rows))
        if len(self):  # (an empty table keeps its one factor for the keys added later)
            factors = np.array(np.broadcast_to(factors, (len(self),)), dtype=np.float32)
            factors[rows] = lock
        self.vectors[rows] = table.vectors[found]
        self.vectors_lockf = factors
        self.norms = None
        logger.info("%s: %d of its %d vectors merged", fname, len(rows), table.records)
        return len(rows)

    def _set(self, keys: list, vectors: np.ndarray, counts, source: str = "") -> None:
        key_to_index = {}
        for i, k in enumerate(keys):
            if k in key_to_index:
                raise ValueError(f"{source}: duplicate key {k!r} (rows {key_to_index[k]} and {i})")
            key_to_index[k] = i
        self.index_to_key = list(keys)
        self.key_to_index = key_to_index
        self.vectors = vectors
        self.norms = None
        self.expandos = {}
        self._next_slot = len(keys)
        self.vectors_lockf = np.ones(1, dtype=np.float32)
        if counts is not None:
            self.expandos["count"] = np.asarray(counts, dtype=np.int64)

    def save(self, fname) -> None:
        """Saves to one .npz file (arrays + JSON metadata, no pickle), atomically. Vecattrs that
        hold an array per key (a hierarchical-softmax model's 'code' and 'point', which its
        Word2Vec.save keeps) are left out, with a log message: the file holds number arrays."""
        check_keys_for_save(self.index_to_key)
        meta = {"format": _FORMAT, "version": 1, "index_to_key": self.index_to_key}
        numbers = {k: v for k, v in self.expandos.items() if v.dtype != object}
        if len(numbers) < len(self.expandos):
            logger.info(
                "%s: the vecattrs %s hold an array per key and are not saved",
                fname,
                sorted(set(self.expandos) - set(numbers)),
            )
        arrays = {"vectors": self.vectors, **{f"vecattr_{k}": v for k, v in numbers.items()}}
        arrays["vectors_lockf"] = checked_lockf(self.vectors_lockf, len(self), "vectors_lockf")
        save_npz(fname, meta, arrays)

    @classmethod
    def load(cls, fname, mmap=None) -> KeyedVectors:
        """Reads a file written by save(); a malformed or hostile file raises ValueError. As
        gensim's, mmap='r' memory-maps the arrays read-only (processes that map one file share
        its pages) and 'c' copy-on-write; every array is mapped (gensim maps only those it saved
        apart, over 10 MB). mmap='r+' is a ValueError: writes through the map would leave the
        file's checksums stale."""
        meta, arrays = load_npz(fname, _FORMAT, mmap)
        keys, vectors = checked_table(fname, meta, arrays, dtype=None)  # as saved (as gensim)
        kv = cls(vectors.shape[1], dtype=vectors.dtype)
        kv._set(keys, vectors, None, source=str(fname))
        for k, v in arrays.items():
            if k.startswith("vecattr_"):
                if v.shape != (len(keys),):
                    raise ValueError(f"{fname}: {k}: expected shape ({len(keys)},), got {v.shape}")
                kv.expandos[k[len("vecattr_") :]] = v
        if "vectors_lockf" in arrays:  # (files from before lock factors have none)
            kv.vectors_lockf = checked_lockf(arrays["vectors_lockf"], len(keys), f"{fname}: lockf")
        return kv

    def to_torch_embedding(self, freeze: bool = True):
        """A torch.nn.Embedding holding a copy of the vectors (needs torch)."""
        try:
            import torch
        except ImportError:
            raise ImportError("to_torch_embedding needs torch: pip install torch") from None
        return torch.nn.Embedding.from_pretrained(
            torch.from_numpy(self.vectors.copy()), freeze=freeze
        )

    def __repr__(self) -> str:
        return f"<KeyedVectors: {len(self)} keys, vector_size={self.vector_size}>"


def check_keys_for_save(keys: list) -> None:
    """Refuses, before anything is written, keys that load() would refuse: every row needs a
    str key (any str: the .npz format, unlike the word2vec formats, holds empty ones too)."""
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise ValueError(
                f"index_to_key[{i}]: expected a str key, got {k!r} (the rows of "
                "KeyedVectors(vector_size, count) need keys before they can be saved)"
            )


def checked_lockf(lockf, V: int, name: str) -> np.ndarray:
    """Lock factors as a float32 array [1] or [V] of finite numbers; a ValueError naming `name`
    otherwise."""
    a = np.asarray(lockf)
    if a.dtype.kind not in "biuf" or a.shape not in ((1,), (V,)):
        raise ValueError(
            f"{name}: expected a float array of shape (1,) or ({V},), got {a.shape} {a.dtype}"
        )
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: NaN or Inf among the lock factors")
    return a


def checked_table(fname, meta: dict, arrays: dict, dtype=np.float32) -> tuple[list, np.ndarray]:
    """The keys and vectors [V, E] of a loaded file, checked against each other; the vectors as
    `dtype` (None: the float dtype they were saved in)."""
    keys = meta.get("index_to_key")
    vectors = arrays.get("vectors")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{fname}: index_to_key must be a list of strings")
    if vectors is None or vectors.ndim != 2 or vectors.dtype.kind != "f" or vectors.shape[1] < 1:
        got = None if vectors is None else f"{vectors.shape} {vectors.dtype}"
        raise ValueError(f"{fname}: vectors must be a float [V, E] array, got {got}")
    if vectors.shape[0] != len(keys):
        raise ValueError(f"{fname}: {len(keys)} keys for {vectors.shape[0]} vectors")
    dtype = vectors.dtype.newbyteorder("=") if dtype is None else dtype
    return keys, np.ascontiguousarray(vectors, dtype=dtype)


def save_npz(fname, meta: dict, arrays: dict) -> None:
    """Writes arrays and JSON metadata to one .npz file through a temporary file and os.replace."""
    blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf8"), dtype=np.uint8)
    with atomic_write(fname) as f:
        write_npz(f, {"__meta__": blob, **arrays})


def load_npz(fname, expected_format: str, mmap=None) -> tuple[dict, dict]:
    """Reads a file written by save_npz: (metadata, arrays memory-mapped with mmap when given),
    through the checked reader (fastrnn._npz: no pickle, sizes checked before reading);
    anything malformed is a ValueError naming the file."""
    try:
        arrays = read_npz(fname, mmap)
    except ValueError:
        with open(fname, "rb") as f:
            magic = f.read(2)
        if len(magic) == 2 and magic[0] == 0x80 and 2 <= magic[1] <= 5:
            raise ValueError(
                f"{fname}: a pickle (as gensim's save() writes), not a fastrnn .npz file: fastrnn "
                "reads no pickles; write the vectors from gensim with save_word2vec_format and "
                "read them with load_word2vec_format"
            ) from None
        raise
    blob = arrays.pop("__meta__", None)
    if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
        raise ValueError(f"{fname}: not a fastrnn file (no metadata)")
    try:
        meta = json.loads(blob.tobytes().decode("utf8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{fname}: corrupt metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != expected_format:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{fname}: expected a {expected_format} file, got {got!r}")
    return meta, arrays
