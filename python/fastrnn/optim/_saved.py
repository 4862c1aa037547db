"""The check shared by the schedules' load_state_dict: a saved state must have exactly the
expected keys and the same fixed settings as the object loading it."""

from __future__ import annotations

import numpy as np


def check_saved_settings(state_dict, expected: set, owner, settings: tuple) -> None:
    """Raises ValueError unless state_dict is a dict with exactly the keys `expected` and, for
    each name in `settings`, the value `owner` has (the message names the first that differs)."""
    if not isinstance(state_dict, dict) or set(state_dict) != expected:
        got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
        raise ValueError(f"state_dict: expected keys {sorted(expected)}, got {got}")
    for name in settings:
        if not _same(state_dict[name], getattr(owner, name)):
            raise ValueError(
                f"state_dict[{name!r}]: saved by a {type(owner).__name__} with {name}="
                f"{state_dict[name]!r}, this one has {name}={getattr(owner, name)!r}"
            )


def _same(saved, value) -> bool:
    """saved == value for a setting (a number or a str); an array (a checkpoint's arrays come back
    as ndarrays), or anything whose comparison is not a plain truth value, differs."""
    if isinstance(saved, np.ndarray):
        return False
    try:
        return bool(saved == value)
    except (TypeError, ValueError):
        return False
