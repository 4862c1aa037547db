"""Metrics of a trained model: perplexity from a cross-entropy in nats, and accuracy."""

from __future__ import annotations

import math

import numpy as np

from fastrnn.nn._checks import as_array, bool_mask, real_scalar


def perplexity(loss_nats: float) -> float:
    """exp(loss): the perplexity of a mean cross-entropy in nats (inf when that overflows).

    loss_nats: a real number (Python, numpy or 0-d array, torch scalar tensor)."""
    loss = real_scalar(loss_nats, "loss_nats", "a real number (a mean cross-entropy in nats)")
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def accuracy(logits_or_pred, targets, mask=None) -> float:
    """Fraction of positions whose prediction equals the target.

    logits_or_pred: logits [..., C] (argmax taken) or predictions [...] (integers or bools);
    targets: [...] integers; mask: [...] bool or None (only True positions count)."""
    a = as_array(logits_or_pred, "logits_or_pred")
    targets = as_array(targets, "targets")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets: expected an integer array, got dtype {targets.dtype}")
    logits = a.ndim == targets.ndim + 1
    if logits and a.shape[-1] == 0:
        raise ValueError(
            f"logits_or_pred: expected at least one class in logits {targets.shape} + (C,), "
            f"got {a.shape}"
        )
    pred = a.argmax(axis=-1) if logits else a
    if pred.shape != targets.shape:
        raise ValueError(
            f"logits_or_pred: expected shape {targets.shape} or {targets.shape} + (C,), "
            f"got {a.shape}"
        )
    if not logits and a.dtype.kind not in "iub":  # probabilities compared with == count nothing
        raise TypeError(
            f"logits_or_pred: expected integer predictions {targets.shape} or logits "
            f"{targets.shape} + (C,), got dtype {a.dtype} with shape {a.shape}"
        )
    hit = pred == targets
    if mask is not None:
        hit = hit[bool_mask(mask, "mask", targets.shape)]
    if hit.size == 0:
        if mask is not None and targets.size:
            raise ValueError("mask: selects no position, so there is no accuracy to count")
        raise ValueError(f"targets: no position to count (shape {targets.shape})")
    return float(hit.mean())
