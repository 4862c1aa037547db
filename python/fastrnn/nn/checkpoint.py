"""Checkpoints: one .npz file holding the modules' parameters, the optimiser's and schedule's
state, the random generators' states, the step and any extra JSON metadata. No pickle: arrays
are npz members and everything else is one JSON document stored as a uint8 member, read back
by fastrnn._npz's checked reader (a malformed or hostile file is a ValueError). Saving is
atomic (fastrnn._atomic). Loading is all-or-nothing: the file's structure and the presence of
everything asked for are checked first, and if applying a part still fails, every object is
put back as it was (their gradients are zeroed). Loading into freshly built objects resumes
exactly: the next step gives the same numbers as a run that never stopped: the random
generators (any numpy bit generator) and the recurrent state a Recurrent(carry_state=True)
carries between truncated-BPTT chunks are saved too."""

from __future__ import annotations

import json

import numpy as np

from fastrnn._atomic import atomic_write
from fastrnn._npz import read_npz

FORMAT = "fastrnn-checkpoint"
VERSION = 1
_META = "__meta__"


def _flatten(tree, prefix: str, arrays: dict):
    """Replaces each ndarray in a tree of dicts/lists by {"__array__": key} (storing it in
    `arrays` under its place in the tree, "modules/lm/0.weight", made unique with "#n" where keys
    holding "/" would collide) and numpy scalars by Python numbers; returns the JSON-able tree."""
    if isinstance(tree, np.ndarray):
        key, n = prefix, 0
        while key in arrays:
            n += 1
            key = f"{prefix}#{n}"
        arrays[key] = tree
        return {"__array__": key}
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            raise ValueError(
                f"{prefix}: a dict whose only key is '__array__' cannot be stored (the "
                "checkpoint marks its arrays that way)"
            )
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
            f"{name}{sub}": _flatten(g.bit_generator.state, f"generators/{name}{sub}", arrays)
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
        "rng": None if rng is None else _flatten(rng.bit_generator.state, "rng", arrays),
        "extra": _flatten(extra, "extra", arrays),
    }
    meta_bytes = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **{_META: meta_bytes}, **arrays)


def load_checkpoint(path, *, modules, optimizer=None, scheduler=None, rng=None) -> dict:
    """Loads a checkpoint into existing objects built as when it was saved: each module's
    parameters and generator, and the optimiser's, schedule's and `rng`'s states when given.
    All or nothing: on any error (a ValueError naming the file) every parameter and state is as
    before (gradients are zeroed if a module had to be put back).
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


_META_KEYS = {
    "format": str,
    "version": int,
    "step": int,
    "modules": dict,
    "generators": dict,
    "carried_states": dict,
    "optimizer": (dict, type(None)),
    "scheduler": (dict, type(None)),
    "rng": (dict, type(None)),
}


def _check_arrays(tree, arrays, where: str) -> None:
    """Every {"__array__": key} in `tree` names a member of `arrays`."""
    if isinstance(tree, dict):
        if set(tree) == {"__array__"}:
            if not isinstance(tree["__array__"], str) or tree["__array__"] not in arrays:
                raise ValueError(f"{where}: refers to a missing array {tree['__array__']!r}")
            return
        for k, v in tree.items():
            _check_arrays(v, arrays, f"{where}/{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            _check_arrays(v, arrays, f"{where}/{i}")


def _check_meta(meta, arrays, modules, optimizer, scheduler, rng) -> None:
    """Checks the metadata's structure and that it holds everything asked for, before anything
    is applied."""
    for key, types in _META_KEYS.items():
        if key not in meta:
            raise ValueError(f"metadata: no {key!r} entry")
        if not isinstance(meta[key], types) or isinstance(meta[key], bool):
            raise ValueError(f"metadata: {key!r} has type {type(meta[key]).__name__}")
    _check_arrays(meta, arrays, "metadata")
    saved = meta["modules"]
    if set(saved) != set(modules):
        raise ValueError(f"modules: checkpoint has {sorted(saved)}, got {sorted(modules)}")
    for what, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("rng", rng)):
        if obj is not None and meta[what] is None:
            holds = {"optimizer": "optimiser", "scheduler": "schedule", "rng": "generator"}[what]
            raise ValueError(f"{what}: the checkpoint holds no {holds} state")
    generators = meta["generators"]
    for name, m in modules.items():
        for sub, g in _generators(m, ""):
            _check_generator_state(generators.get(f"{name}{sub}"), g, f"generators[{name}{sub!r}]")
    if rng is not None:
        _check_generator_state(meta["rng"], rng, "rng")


def _check_generator_state(state, generator, where: str) -> None:
    if state is None:
        return
    kind = type(generator.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        saved = state.get("bit_generator") if isinstance(state, dict) else state
        raise ValueError(f"{where}: expected a {kind} state, the checkpoint holds {saved!r}")


def _snapshot(modules, optimizer, scheduler, rng):
    """Everything loading may change, to put back if a part fails to load."""
    return {
        "modules": {name: m.state_dict() for name, m in modules.items()},
        "generators": [
            (g, g.bit_generator.state) for m in modules.values() for _, g in _generators(m, "")
        ],
        "carried": [(r, r.state) for m in modules.values() for _, r in _carriers(m, "")],
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": None if rng is None else rng.bit_generator.state,
    }


def _roll_back(snapshot, modules, optimizer, scheduler, rng) -> None:
    for name, m in modules.items():
        m.load_state_dict(snapshot["modules"][name])
    for g, state in snapshot["generators"]:
        g.bit_generator.state = state
    for r, state in snapshot["carried"]:
        r.state = state
    if optimizer is not None:
        optimizer.load_state_dict(snapshot["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(snapshot["scheduler"])
    if rng is not None:
        rng.bit_generator.state = snapshot["rng"]


def _restore(meta, arrays, modules, optimizer, scheduler, rng) -> dict:
    _check_meta(meta, arrays, modules, optimizer, scheduler, rng)
    snapshot = _snapshot(modules, optimizer, scheduler, rng)
    try:
        _apply(meta, arrays, modules, optimizer, scheduler, rng)
    except BaseException:
        _roll_back(snapshot, modules, optimizer, scheduler, rng)
        raise
    return {"step": meta["step"], "extra": _unflatten(meta.get("extra"), arrays)}


def _apply(meta, arrays, modules, optimizer, scheduler, rng) -> None:
    saved = meta["modules"]
    for name, m in modules.items():
        try:
            m.load_state_dict(_unflatten(saved[name], arrays))
        except ValueError as e:
            raise ValueError(f"modules[{name!r}]: {e}") from e
    generators = meta["generators"]
    for name, m in modules.items():
        for sub, g in _generators(m, ""):
            if f"{name}{sub}" in generators:
                g.bit_generator.state = _unflatten(generators[f"{name}{sub}"], arrays)
    carried = meta["carried_states"]
    for name, m in modules.items():
        for sub, r in _carriers(m, ""):
            state = _unflatten(carried.get(f"{name}{sub}"), arrays)
            r.state = tuple(state) if isinstance(state, list) else state
    if optimizer is not None:
        optimizer.load_state_dict(_unflatten(meta["optimizer"], arrays))
    if scheduler is not None:
        scheduler.load_state_dict(_unflatten(meta["scheduler"], arrays))
    if rng is not None:
        rng.bit_generator.state = _unflatten(meta["rng"], arrays)
