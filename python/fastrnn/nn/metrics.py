"""Metrics of a trained model: perplexity from a cross-entropy in nats, and accuracy."""

from __future__ import annotations

import math

import numpy as np

from fastrnn.nn._checks import as_array, bool_mask


def perplexity(loss_nats: float) -> float:
    """exp(loss): the perplexity of a mean cross-entropy in nats (inf when that overflows)."""
    try:
        return math.exp(float(loss_nats))
    except OverflowError:
        return math.inf


def accuracy(logits_or_pred, targets, mask=None) -> float:
    """Fraction of positions whose prediction equals the target.

    logits_or_pred: logits [..., C] (argmax taken) or predictions [...] (integers); targets: [...]
    integers; mask: [...] bool or None (only True positions count)."""
    a = as_array(logits_or_pred, "logits_or_pred")
    targets = as_array(targets, "targets")
    if not np.issubdtype(targets.dtype, np.integer):
        raise TypeError(f"targets: expected an integer array, got dtype {targets.dtype}")
    pred = a.argmax(axis=-1) if a.ndim == targets.ndim + 1 else a
    if pred.shape != targets.shape:
        raise ValueError(
            f"logits_or_pred: expected shape {targets.shape} or {targets.shape} + (C,), "
            f"got {a.shape}"
        )
    hit = pred == targets
    if mask is not None:
        hit = hit[bool_mask(mask, "mask", targets.shape)]
    if hit.size == 0:
        raise ValueError("targets: no position to count")
    return float(hit.mean())
