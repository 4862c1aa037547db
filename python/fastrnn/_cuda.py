"""cuBLAS for fastrnn's CUDA kernels, found and loaded at their first use (import never needs it).

cuBLAS 13 (`libcublas.so.13`) comes from PyPI's `nvidia-cublas` wheel (`nvidia/cu13/lib` in
site-packages) or, failing that, from a CUDA 13 toolkit (`$CUDA_HOME/lib64`) or the dynamic
loader's own search path. The C++ side opens it with dlopen and keeps it for the process.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

from fastrnn import _C

CUBLAS_SONAME = "libcublas.so.13"
_lock = threading.Lock()


def cublas_candidates() -> list[str]:
    """Where cuBLAS is looked for, in order: each `nvidia` package directory's cu13/lib (the
    nvidia-cublas wheel), $CUDA_HOME/lib64 and $CUDA_PATH/lib64, then the bare name for the
    dynamic loader's search (LD_LIBRARY_PATH, ld.so.cache)."""
    found = []
    spec = importlib.util.find_spec("nvidia")
    for base in (spec.submodule_search_locations or []) if spec is not None else []:
        found.append(Path(base) / "cu13" / "lib" / CUBLAS_SONAME)
    for var in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(var):
            found.append(Path(os.environ[var]) / "lib64" / CUBLAS_SONAME)
    return [str(p) for p in found if p.is_file()] + [CUBLAS_SONAME]


def load_cublas() -> str:
    """Loads cuBLAS once per process and returns what was loaded.

    Raises RuntimeError when this build has no CUDA kernels or no cuBLAS 13 can be loaded (naming
    the package to install and every place tried)."""
    if not _C.cuda_compiled():
        raise RuntimeError(
            "this fastrnn build has no CUDA kernels (it was built with FASTRNN_CUDA=OFF or "
            "without a CUDA compiler)"
        )
    with _lock:
        loaded = _C.cuda_cublas_path()
        if loaded:
            return loaded
        errors = []
        for candidate in cublas_candidates():
            try:
                _C.cuda_load_cublas(candidate)
                return candidate
            except ValueError as e:
                errors.append(str(e))
        raise RuntimeError(
            "fastrnn's CUDA kernels need cuBLAS 13 (libcublas.so.13) and none could be loaded: "
            "pip install nvidia-cublas (or put a CUDA 13 toolkit's lib64 on LD_LIBRARY_PATH). "
            "Tried: " + "; ".join(errors)
        )
