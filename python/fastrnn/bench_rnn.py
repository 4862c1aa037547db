"""Measurements behind `fastrnn-bench`: recurrent layers, single cell steps and the SGEMM peak.

Every measurement follows DESIGN.md "Benchmarks": fastrnn and PyTorch run the same operation in
the same process, alternating (the order flips every repeat), the reported time is the median of
the repeats after a warm-up, and both use the same thread count. Each function returns one row:
a flat dict that the CLI (bench.py) prints, plots and writes as JSON.

    sgemm_peak(threads)                      -> {"gflops", "backend", "size", "by_backend", ...}
    measure_rnn(mode, T, N, I, H, ...)       -> row of a layer's training step or inference forward
    measure_cell(mode, N, I, H, ...)         -> row of one streaming step at batch N

Shape letters as in DESIGN.md: T steps, N batch, I inputs, H hidden units, S state size (H here),
G gates (RNN 1, GRU 3, LSTM 4), L layers, D directions.
"""

# ruff: noqa: E741  (I is the shape letter for input features, as in DESIGN.md)

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import hashlib
import inspect
import math
import os
import threading
import time
from collections.abc import Callable

import numpy as np

import fastrnn
from fastrnn import functional as F

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")

MEMORY_METHOD = (
    "mem = bytes an op keeps alive after its forward: for a training step what backward needs "
    "plus the outputs, for inference and cell steps the outputs; parameters and the input x are "
    "not counted; arrays sharing a buffer are counted once, by their whole buffer. fastrnn: the "
    "layer's saved contexts (inputs of layers above the first, saved gate activations, dropout "
    "masks) + y, h_n (c_n). torch: every tensor saved for backward by the autograd graph "
    "(torch.autograd.graph.saved_tensors_hooks) + y, h_n (c_n). Not the transient peak inside the "
    "kernels. malloc_retained_bytes cross-checks it: the growth of glibc's in-use heap "
    "(mallinfo2) across one forward, which also sees C++ allocations"
)
PEAK_FLOAT32_ONLY = "no % of peak: the peak is float32's SGEMM and this row is not float32"


def _restores_thread_counts(measure):
    """Decorates a measurement that sets fastrnn's (and, comparing, torch's) thread count to the
    row's: both are as before once it returns, so a library caller keeps its own settings."""

    @functools.wraps(measure)
    def wrapper(*args, **kwargs):
        bound = inspect.signature(measure).bind(*args, **kwargs)
        bound.apply_defaults()
        torch = _import_torch() if bound.arguments.get("compare") == "torch" else None
        before = fastrnn.get_num_threads(), torch.get_num_threads() if torch else None
        try:
            return measure(*args, **kwargs)
        finally:
            fastrnn.set_num_threads(before[0])
            if torch is not None:
                torch.set_num_threads(before[1])

    return wrapper


TRAINING_METHOD = (
    "training step = forward + backward with the input gradient computed; gradients are zeroed "
    "outside the timed region (torch: zero_grad(set_to_none=False)), so both accumulate into "
    "existing gradient buffers"
)
TIMING_METHOD = (
    "timing: fastrnn and the comparison alternate, each sample after a 30 ms pause in which "
    "neither runs, while the timing thread and a helper thread per other CPU busy-wait (so "
    "neither library runs while the other's worker threads still spin, and no CPU is idle: a CPU "
    "left idle for 30 ms ran the next milliseconds of work up to 1.6x slower on a VM), median of "
    "the repeats"
)
FLOPS_METHOD = (
    "GFLOP/s counts GEMM flops only: forward per layer and direction 2*T*N*G*H*(I_l+S), "
    "I_l = I for the first layer and D*S above; a training step counts 3x the forward"
)


# ---------------------------------------------------------------------------------------------
# timing


# hashlib releases the GIL while it hashes more than 2 KB: a thread hashing this (about 0.1 ms a
# call) keeps its CPU busy whatever the other threads do
_SPIN_BLOCK = bytes(1 << 18)


def settle(seconds: float) -> None:
    """Busy-waits `seconds` on every CPU this process may use (up to 64): the calling thread and
    one helper thread per other CPU hash a buffer until the deadline (hashlib releases the GIL, so
    they run at once), so no CPU goes idle; the helpers have stopped when it returns. On a VM an
    idle vCPU is slow to come back (a CPU left idle for 30 ms ran the next milliseconds of work up
    to 1.6x slower on this project's 2-core machine), which no library's speed accounts for and a
    training loop, which runs its steps back to back, never sees.
    """
    end = time.perf_counter() + seconds
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            hashlib.sha256(_SPIN_BLOCK).digest()

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    helpers = []
    try:
        for _ in range(min(cpus or 1, 64) - 1):
            helper = threading.Thread(target=spin, daemon=True)
            helper.start()
            helpers.append(helper)
        while time.perf_counter() < end:
            hashlib.sha256(_SPIN_BLOCK).digest()
    finally:
        stop.set()
        for helper in helpers:
            helper.join()


def time_alternating(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    warmup: int,
    before: dict[str, Callable[[], object]] | None = None,
    min_sample_s: float = 0.005,
    settle_s: float = 0.03,  # TIMING_METHOD says 30 ms
) -> dict[str, list[float]]:
    """Times each callable alternately; returns seconds per call, one entry per repeat.

    Warm-up calls are run first (alternating too) and also calibrate `number`, the calls per timed
    sample, so that a sample lasts at least `min_sample_s` (fast ops such as one cell step would
    otherwise be below the clock's resolution). `before[name]` runs outside the timed region
    before every sample of `name`. The order of the callables flips every repeat.

    Each sample starts after a pause of `settle_s`, so that the worker threads the previous
    sample left spinning (PyTorch's OpenMP workers spin for milliseconds after a parallel region,
    fastrnn's pool for about 0.3 ms) are asleep and do not take the cores from the next sample:
    each library is timed as it runs on its own, not in the other's wake. The pause busy-waits
    on every CPU (settle) rather than sleeping: a CPU left idle that long is slow to come back (on
    a 2-core VM, a 0.2 ms layer call took 0.33 ms on average over the next 16 calls after a 30 ms
    sleep, 0.22 ms after a 30 ms busy-wait of the timing thread), which no library's speed
    accounts for, and a training loop, which runs its steps back to back, never sees.
    """
    before = before or {}
    names = list(fns)
    fastest = {name: math.inf for name in names}
    for w in range(warmup):
        for name in names if w % 2 == 0 else reversed(names):
            if name in before:
                before[name]()
            t0 = time.perf_counter()
            fns[name]()
            fastest[name] = min(fastest[name], time.perf_counter() - t0)
    number = {
        name: 1 if math.isinf(t) else max(1, math.ceil(min_sample_s / max(t, 1e-9)))
        for name, t in fastest.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # no collector pauses inside a sample; the young generation is swept between
    try:
        for r in range(repeats):
            for name in names if r % 2 == 0 else reversed(names):
                if name in before:
                    before[name]()
                fn, n = fns[name], number[name]
                settle(settle_s)
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                samples[name].append((time.perf_counter() - t0) / n)
            gc.collect(0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def paired_speedup(theirs: list[float], ours: list[float]) -> float:
    """Median over repeats of theirs[r] / ours[r]: each ratio compares two samples taken next to
    each other, so a slow drift of the machine's load cancels (kept beside the ratio of medians)."""
    return float(np.median(np.asarray(theirs) / np.asarray(ours)))


# ---------------------------------------------------------------------------------------------
# flop counts


def count(n: int, noun: str) -> str:
    """'1 thread', '2 threads': a count and its noun, in the singular for one."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def gates(mode: str) -> int:
    """G, the gates per cell."""
    return F.MODES[mode]


def forward_gemm_flops(
    mode: str, T: int, N: int, I: int, H: int, layers: int = 1, directions: int = 1, P: int = 0
) -> int:
    """GEMM flops of one forward pass: per layer and direction 2*T*N*G*H*(I_l+S) (+2*T*N*P*H)."""
    G, S = gates(mode), P or H
    total = 0
    for layer in range(layers):
        in_size = I if layer == 0 else directions * S
        per = 2 * T * N * G * H * (in_size + S) + (2 * T * N * P * H if P else 0)
        total += directions * per
    return total


def rnn_row_bytes(
    mode: str,
    T: int,
    N: int,
    I: int,
    H: int,
    layers: int = 1,
    directions: int = 1,
    itemsize: int = 4,
    training: bool = True,
) -> int:
    """A lower bound of the bytes a measure_rnn row holds at once, fastrnn's side alone: x
    [T,N,I], y [T,N,D*H] and the weights; training adds dy [T,N,D*H] and the activations saved
    for backward, at least [T,N,G*H] per layer and direction."""
    G, D = gates(mode), directions
    weights = D * G * H * ((I + H + 2) + (layers - 1) * (D * H + H + 2))  # (I_l = D*H above)
    elements = T * N * I + T * N * D * H + weights
    if training:
        elements += T * N * D * H + layers * D * T * N * G * H
    return elements * itemsize


def cell_row_bytes(mode: str, N: int, I: int, H: int, itemsize: int = 4) -> int:
    """A lower bound of the bytes a measure_cell row holds: the weights, x [N,I] and h [N,H]."""
    return (gates(mode) * H * (I + H + 2) + N * (I + H)) * itemsize


# ---------------------------------------------------------------------------------------------
# SGEMM peak


def _openblas():
    """The OpenBLAS fastrnn links (scipy-openblas32) through ctypes: (sgemm, set_threads,
    get_threads), or None."""
    try:
        import scipy_openblas32
    except ImportError:
        return None
    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in ("scipy_", ""):
        sgemm = getattr(lib, prefix + "cblas_sgemm", None)
        set_threads = getattr(lib, prefix + "openblas_set_num_threads", None)
        get_threads = getattr(lib, prefix + "openblas_get_num_threads", None)
        if sgemm is not None and set_threads is not None and get_threads is not None:
            vp, ci = ctypes.c_void_p, ctypes.c_int
            sgemm.argtypes = [ci] * 6 + [ctypes.c_float, vp, ci, vp, ci, ctypes.c_float, vp, ci]
            sgemm.restype = None
            set_threads.argtypes, set_threads.restype = [ci], None
            get_threads.argtypes, get_threads.restype = [], ci
            return sgemm, set_threads, get_threads
    return None


def _gemm_callable(backend: str, n: int):
    """One square float32 GEMM C = A B ([n,n] each) in `backend`, or None if unavailable."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)  # [n,n]
    b = rng.standard_normal((n, n), dtype=np.float32)  # [n,n]
    c = np.empty((n, n), dtype=np.float32)  # [n,n]
    if backend == "numpy":
        return lambda: np.matmul(a, b, out=c)
    if backend == "fastrnn-openblas":
        blas = _openblas()
        if blas is None:
            return None
        sgemm = blas[0]
        pa, pb, pc = a.ctypes.data, b.ctypes.data, c.ctypes.data
        keep = (a, b, c)  # the pointers above stay valid while the closure lives

        def run(keep=keep):
            # CblasRowMajor = 101, CblasNoTrans = 111
            sgemm(101, 111, 111, n, n, n, 1.0, pa, n, pb, n, 0.0, pc, n)

        return run
    if backend == "torch":
        torch = _import_torch()
        if torch is None:
            return None
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        return lambda: torch.mm(ta, tb, out=tc)
    if backend == "torch-onednn":
        return _onednn_callable(a, b)
    raise ValueError(f"unknown SGEMM backend {backend!r}")


def _onednn_callable(a, b):
    """A·Bᵀ ([n,n] each) through oneDNN's inner product as PyTorch ships it (the kernels its LSTM
    runs on, which dispatch on the CPU's own ISA; torch.mm goes through MKL, whose AVX-512 paths
    some non-Intel CPUs do not get), or None where this private entry point is missing."""
    torch = _import_torch()
    if torch is None:
        return None
    try:
        linear = torch._C._nn.mkldnn_linear
        ta, tb = torch.from_numpy(a).to_mkldnn(), torch.from_numpy(b).to_mkldnn()
        linear(ta, tb, None)
    except Exception:  # noqa: BLE001 - a private entry point: any failure means "not here"
        return None
    return lambda: linear(ta, tb, None)


def sgemm_peak(
    threads: int,
    sizes=(512, 1024, 2048),
    repeats: int = 7,
    backends=("numpy", "fastrnn-openblas", "torch", "torch-onednn"),
) -> dict:
    """The machine's float32 GEMM peak: the best median GFLOP/s over square sizes and backends.

    The median, like every row's time, so that a row's fraction of the peak compares like with
    like; the fastest sample of each size is kept too (`fastest_by_backend`). Sizes are those of
    large layers' GEMMs (the roofline they are held to); small GEMMs mostly measure overhead.

    Backends, all at `threads`: numpy's matmul (its own OpenBLAS, threads set with threadpoolctl;
    left out without it), fastrnn's OpenBLAS (scipy-openblas32's cblas_sgemm through ctypes,
    threads set through openblas_set_num_threads and restored after; fastrnn itself keeps it at
    one thread and parallelises GEMMs over its own pool), torch.mm when torch is importable, and
    oneDNN's float32 inner product through torch (torch-onednn). The BLAS libraries' own choice of
    kernels can fall short of the CPU (OPENBLAS_CORETYPE pins OpenBLAS to a core type; MKL takes
    AVX2 paths on some AMD CPUs), so the peak is the best of several.
    Each backend runs all its sizes in one block, then the CPU rests briefly, so that one
    library's spinning worker threads do not slow the next.
    """
    notes = []
    by_backend: dict[str, dict[str, float]] = {}  # the median sample's GFLOP/s
    fastest: dict[str, dict[str, float]] = {}  # the fastest sample's
    for backend in backends:
        restore = None
        if backend == "numpy":
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # numpy's BLAS would run at its own count, all cores
                notes.append(
                    "threadpoolctl is not installed: numpy's BLAS threads cannot be set, so numpy "
                    "is left out of the peak"
                )
                continue
            else:
                limiter = threadpool_limits(limits=threads, user_api="blas")
                restore = limiter.restore_original_limits
        elif backend == "fastrnn-openblas":
            blas = _openblas()
            if blas is not None:
                before = blas[2]()
                blas[1](threads)
                restore = lambda blas=blas, before=before: blas[1](before)  # noqa: E731
        elif backend in ("torch", "torch-onednn"):
            torch = _import_torch()
            if torch is not None:
                before_torch = torch.get_num_threads()
                torch.set_num_threads(threads)
                restore = lambda t=torch, b=before_torch: t.set_num_threads(b)  # noqa: E731
        try:
            for n in sizes:
                fn = _gemm_callable(backend, n)
                if fn is None:
                    break
                s = time_alternating({backend: fn}, repeats=repeats, warmup=1, min_sample_s=0.02)
                flop = 2.0 * n**3
                by_backend.setdefault(backend, {})[str(n)] = (
                    flop / float(np.median(s[backend])) / 1e9
                )
                fastest.setdefault(backend, {})[str(n)] = flop / float(np.min(s[backend])) / 1e9
        finally:
            if restore is not None:
                restore()
        if threads > 1:  # let this backend's worker threads stop spinning
            time.sleep(0.2)
    best = max(
        ((g, name, int(n)) for name, d in by_backend.items() for n, g in d.items()),
        default=(float("nan"), None, None),
    )
    return {
        "gflops": best[0],
        "backend": best[1],
        "size": best[2],
        "threads": threads,
        "by_backend": by_backend,
        "fastest_by_backend": fastest,
        "method": (
            f"square float32 GEMMs C = A B of sizes {', '.join(map(str, sizes))}, median of "
            f"{repeats} repeats after a warm-up, at {count(threads, 'thread')}; "
            "the peak is the best median over sizes and backends (numpy matmul; fastrnn's own "
            "OpenBLAS, scipy-openblas32 cblas_sgemm through ctypes; torch.mm; oneDNN's inner "
            "product through torch)"
        ),
        "notes": notes,
    }


# ---------------------------------------------------------------------------------------------
# memory


def _buffer(a: np.ndarray) -> np.ndarray:
    """The array owning a's memory (following .base)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def numpy_bytes(arrays, exclude=()) -> int:
    """Bytes of the distinct buffers behind `arrays`, except those sharing memory with `exclude`."""
    seen, total = set(), 0
    for a in arrays:
        if not isinstance(a, np.ndarray):
            continue
        if any(np.shares_memory(a, e) for e in exclude):
            continue
        buf = _buffer(a)
        if id(buf) not in seen:
            seen.add(id(buf))
            total += buf.nbytes
    return total


def torch_bytes(tensors, exclude=()) -> int:
    """Bytes of the distinct storages behind `tensors`, skipping those of `exclude`."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen, total = set(), 0
    for t in tensors:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr in skip or ptr in seen or ptr == 0:
            continue
        seen.add(ptr)
        total += storage.nbytes()
    return total


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _malloc_in_use():
    """glibc's in-use heap bytes (mallinfo2: uordblks + hblkhd), or None off glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _MallInfo2
    info = fn()
    return int(info.uordblks + info.hblkhd)


def malloc_retained(fn: Callable[[], object]):
    """Growth of the in-use heap while `fn`'s result is alive (None off glibc)."""
    gc.collect()
    start = _malloc_in_use()
    if start is None:
        return None
    result = fn()
    gc.collect()
    grown = _malloc_in_use() - start
    del result
    return max(grown, 0)


# ---------------------------------------------------------------------------------------------
# the layers


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_layer(torch, mode, I, H, layers, bidirectional, dtype, state_dict):
    kwargs = {"num_layers": layers, "bidirectional": bidirectional}
    if mode == "lstm":
        module = torch.nn.LSTM(I, H, **kwargs)
    elif mode == "gru":
        module = torch.nn.GRU(I, H, **kwargs)
    else:
        module = torch.nn.RNN(I, H, nonlinearity=mode.split("_")[1], **kwargs)
    module = module.to(getattr(torch, np.dtype(dtype).name))
    module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state_dict.items()})
    return module


def _fastrnn_layer(mode, I, H, layers, bidirectional, dtype, seed):
    kwargs = {"num_layers": layers, "bidirectional": bidirectional, "dtype": dtype, "seed": seed}
    if mode == "lstm":
        return fastrnn.LSTM(I, H, **kwargs)
    if mode == "gru":
        return fastrnn.GRU(I, H, **kwargs)
    return fastrnn.RNN(I, H, nonlinearity=mode.split("_")[1], **kwargs)


def _side(ms_samples, flops, tokens, peak) -> dict:
    ms = float(np.median(ms_samples))
    q25, q75 = np.percentile(ms_samples, [25, 75])
    gflops = flops / (ms * 1e6)
    return {
        "ms": ms,
        "ms_min": float(np.min(ms_samples)),
        "spread": float((q75 - q25) / ms),  # interquartile range / median: the run's noise
        "ms_samples": [float(s) for s in ms_samples],
        "tokens_per_s": tokens / (ms / 1e3),
        "gflops": gflops,
        "peak_fraction": gflops / peak if peak and peak == peak else None,
    }


def _arrays_in(obj, depth: int = 0) -> list[np.ndarray]:
    """Every numpy array reachable from obj through attributes, tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if depth > 4 or obj is None or isinstance(obj, (str, bytes, int, float, bool)):
        return []
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (tuple, list)):
        items = list(obj)
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        items = [getattr(obj, n, None) for n in names]
    else:
        return []
    return [a for item in items for a in _arrays_in(item, depth + 1)]


def _fastrnn_kept_bytes(layer, x, outputs) -> int | None:
    """Bytes the layer keeps for backward (every array in its saved state) + the outputs."""
    cache = layer._thread_state()  # what this thread's training forward kept
    if cache is None:
        return None
    return numpy_bytes([*outputs, *_arrays_in(cache)], exclude=[x, *layer.params.values()])


@_restores_thread_counts
def measure_rnn(
    mode: str,
    T: int,
    N: int,
    I: int,
    H: int,
    *,
    layers: int = 1,
    bidirectional: bool = False,
    dtype: str = "float32",
    training: bool = True,
    threads: int = 2,
    repeats: int = 5,
    warmup: int = 2,
    compare: str = "torch",
    peak: float | None = None,
    seed: int = 0,
) -> dict:
    """One row: a layer's training step (forward + backward) or inference forward.

    x: [T,N,I]; y: [T,N,D*H]. fastrnn: `layer.forward(x)` then `layer.backward(dy)` (inference:
    `layer.forward(x, training=False)`); torch: `module(x)` then `y.backward(dy)` (inference under
    torch.inference_mode). Both get the same weights and the same x.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    dtype = np.dtype(dtype)
    if dtype != np.float32:
        peak = None
    D = 2 if bidirectional else 1
    fastrnn.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, I), dtype=np.float32).astype(dtype)  # [T,N,I]
    # dy: [T,N,D*H], training only (an inference row of a large layer needs no second array)
    dy = rng.standard_normal((T, N, D * H), dtype=np.float32).astype(dtype) if training else None
    layer = _fastrnn_layer(mode, I, H, layers, bidirectional, dtype, seed)
    notes = [] if dtype == np.float32 else [PEAK_FLOAT32_ONLY]
    fns, before = {}, {}
    if training:

        def fr_step():
            layer.forward(x)
            layer.backward(dy)

        fns["fastrnn"] = fr_step
        before["fastrnn"] = layer.zero_grad
        notes.append(TRAINING_METHOD)
    else:
        fns["fastrnn"] = lambda: layer.forward(x, training=False)

    torch = _import_torch() if compare == "torch" else None
    if compare == "torch" and torch is None:
        notes.append("torch is not installed: no comparison")
    if torch is not None:
        torch.set_num_threads(threads)
        module = _torch_layer(torch, mode, I, H, layers, bidirectional, dtype, layer.state_dict())
        xt = torch.from_numpy(x.copy())
        dyt = torch.from_numpy(dy) if training else None
        if training:
            xt.requires_grad_(True)

            def pt_step():
                y, _ = module(xt)
                y.backward(dyt)

            def pt_zero():
                module.zero_grad(set_to_none=False)
                xt.grad = None

            fns["torch"] = pt_step
            before["torch"] = pt_zero
        else:

            def pt_infer():
                with torch.inference_mode():
                    return module(xt)

            fns["torch"] = pt_infer

    flops = forward_gemm_flops(mode, T, N, I, H, layers, D) * (3 if training else 1)
    row = {
        "bench": "rnn",
        "pass": "train" if training else "infer",
        "mode": mode,
        "T": T,
        "N": N,
        "I": I,
        "H": H,
        "layers": layers,
        "bidirectional": bidirectional,
        "dtype": dtype.name,
        "threads": threads,
        "repeats": repeats,
        "warmup": warmup,
        "flops": flops,
    }

    # correctness check and memory, outside the timed region
    y_fr, state_fr = layer.forward(x, training=training)
    outs_fr = [y_fr, *(state_fr if isinstance(state_fr, tuple) else (state_fr,))]
    if training:
        mem_fr = _fastrnn_kept_bytes(layer, x, outs_fr)
        if mem_fr is None:
            notes.append("fastrnn's saved contexts were not found: its memory is not reported")
    else:
        mem_fr = numpy_bytes(outs_fr)
    del outs_fr
    layer._set_thread_state(None)  # so the forward below is measured from nothing kept
    retained_fr = malloc_retained(lambda: layer.forward(x, training=training))
    layer.zero_grad()
    mem_pt = retained_pt = None
    if torch is not None:
        saved = []

        def pack(t):
            saved.append(t)
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            if training:
                y_pt, state_pt = module(xt)
            else:
                with torch.inference_mode():
                    y_pt, state_pt = module(xt)
        outs_pt = [y_pt, *(state_pt if isinstance(state_pt, tuple) else (state_pt,))]
        mem_pt = torch_bytes(saved + outs_pt, exclude=[xt, *module.parameters()])
        row["max_abs_diff"] = float(np.max(np.abs(y_pt.detach().numpy() - y_fr)))
        del saved, outs_pt, y_pt, state_pt

        def pt_forward():
            if training:
                return module(xt)
            with torch.inference_mode():
                return module(xt)

        retained_pt = malloc_retained(pt_forward)
    del y_fr, state_fr

    samples = time_alternating(fns, repeats, warmup, before)
    tokens = T * N
    row["fastrnn"] = _side([s * 1e3 for s in samples["fastrnn"]], flops, tokens, peak)
    row["fastrnn"]["mem_bytes"] = mem_fr
    row["fastrnn"]["malloc_retained_bytes"] = retained_fr
    row["torch"] = None
    row["speedup"] = None
    if "torch" in samples:
        row["torch"] = _side([s * 1e3 for s in samples["torch"]], flops, tokens, peak)
        row["torch"]["mem_bytes"] = mem_pt
        row["torch"]["malloc_retained_bytes"] = retained_pt
        row["speedup"] = row["torch"]["ms"] / row["fastrnn"]["ms"]
        row["speedup_paired"] = paired_speedup(samples["torch"], samples["fastrnn"])
    row["notes"] = notes
    return row


# ---------------------------------------------------------------------------------------------
# one streaming cell step


def _fastrnn_cell_step(mode, x, H, params, notes):
    """(step, state): a callable running one step on x [N,I] that feeds the state back, and the
    one-element list holding that state (h [N,H], LSTM (h, c)); notes say how it is done."""
    cls_name = {"lstm": "LSTMCell", "gru": "GRUCell"}.get(mode, "RNNCell")
    cls = getattr(fastrnn, cls_name, None)
    lstm = mode == "lstm"
    N, I = x.shape
    dtype = x.dtype
    h = np.zeros((N, H), dtype)  # [N,H]
    state = [(h, h.copy()) if lstm else h]
    if cls is not None:
        try:
            kwargs = {"nonlinearity": mode.split("_")[1]} if cls_name == "RNNCell" else {}
            cell = cls(I, H, dtype=dtype, **kwargs)
            if hasattr(cell, "load_state_dict"):
                cell.load_state_dict(params)

            def step():
                state[0] = cell.step(x, state[0])

            step()
            state[0] = (h, h.copy()) if lstm else h
            notes.append(f"fastrnn step: fastrnn.{cls_name}(...).step(x, state)")
            return step, state
        except Exception as e:  # noqa: BLE001 - fall back to the functional path, and say so
            notes.append(f"fastrnn.{cls_name}.step unusable here ({type(e).__name__}: {e})")
    x3 = x[None]  # [1,N,I]
    state = [(h, h.copy()) if lstm else h]

    def step():
        _, state[0], _ = F.forward(mode, x3, params, state[0], training=False)

    notes.append(
        f"fastrnn step: fastrnn.functional.forward with T=1, training=False "
        f"(fastrnn.{cls_name} does not exist yet)"
        if cls is None
        else "fastrnn step: fastrnn.functional.forward with T=1, training=False"
    )
    return step, state


@_restores_thread_counts
def measure_cell(
    mode: str,
    N: int,
    I: int,
    H: int,
    *,
    dtype: str = "float32",
    threads: int = 2,
    repeats: int = 20,
    warmup: int = 3,
    compare: str = "torch",
    peak: float | None = None,
    seed: int = 0,
) -> dict:
    """One row: one inference step of a cell at batch N, the state fed back (streaming).

    x: [N,I], state: h [N,H] (LSTM: h, c). torch: torch.nn.LSTMCell/GRUCell/RNNCell under
    torch.inference_mode, with the same weights.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    dtype = np.dtype(dtype)
    if dtype != np.float32:
        peak = None
    fastrnn.set_num_threads(threads)
    G = gates(mode)
    rng = np.random.default_rng(seed)
    k = 1.0 / math.sqrt(H)
    params = {
        "weight_ih": rng.uniform(-k, k, (G * H, I)).astype(dtype),  # [G*H,I]
        "weight_hh": rng.uniform(-k, k, (G * H, H)).astype(dtype),  # [G*H,H]
        "bias_ih": rng.uniform(-k, k, (G * H,)).astype(dtype),  # [G*H]
        "bias_hh": rng.uniform(-k, k, (G * H,)).astype(dtype),  # [G*H]
    }
    x = rng.standard_normal((N, I)).astype(dtype)  # [N,I]
    notes = [] if dtype == np.float32 else [PEAK_FLOAT32_ONLY]
    fr_step, fr_state = _fastrnn_cell_step(mode, x, H, params, notes)
    fns = {"fastrnn": fr_step}
    diff = None
    torch = _import_torch() if compare == "torch" else None
    if compare == "torch" and torch is None:
        notes.append("torch is not installed: no comparison")
    if torch is not None:
        torch.set_num_threads(threads)
        if mode == "lstm":
            cell = torch.nn.LSTMCell(I, H)
        elif mode == "gru":
            cell = torch.nn.GRUCell(I, H)
        else:
            cell = torch.nn.RNNCell(I, H, nonlinearity=mode.split("_")[1])
        cell = cell.to(getattr(torch, dtype.name))
        cell.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
        xt = torch.from_numpy(x)
        zeros = torch.zeros(N, H, dtype=getattr(torch, dtype.name))
        tstate = [(zeros, zeros.clone()) if mode == "lstm" else zeros]
        # one step from zeros on both sides: the same result?
        fr_step()
        with torch.inference_mode():
            ref = cell(xt, tstate[0])
        mine = fr_state[0][0] if mode == "lstm" else fr_state[0]
        diff = float(np.max(np.abs((ref[0] if mode == "lstm" else ref).numpy() - mine)))

        def pt_step():
            with torch.inference_mode():
                tstate[0] = cell(xt, tstate[0])

        fns["torch"] = pt_step
        notes.append(f"torch step: torch.nn.{type(cell).__name__} under inference_mode")

    flops = 2 * N * G * H * (I + H)
    samples = time_alternating(fns, repeats, warmup, min_sample_s=0.01)
    row = {
        "bench": "cell",
        "pass": "step",
        "mode": mode,
        "T": 1,
        "N": N,
        "I": I,
        "H": H,
        "layers": 1,
        "bidirectional": False,
        "dtype": dtype.name,
        "threads": threads,
        "repeats": repeats,
        "warmup": warmup,
        "flops": flops,
    }
    if diff is not None:
        row["max_abs_diff"] = diff
    state_bytes = N * H * dtype.itemsize * (2 if mode == "lstm" else 1)
    row["fastrnn"] = _side([s * 1e3 for s in samples["fastrnn"]], flops, N, peak)
    row["fastrnn"]["mem_bytes"] = state_bytes
    row["torch"] = None
    row["speedup"] = None
    if "torch" in samples:
        row["torch"] = _side([s * 1e3 for s in samples["torch"]], flops, N, peak)
        row["torch"]["mem_bytes"] = state_bytes
        row["speedup"] = row["torch"]["ms"] / row["fastrnn"]["ms"]
        row["speedup_paired"] = paired_speedup(samples["torch"], samples["fastrnn"])
    row["notes"] = notes
    return row
