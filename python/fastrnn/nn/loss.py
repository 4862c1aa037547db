"""SoftmaxCrossEntropy: the fused softmax + negative log-likelihood of a classifier or language
model head, forward and backward in C++ (numerically stable, GIL released, rows split over
fastrnn's threads), with torch.nn.functional.cross_entropy's ignore_index and its 'mean' and
'sum' reductions (not 'none': the loss is one float)."""

from __future__ import annotations

import numbers
import operator

import numpy as np

from fastrnn import _C
from fastrnn.nn._checks import as_array, bool_mask, int_array
from fastrnn.nn.parameter_free import ParameterFree


class SoftmaxCrossEntropy(ParameterFree):
    """loss = mean (or sum) over counted positions of -log softmax(logits)[target], in nats.

    A position counts when its target is not `ignore_index` and, if a mask is given, its mask
    entry is True. With no counted position the mean is nan (as torch) and the gradient zero.
    Has no parameters (`params` and `grads` are empty)."""

    def __init__(self, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__()
        try:
            self.ignore_index = operator.index(ignore_index)
        except TypeError:
            raise TypeError(
                f"ignore_index: expected an int, got {type(ignore_index).__name__}"
            ) from None
        if not -(2**63) <= self.ignore_index < 2**63:
            raise ValueError(f"ignore_index: expected an int64, got {self.ignore_index}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def forward(self, logits, targets, mask=None) -> float:
        """logits: [..., V] float32/float64; targets: [...] int; mask: [...] bool or None.
        Returns the loss (a Python float)."""
        logits = as_array(logits, "logits")
        if logits.dtype not in (np.float32, np.float64):
            raise TypeError(f"logits: expected dtype float32 or float64, got {logits.dtype}")
        if logits.ndim < 1 or logits.shape[-1] < 1:
            raise ValueError(f"logits: expected shape [..., V] with V >= 1, got {logits.shape}")
        targets = int_array(targets, "targets")
        if targets.shape != logits.shape[:-1]:
            raise ValueError(
                f"targets: expected shape {logits.shape[:-1]} (logits' shape without V), "
                f"got {targets.shape}"
            )
        if mask is not None:
            mask = np.ascontiguousarray(bool_mask(mask, "mask", targets.shape)).reshape(-1)
        shape = logits.shape
        logits2 = np.ascontiguousarray(logits).reshape(-1, shape[-1])  # [M, V]
        targets1 = targets.reshape(-1)  # [M]
        total, count, stats = _C.softmax_xent_forward(logits2, targets1, mask, self.ignore_index)
        self._set_thread_state((logits2, targets1, mask, stats, count, shape))
        if self.reduction == "sum":
            return float(total)
        return float(total / count) if count else float("nan")

    @property
    def count(self) -> int:
        """Positions counted by this thread's last forward."""
        saved = self._thread_state()
        if saved is None:
            raise RuntimeError("count: call forward first (in this thread)")
        return saved[4]

    def backward(self, dloss: float = 1.0):
        """Returns dlogits (shape of logits) for an upstream gradient `dloss` of the loss (a float
        or a 0-d array: a torch scalar tensor, say)."""
        saved = self._thread_state()
        if saved is None:
            raise RuntimeError("backward: call forward first (in this thread)")
        if isinstance(dloss, bool) or not isinstance(dloss, numbers.Real):
            dloss = _scalar(dloss)
        logits2, targets1, mask, stats, count, shape = saved
        scale = float(dloss)
        if self.reduction == "mean":
            scale = scale / count if count else 0.0
        d = _C.softmax_xent_backward(logits2, targets1, mask, stats, self.ignore_index, scale)
        return d.reshape(shape)


def _scalar(value) -> float:
    """A 0-d real array (numpy's, or anything with __array__: a torch scalar tensor) as a float."""
    if not hasattr(value, "__array__"):
        raise TypeError(f"dloss: expected a float or a 0-d array, got {type(value).__name__}")
    if hasattr(value, "detach"):  # a torch tensor that requires grad refuses __array__
        value = value.detach().cpu()
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "fiu":
        raise TypeError(
            f"dloss: expected a float or a 0-d real array, got shape {arr.shape} dtype {arr.dtype}"
        )
    return float(arr)
