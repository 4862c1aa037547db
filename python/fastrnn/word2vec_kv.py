"""KeyedVectors: word vectors with gensim's lookup, similarity and evaluation interface.

`vectors` is [V, E] float32; `index_to_key[i]` names row i and `key_to_index` inverts it. Unit
norms are cached and refreshed after training (`fill_norms(force=True)`). Lookups may run while
a model trains in another thread: they read the shared array and never resize it.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from fastrnn._atomic import atomic_write
from fastrnn._npz import read_npz
from fastrnn.nn._checks import int_at_least
from fastrnn.word2vec_format import (
    Word2VecFormatWarning,
    read_vocab_counts,
    read_word2vec,
    write_vocab_counts,
    write_word2vec,
)

_FORMAT = "fastrnn.keyedvectors"


def _is_key(x) -> bool:
    return isinstance(x, (str, int, np.integer))


def _ensure_list(x) -> list:
    if x is None:
        return []
    if _is_key(x) or isinstance(x, np.ndarray):
        return [x]
    return list(x)


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

    def get_vecattr(self, key, attr: str):
        return self.expandos[attr][self.get_index(key)]

    def set_vecattr(self, key, attr: str, val) -> None:
        if attr not in self.expandos:
            self.expandos[attr] = np.zeros(len(self), dtype=np.int64)
        self.expandos[attr][self.get_index(key)] = val

    def add_vectors(self, keys, weights, extras=None, replace: bool = False) -> None:
        """Appends new keys with their vectors ([n, E]); as gensim, a key already present keeps
        its vector unless replace=True. `extras`: {attribute: [n] values} for set_vecattr."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        weights = np.asarray(weights, dtype=self.vectors.dtype).reshape(len(keys), self.vector_size)
        new = []
        for k, w in zip(keys, weights, strict=True):
            if not isinstance(k, str):
                raise TypeError(f"keys: expected str, got {type(k).__name__}")
            if k in self.key_to_index:
                if replace:
                    self.vectors[self.key_to_index[k]] = w
            else:
                new.append((k, w))
        if new:
            start = len(self.index_to_key)
            self.vectors = np.vstack([self.vectors, np.stack([w for _, w in new])])
            for i, (k, _) in enumerate(new):
                self.index_to_key.append(k)
                self.key_to_index[k] = start + i
            for attr, arr in self.expandos.items():
                self.expandos[attr] = np.concatenate([arr, np.zeros(len(new), dtype=arr.dtype)])
        for attr, values in (extras or {}).items():
            if len(values) != len(keys):
                raise ValueError(
                    f"extras[{attr!r}]: expected {len(keys)} values, got {len(values)}"
                )
            for k, v in zip(keys, values, strict=True):
                if replace or k in dict(new):
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
        keys = _ensure_list(keys)
        if not keys:
            raise ValueError("cannot compute the mean of an empty list of keys")
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
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
            mean = _unitvec(mean)
        return mean.astype(np.float32)

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
        if isinstance(topn, int) and not isinstance(topn, bool) and topn < 1:
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
        if indexer is not None and isinstance(topn, int):  # as gensim: the indexer answers
            return indexer.most_similar(mean, topn)
        exclude = {self.get_index(k) for k in keys if _is_key(k) and self.has_index_for(k)}
        with np.errstate(invalid="ignore", divide="ignore"):
            dists = (self.vectors[clip_start:clip_end] @ mean) / self.norms[clip_start:clip_end]
        dists = np.nan_to_num(dists, nan=-np.inf)
        if not topn:
            return dists
        k = min(len(dists), topn + len(exclude))
        best = np.argpartition(-dists, k - 1)[:k] if k < len(dists) else np.arange(len(dists))
        best = best[np.argsort(-dists[best], kind="stable")]
        result = [
            (self.index_to_key[i + clip_start], float(dists[i]))
            for i in best
            if i + clip_start not in exclude
        ]
        return result[:topn]

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def similarity(self, w1, w2) -> float:
        return float(np.dot(self.get_vector(w1, norm=True), self.get_vector(w2, norm=True)))

    def distance(self, w1, w2) -> float:
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2) -> float:
        if not len(ws1) or not len(ws2):
            raise ZeroDivisionError("At least one of the passed lists is empty.")
        # as gensim: the cosine of the mean raw vectors (not of the mean unit vectors)
        a = _unitvec(np.mean([self.get_vector(w) for w in ws1], axis=0))
        b = _unitvec(np.mean([self.get_vector(w) for w in ws2], axis=0))
        return float(np.dot(a, b))

    def doesnt_match(self, words):
        """The word furthest from the mean of the others (unknown words are ignored)."""
        words = [w for w in _ensure_list(words) if w in self]
        if not words:
            raise ValueError("cannot select a word from an empty list")
        vecs = np.vstack([self.get_vector(w, norm=True) for w in words]).astype(np.float32)
        mean = _unitvec(vecs.mean(axis=0))
        dists = vecs @ mean
        return sorted(zip(dists.tolist(), words, strict=True))[0][1]

    # ---- evaluation ----

    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict:
        ok = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            return {k.upper(): i for i, k in reversed(list(enumerate(ok)))}
        return {k: i for i, k in enumerate(ok)}

    def evaluate_word_analogies(
        self,
        analogies,
        restrict_vocab=300000,
        case_insensitive=True,
        dummy4unknown=False,
        similarity_function="most_similar",
    ):
        """Accuracy on a questions-words file (3CosAdd, as gensim): (score, sections)."""
        if similarity_function != "most_similar":
            raise ValueError("similarity_function: only 'most_similar' is supported")
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        normed = self.get_normed_vectors()[:restrict_vocab].astype(np.float32)
        sections, section, oov, quads = [], None, 0, []
        with open(analogies, encoding="utf8") as f:
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
                if any(w not in ok_vocab for w in (a, b, c, expected)):
                    oov += 1
                    if dummy4unknown:
                        section["incorrect"].append((a, b, c, expected))
                    continue
                quads.append((section, (a, b, c, expected)))
        if section:
            sections.append(section)
        # Batched 3CosAdd: mean of unit vectors b + c - a, then the nearest rows but a, b, c.
        for start in range(0, len(quads), 512):
            batch = quads[start : start + 512]
            idx = np.array([[ok_vocab[w] for w in q[:3]] for _, q in batch])
            mean = normed[idx[:, 1]] + normed[idx[:, 2]] - normed[idx[:, 0]]
            mean /= 3.0
            mean /= np.linalg.norm(mean, axis=1, keepdims=True)
            sims = mean @ normed.T
            sims[np.arange(len(batch))[:, None], idx] = -np.inf
            sims = np.nan_to_num(sims, nan=-np.inf)
            top = np.argpartition(-sims, min(4, sims.shape[1] - 1), axis=1)[:, :5]
            for r, (sec, (a, b, c, expected)) in enumerate(batch):
                order = top[r][np.argsort(-sims[r, top[r]], kind="stable")]
                predicted = None
                for i in order:
                    key = self.index_to_key[i]
                    predicted = key.upper() if case_insensitive else key
                    if predicted in ok_vocab and predicted not in (a, b, c):
                        break
                (sec["correct"] if predicted == expected else sec["incorrect"]).append(
                    (a, b, c, expected)
                )
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        n = len(total["correct"]) + len(total["incorrect"])
        score = len(total["correct"]) / n if n else 0.0
        sections.append(total)
        self._analogy_oov = oov
        return score, sections

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

        pearson and spearman are (statistic, pvalue) pairs (pvalue from scipy when installed,
        else nan); oov_ratio is the percentage of pairs with an unknown word.
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        gold, model, oov = [], [], 0
        with open(pairs, encoding=encoding) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                try:
                    a, b, sim = line.rstrip("\n").split(delimiter)[:3]
                    sim = float(sim)
                except ValueError:
                    continue  # gensim skips lines it cannot parse
                if case_insensitive:
                    a, b = a.upper(), b.upper()
                if a not in ok_vocab or b not in ok_vocab:
                    oov += 1
                    if dummy4unknown:
                        gold.append(sim)
                        model.append(0.0)
                    continue
                gold.append(sim)
                model.append(self.similarity(ok_vocab[a], ok_vocab[b]))
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
        return (pearson, p_pearson), (spearman, p_spearman), oov_ratio

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
        order = None if ranks is None else np.argsort(-ranks, kind="stable")
        if order is None or (order == np.arange(len(order))).all():
            keys, vectors = self.index_to_key, self.vectors
        else:
            keys, vectors = [self.index_to_key[i] for i in order], self.vectors[order]
        keys = [prefix + k if isinstance(k, str) else k for k in keys]
        write_word2vec(
            fname,
            keys,
            vectors,
            binary=binary,
            header_count=total_vec,
            write_header=write_header,
            append=append,
        )
        if fvocab is not None:
            counts = ranks if order is None else ranks[order]
            write_vocab_counts(fvocab, keys, counts, append=append)

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
        if counts is not None:
            self.expandos["count"] = np.asarray(counts, dtype=np.int64)

    def save(self, fname) -> None:
        """Saves to one .npz file (arrays + JSON metadata, no pickle), atomically."""
        check_keys_for_save(self.index_to_key)
        meta = {"format": _FORMAT, "version": 1, "index_to_key": self.index_to_key}
        arrays = {"vectors": self.vectors, **{f"vecattr_{k}": v for k, v in self.expandos.items()}}
        save_npz(fname, meta, arrays)

    @classmethod
    def load(cls, fname) -> KeyedVectors:
        """Reads a file written by save(); a malformed or hostile file raises ValueError."""
        meta, arrays = load_npz(fname, _FORMAT)
        keys, vectors = checked_table(fname, meta, arrays)
        kv = cls(vectors.shape[1])
        kv._set(keys, vectors, None, source=str(fname))
        for k, v in arrays.items():
            if k.startswith("vecattr_"):
                if v.shape != (len(keys),):
                    raise ValueError(f"{fname}: {k}: expected shape ({len(keys)},), got {v.shape}")
                kv.expandos[k[len("vecattr_") :]] = v
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


def checked_table(fname, meta: dict, arrays: dict) -> tuple[list, np.ndarray]:
    """The keys and vectors [V, E] float32 of a loaded file, checked against each other."""
    keys = meta.get("index_to_key")
    vectors = arrays.get("vectors")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"{fname}: index_to_key must be a list of strings")
    if vectors is None or vectors.ndim != 2 or vectors.dtype.kind != "f" or vectors.shape[1] < 1:
        got = None if vectors is None else f"{vectors.shape} {vectors.dtype}"
        raise ValueError(f"{fname}: vectors must be a float [V, E] array, got {got}")
    if vectors.shape[0] != len(keys):
        raise ValueError(f"{fname}: {len(keys)} keys for {vectors.shape[0]} vectors")
    return keys, np.ascontiguousarray(vectors, dtype=np.float32)


def save_npz(fname, meta: dict, arrays: dict) -> None:
    """Writes arrays and JSON metadata to one .npz file through a temporary file and os.replace."""
    blob = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf8"), dtype=np.uint8)
    with atomic_write(fname) as f:
        np.savez(f, __meta__=blob, **arrays)


def load_npz(fname, expected_format: str) -> tuple[dict, dict]:
    """Reads a file written by save_npz: (metadata, arrays), through the checked reader
    (fastrnn._npz: no pickle, sizes checked before reading); anything malformed is a
    ValueError naming the file."""
    arrays = read_npz(fname)
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
