"""Checkpoints: one .npz file holding the modules' parameters, the optimiser's and schedule's
state, the random generators' states, the step and any extra JSON metadata. No pickle: arrays
are npz members and everything else is one JSON document stored as a uint8 member, read back
by fastrnn._npz's checked reader (a malformed or hostile file is a ValueError). Saving is
atomic (a temporary file in the same directory, then os.replace). Loading into freshly built
objects resumes exactly: the next step gives the same numbers as a run that never stopped: the
recurrent state a Recurrent(carry_state=True) carries between truncated-BPTT chunks is saved
too."""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from fastrnn._npz import read_npz

FORMAT = "fastrnn-checkpoint"
VERSION = 1
_META = "__meta__"


def _flatten(tree, prefix: str, arrays: dict):
    """Replaces each ndarray in a tree of dicts/lists by {"__array__": key} (storing it in
    `arrays`) and numpy scalars by Python numbers; returns the JSON-able tree."""
    if isinstance(tree, np.ndarray):
        arrays[prefix] = tree
        return {"__array__": prefix}
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            if not isinstance(k, str):
                raise TypeError(f"{prefix}: checkpoint keys must be strings, got {k!r}")
            out[k] = _flatten(v, f"{prefix}/{k}", arrays)
        return out
    if isinstance(tree, (list, tuple)):
        return [_flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(tree)]
    if isinstance(tree, np.generic):
        return tree.item()
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise TypeError(f"{prefix}: cannot store a {type(tree).__name__} in a checkpoint")


def _unflatten(tree, arrays):
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            return arrays[tree["__array__"]]
        return {k: _unflatten(v, arrays) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_unflatten(v, arrays) for v in tree]
    return tree


def _generators(module, prefix: str):
    """(name, numpy Generator) for the generators a module draws from (dropout masks)."""
    rng = getattr(module, "_rng", None)
    if isinstance(rng, np.random.Generator):
        yield prefix, rng
    for i, child in enumerate(getattr(module, "modules", None) or []):
        yield from _generators(child, f"{prefix}.{i}")


def _carriers(module, prefix: str):
    """(name, Recurrent) for the recurrent adapters that carry their state between forwards
    (truncated BPTT): that state is part of where training stands."""
    if getattr(module, "carry_state", False):
        yield prefix, module
    for i, child in enumerate(getattr(module, "modules", None) or []):
        yield from _carriers(child, f"{prefix}.{i}")


def _check_modules(modules) -> dict:
    if not isinstance(modules, dict) or not modules:
        raise TypeError("modules: expected a non-empty dict {name: module}")
    for name, m in modules.items():
        if not isinstance(name, str) or "/" in name:
            raise ValueError(f"modules: names must be strings without '/', got {name!r}")
        if not hasattr(m, "state_dict") or not hasattr(m, "load_state_dict"):
            raise TypeError(f"modules[{name!r}]: {type(m).__name__} has no state_dict")
    return modules


def save_checkpoint(
    path, *, modules, optimizer=None, scheduler=None, step=0, rng=None, extra=None
) -> None:
    """Writes a checkpoint to `path` (atomically).

    modules: {name: module} (anything with state_dict()); optimizer, scheduler: fastrnn.optim
    objects or None; step: an int; rng: a numpy Generator whose state to keep (e.g. the batch
    sampler's) or None; extra: JSON-able metadata (dicts, lists, numbers, strings)."""
    modules = _check_modules(modules)
    arrays: dict = {}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": int(step),
        "modules": {
            name: _flatten(dict(m.state_dict()), f"modules/{name}", arrays)
            for name, m in modules.items()
        },
        "generators": {
            f"{name}{sub}": g.bit_generator.state
            for name, m in modules.items()
            for sub, g in _generators(m, "")
        },
        "carried_states": {
            f"{name}{sub}": _flatten(
                list(r.state) if isinstance(r.state, tuple) else r.state,
                f"carried/{name}{sub}",
                arrays,
            )
            for name, m in modules.items()
            for sub, r in _carriers(m, "")
        },
        "optimizer": None
        if optimizer is None
        else _flatten(optimizer.state_dict(), "optimizer", arrays),
        "scheduler": None
        if scheduler is None
        else _flatten(scheduler.state_dict(), "scheduler", arrays),
        "rng": None if rng is None else rng.bit_generator.state,
        "extra": _flatten(extra, "extra", arrays),
    }
    meta_bytes = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ckpt-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_META: meta_bytes}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(path, *, modules, optimizer=None, scheduler=None, rng=None) -> dict:
    """Loads a checkpoint into existing objects built as when it was saved: each module's
    parameters and generator, and the optimiser's, schedule's and `rng`'s states when given.
    Returns {"step": int, "extra": ...}."""
    modules = _check_modules(modules)
    arrays = read_npz(path)
    blob = arrays.pop(_META, None)
    if blob is None or blob.dtype != np.uint8 or blob.ndim != 1:
        raise ValueError(f"path: {path} is not a fastrnn checkpoint (no metadata)")
    try:
        meta = json.loads(blob.tobytes().decode())
    except (ValueError, RecursionError) as e:
        raise ValueError(f"path: {path} holds corrupt metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"path: {path} is not a fastrnn checkpoint of version {VERSION}")
    try:
        return _restore(meta, arrays, modules, optimizer, scheduler, rng)
    except ValueError as e:
        raise ValueError(f"path: {path}: {e}") from e
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        what = f"{type(e).__name__}: {e}"
        raise ValueError(f"path: {path} is a corrupt checkpoint ({what})") from None


def _restore(meta, arrays, modules, optimizer, scheduler, rng) -> dict:
    saved = meta["modules"]
    if set(saved) != set(modules):
        raise ValueError(f"modules: checkpoint has {sorted(saved)}, got {sorted(modules)}")
    for name, m in modules.items():
        try:
            m.load_state_dict(_unflatten(saved[name], arrays))
        except ValueError as e:
            raise ValueError(f"modules[{name!r}]: {e}") from e
    generators = meta["generators"]
    for name, m in modules.items():
        for sub, g in _generators(m, ""):
            if f"{name}{sub}" in generators:
                g.bit_generator.state = generators[f"{name}{sub}"]
    carried = meta["carried_states"]
    for name, m in modules.items():
        for sub, r in _carriers(m, ""):
            state = _unflatten(carried.get(f"{name}{sub}"), arrays)
            r.state = tuple(state) if isinstance(state, list) else state
    if optimizer is not None:
        if meta["optimizer"] is None:
            raise ValueError("optimizer: the checkpoint holds no optimiser state")
        optimizer.load_state_dict(_unflatten(meta["optimizer"], arrays))
    if scheduler is not None:
        if meta["scheduler"] is None:
            raise ValueError("scheduler: the checkpoint holds no schedule state")
        scheduler.load_state_dict(_unflatten(meta["scheduler"], arrays))
    if rng is not None:
        if meta["rng"] is None:
            raise ValueError("rng: the checkpoint holds no generator state")
        rng.bit_generator.state = meta["rng"]
    return {"step": meta["step"], "extra": _unflatten(meta["extra"], arrays)}
