"""Thread control and the build/machine report (`fastrnn.show_config()`, `python -m fastrnn`)."""

import importlib.metadata
import operator
import os
import sys
import warnings

from fastrnn import _C

_count_chosen = False  # set_num_threads was called (fastrnn.torch then leaves the count alone)


def set_num_threads(n: int) -> None:
    """Sets the threads fastrnn uses (1..4096): its own pool, which runs all of its parallel
    work (or, once fastrnn.torch is imported and torch's team has that many, torch's OpenMP
    threads); the BLAS itself stays at one thread. RuntimeError when the system refuses to start
    that many (a process or memory limit): fastrnn then runs with the threads it started."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n: expected an int, got {type(n).__name__}") from None
    if not 1 <= n <= 4096:
        raise ValueError(f"n: expected a thread count in 1..4096, got {n}")
    global _count_chosen
    _count_chosen = True
    _C.set_num_threads(n)


def thread_count_chosen() -> bool:
    """Whether the user chose fastrnn's thread count: set_num_threads was called, or
    FASTRNN_NUM_THREADS holds a thread count."""
    return _count_chosen or _is_thread_count(os.environ.get("FASTRNN_NUM_THREADS", ""))


def _is_thread_count(value: str) -> bool:
    """Whether FASTRNN_NUM_THREADS's value is one the pool takes: a count in 1..4096."""
    return value.isascii() and value.isdigit() and 1 <= int(value) <= 4096


def get_num_threads() -> int:
    """Returns the threads fastrnn uses."""
    return _C.get_num_threads()


def _installed_version(distribution: str) -> str:
    """The version of an installed distribution (the one loaded, not the one built against)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def config() -> dict:
    """The facts show_config() prints, as a dict."""
    cuda = _C.cuda_compiled()
    return {
        "version": _C.version(),
        "compiler": _C.compiler(),
        "simd": _C.simd_level(),
        "blas": f"scipy-openblas32 {_installed_version('scipy-openblas32')} ({_C.blas_version()})",
        "threads": _C.get_num_threads(),
        "threads_runtime": (
            f"torch's OpenMP threads when their count is this, via {_C.openmp_runtime()}"
            if _C.openmp_runtime()
            else "fastrnn's pool"
        ),
        "cuda_compiled": cuda,
        "cuda_devices": _C.cuda_device_count() if cuda else 0,
        "cuda_runtime": _C.cuda_runtime_info(),
        "cuda_cublas": _C.cuda_cublas_path() if cuda else "",
        "python": sys.version.split()[0],
    }


def show_config(file=None) -> None:
    """Prints version, compiler, SIMD level in use, BLAS, threads and CUDA status."""
    c = config()
    cuda = "not compiled"
    if c["cuda_compiled"]:
        cuda = f"compiled, {c['cuda_devices']} device(s) found ({c['cuda_runtime']})"
        if c["cuda_devices"] == 0:
            cuda += "; running as a CPU build"
        else:
            cuda += f"; cuBLAS {c['cuda_cublas'] or 'loaded at the first GPU call'}"
    lines = [
        f"fastrnn {c['version']}",
        f"  compiler : {c['compiler']}",
        f"  simd     : {c['simd']}",
        f"  blas     : {c['blas']}",
        f"  threads  : {c['threads']} ({c['threads_runtime']})",
        f"  cuda     : {cuda}",
        f"  python   : {c['python']}",
    ]
    print("\n".join(lines), file=file or sys.stdout)


def _check_isa_variable() -> None:
    """Warns when FASTRNN_ISA holds a value the kernels do not know (they read it in any letter
    case and ignore any other value, so a typo would silently leave the widest ISA in use)."""
    cap = os.environ.get("FASTRNN_ISA", "")
    if cap and cap.lower() not in ("generic", "avx2", "avx512"):
        warnings.warn(
            f"FASTRNN_ISA={cap!r} is not generic, avx2 or avx512: ignored, fastrnn's kernels "
            f"use {_C.simd_level()}",
            RuntimeWarning,
            stacklevel=2,
        )


def _check_threads_variable() -> None:
    """Warns when FASTRNN_NUM_THREADS is set to something other than a thread count in 1..4096
    (the pool then takes OMP_NUM_THREADS or the usable CPUs, so a typo would go unnoticed)."""
    value = os.environ.get("FASTRNN_NUM_THREADS")
    if value is not None and not _is_thread_count(value):
        warnings.warn(
            f"FASTRNN_NUM_THREADS={value!r} is not a thread count in 1..4096: ignored",
            RuntimeWarning,
            stacklevel=2,
        )


_check_isa_variable()
_check_threads_variable()
