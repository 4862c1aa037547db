"""Argument checks shared by the fastrnn.nn modules: each raises TypeError/ValueError naming the
argument, the expected and the actual type, dtype or shape."""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_array(value, name: str) -> np.ndarray:
    """Returns `value` (numpy array, torch tensor or nested sequence) as a numpy array."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as e:  # noqa: BLE001 - any conversion failure is a type error here
        raise TypeError(f"{name}: expected a numpy array, got {type(value).__name__}") from e


def float_array(value, name: str, dtype) -> np.ndarray:
    """`value` as a C-contiguous array of exactly `dtype` (float32 or float64)."""
    a = as_array(value, name)
    if a.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, got {a.dtype}")
    return np.asarray(a, order="C")  # (ascontiguousarray would make a 0-d array 1-d)


def int_array(value, name: str) -> np.ndarray:
    """`value` as a C-contiguous int64 array (any integer dtype accepted, bool refused)."""
    a = as_array(value, name)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name}: expected an integer array, got dtype {a.dtype}")
    return np.asarray(a, dtype=np.int64, order="C")  # keeps a 0-d array 0-d


def bool_mask(value, name: str, shape: tuple) -> np.ndarray:
    """`value` as a bool array of exactly `shape`."""
    a = as_array(value, name)
    if a.dtype != np.bool_:
        raise TypeError(f"{name}: expected dtype bool, got {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {a.shape}")
    return a


def float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    return dtype


def int_at_least(value, name: str, minimum: int) -> int:
    """`value` as an int (anything operator.index accepts but a bool) that is >= minimum."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an int, got bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}") from None
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def positive_int(value, name: str) -> int:
    return int_at_least(value, name, 1)


def bool_flag(value, name: str) -> bool:
    """`value` (a Python or numpy bool) as a bool; TypeError naming `name` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def real_scalar(value, name: str, what: str = "a real number") -> float:
    """`value` (a Python or numpy number, a 0-d array, a torch scalar tensor) as a float; a
    TypeError naming `name` and `what` was expected otherwise."""
    a = as_array(value, name)
    if a.shape != () or a.dtype.kind not in "iuf":
        raise TypeError(
            f"{name}: expected {what}, got {type(value).__name__} of dtype {a.dtype} and shape "
            f"{a.shape}"
        )
    return float(a)


def real_number(value, name: str) -> float:
    """`value` (a Python or numpy real number, not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a float, got {type(value).__name__}")
    return float(value)


def nonnegative_float(value, name: str, *, upper: float | None = None) -> float:
    """`value` as a finite float >= 0 (and < upper when given)."""
    value = real_number(value, name)
    if not 0.0 <= value < (math.inf if upper is None else upper):
        bound = f"in [0, {upper:g})" if upper is not None else ">= 0"
        raise ValueError(f"{name}: expected a finite value {bound}, got {value}")
    return value
