"""Embedding: a lookup table of V vectors with sparse row gradients (RowGrad), trainable or
frozen, from a seeded N(0, 1) initialisation (torch.nn.Embedding's) or from pretrained vectors."""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from fastrnn._params import seeded_rng
from fastrnn.nn._checks import as_array, float_dtype, int_array, positive_int
from fastrnn.nn.module import Module


@dataclass
class RowGrad:
    """A sparse gradient of a [V, E] table: the rows that appeared (unique, sorted) and their
    summed gradients. indices: [R] int64; values: [R, E]."""

    indices: np.ndarray
    values: np.ndarray

    @classmethod
    def empty(cls, E: int, dtype) -> RowGrad:
        return cls(np.zeros(0, np.int64), np.zeros((0, E), dtype))

    @classmethod
    def from_rows(cls, ids, rows) -> RowGrad:
        """Sums `rows` [K, E] by `ids` [K] (duplicates added) into unique sorted indices."""
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        if sorted_ids.size == 0:
            return cls.empty(rows.shape[1], rows.dtype)
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        return cls(sorted_ids[starts], np.add.reduceat(rows[order], starts, axis=0))

    def add(self, other: RowGrad) -> RowGrad:
        """A new RowGrad holding self + other."""
        if self.indices.size == 0:
            return other
        return RowGrad.from_rows(
            np.concatenate([self.indices, other.indices]),
            np.concatenate([self.values, other.values]),
        )

    def to_dense(self, num_rows: int) -> np.ndarray:
        """The gradient as a dense [V, E] array."""
        dense = np.zeros((num_rows, self.values.shape[1]), self.values.dtype)
        dense[self.indices] = self.values
        return dense


class Embedding(Module):
    """torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx): `params["weight"]` [V, E].

    `backward` accumulates a RowGrad in `grads["weight"]` (the padding row gets no gradient).
    A frozen embedding (`from_pretrained(..., freeze=True)`) has empty `grads`, so the
    optimisers and clip_grad_norm skip it; its weight is still in `params` and the state_dict.
    """

    def __init__(
        self, num_embeddings, embedding_dim, *, padding_idx=None, dtype=np.float32, seed=None
    ):
        V = positive_int(num_embeddings, "num_embeddings")
        E = positive_int(embedding_dim, "embedding_dim")
        self.dtype = float_dtype(dtype)
        weight = seeded_rng(seed).standard_normal((V, E)).astype(self.dtype)
        self._setup(weight, padding_idx, freeze=False)
        if self.padding_idx is not None:
            self.params["weight"][self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, weight, *, freeze=True, padding_idx=None) -> Embedding:
        """An Embedding holding a copy of `weight` [V, E] (float32 or float64; a torch tensor or
        a KeyedVectors' `.vectors` work too). freeze=True: no gradients, never updated."""
        w = as_array(getattr(weight, "vectors", weight), "weight")
        if w.dtype not in (np.float32, np.float64):
            raise TypeError(f"weight: expected dtype float32 or float64, got {w.dtype}")
        if w.ndim != 2 or w.shape[0] < 1 or w.shape[1] < 1:
            raise ValueError(f"weight: expected a non-empty [V, E] matrix, got shape {w.shape}")
        self = cls.__new__(cls)
        self.dtype = w.dtype
        self._setup(np.array(w, order="C"), padding_idx, freeze=bool(freeze))
        return self

    def _setup(self, weight, padding_idx, freeze: bool) -> None:
        V = weight.shape[0]
        if padding_idx is not None:
            try:
                padding_idx = operator.index(padding_idx)
            except TypeError:
                raise TypeError(
                    f"padding_idx: expected an int or None, got {type(padding_idx).__name__}"
                ) from None
            if not -V <= padding_idx < V:
                raise ValueError(
                    f"padding_idx: expected an index in [-{V}, {V}), got {padding_idx}"
                )
            padding_idx %= V
        self.padding_idx = padding_idx
        self.freeze = freeze
        self.params = {"weight": weight}
        self.grads = {} if freeze else {"weight": RowGrad.empty(weight.shape[1], self.dtype)}
        self._init_thread_state()

    @property
    def num_embeddings(self) -> int:
        return self.params["weight"].shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.params["weight"].shape[1]

    def zero_grad(self) -> None:
        if not self.freeze:
            self.grads["weight"] = RowGrad.empty(self.embedding_dim, self.dtype)

    def forward(self, ids):
        """ids: [...] integers in [0, V) -> vectors [..., E]."""
        ids = int_array(ids, "ids")
        V = self.num_embeddings
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            bad = ids[(ids < 0) | (ids >= V)].flat[0]
            raise ValueError(f"ids: expected indices in [0, {V}), got {bad}")
        self._set_thread_state(ids)
        return self.params["weight"][ids]

    def backward(self, dy) -> None:
        """dy: [..., E] like forward's output; accumulates a RowGrad (nothing when frozen)."""
        ids = self._thread_state()
        if ids is None:
            raise RuntimeError("backward: call forward first (in this thread)")
        dy = as_array(dy, "dy")
        expected = (*ids.shape, self.embedding_dim)
        if dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {dy.shape}")
        if dy.dtype != self.dtype:
            raise TypeError(f"dy: expected dtype {self.dtype}, got {dy.dtype}")
        if self.freeze:
            return None
        ids = ids.reshape(-1)
        rows = dy.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = ids != self.padding_idx
            ids, rows = ids[keep], rows[keep]
        grad = RowGrad.from_rows(ids, rows)
        with self._grad_lock:
            self.grads["weight"] = self.grads["weight"].add(grad)
        return None

    def __repr__(self) -> str:
        extra = ", freeze=True" if self.freeze else ""
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{extra})"
