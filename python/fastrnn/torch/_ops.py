"""fastrnn's layer kernels as torch.library custom ops, with fake implementations and autograd.

    y, h_n, c_n, reserve = torch.ops.fastrnn.rnn_forward(x, lengths, h0, c0, w_ih, w_hh, b_ih,
        b_hh, w_hr, w_ch, mode, reverse, training, reset_after, cell_clip)
    dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh, dw_hr, dw_ch = torch.ops.fastrnn.rnn_backward(...,
        weight_grads, input_grad)

One op call runs one layer in one direction over a whole sequence (the C++ core's
`rnn_forward` / `rnn_backward`); the modules stack them. Tensors reach the kernels as numpy views
of the same memory (`Tensor.numpy()`) and the kernels' numpy outputs come back as tensors over
the same memory (`torch.from_numpy`): no copies either way. Absent optional outputs are empty
tensors (`c_n` outside LSTM, `reserve` when not training, gradients of absent parameters), because
a custom op returns tensors only.

The modules call `layer_forward`: under torch.compile and torch.jit.trace, and under torch.func's
vmap, it calls the op (whose registered autograd the compiler traces, and which a saved trace can
call). In eager mode it applies the same autograd formula through a plain autograd.Function
(_PlainForward; _EagerForward, its setup_context form, under torch.func's grad transforms), which
costs a tenth of torch's per-call wrapper for registered autograd, and on plain CPU tensors with
nothing intercepting torch's ops (_dispatch_free) it runs the op's implementation without the
dispatcher (about 10 µs a call). A cell's inference step runs the core's step kernel
(inference_step); the common cell call, after one check of its tensors (plain_step), goes
straight to inference_step or training_step.

Shape letters as in DESIGN.md: T steps, N batch, I inputs, H hidden, P projection, S state size
(P with projection, else H), G gates, K reserve elements per (step, sequence), E per sequence.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import torch
import torch.autograd.forward_ad as forward_ad
from torch import Tensor
from torch._C._functorch import TransformType
from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters

from fastrnn import _C
from fastrnn.functional import MODES
from fastrnn.torch import _cuda_ops

_KERNEL_DTYPES = (torch.float32, torch.float64)
_NUMPY_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


# ---- where a call runs ----


@torch.compiler.assume_constant_result  # torch.compile takes the answer as a constant
def cuda_kernels_available() -> bool:
    """True when fastrnn's CUDA layer kernels can serve CUDA tensors: the build has them
    (`_C.cuda_compiled()`), the CUDA runtime sees a device and torch can use one. Then the ops'
    "cuda" implementations (_cuda_ops.py) run CUDA tensors; otherwise those run on torch's own
    implementation."""
    global _cuda_kernels
    if _cuda_kernels is None:  # asked once: a GPU does not come and go
        _cuda_kernels = (
            _C.cuda_compiled() and _C.cuda_device_count() > 0 and torch.cuda.is_available()
        )
    return _cuda_kernels


_cuda_kernels: bool | None = None


def kernel_refusal(tensors, extras: bool = False) -> str | None:
    """Why fastrnn's kernels cannot run a call on these tensors (None entries skipped), or None.

    They take float32/float64 on the CPU, and on CUDA devices when `cuda_kernels_available()`.
    Under autocast torch.nn computes in the autocast dtype, which fastrnn has no kernel for; a
    module that uses an extra torch lacks (`extras`) runs on the kernels in the tensors' own dtype
    instead. The kernels have no forward derivative, so a call that forward-mode AD carries a
    tangent into (tangent_may_reach) is refused too, and their autograd has no batching rule, so
    is one mapped by vmap inside a gradient transform (_vmapped_inside_a_gradient).
    """
    if tangent_may_reach(tensors):
        return (
            "forward-mode AD is carrying a tangent into the call (torch.autograd.forward_ad, "
            "torch.func.jvp, jacfwd or hessian) and fastrnn's kernels have no forward derivative"
        )
    if _vmapped_inside_a_gradient(tensors):
        return (
            "torch.func.vjp, jacrev or grad over torch.func.vmap is differentiating the call, "
            "and fastrnn's autograd has no batching rule"
        )
    cuda = cuda_kernels_available()
    where = "on the CPU and CUDA devices" if cuda else "on the CPU"
    for t in tensors:
        served = t is None or ((t.is_cpu or (cuda and t.is_cuda)) and t.dtype in _KERNEL_DTYPES)
        if not served:
            return (
                f"no fastrnn kernel for {t.dtype} tensors on device '{t.device}' (fastrnn runs "
                f"float32/float64 {where})"
            )
    on_cuda = cuda and any(t is not None and t.is_cuda for t in tensors)
    for device in ("cuda", "cpu") if on_cuda else ("cpu",):
        if not extras and torch.is_autocast_enabled(device):
            return (
                f"{device.upper()} autocast to {torch.get_autocast_dtype(device)} is on and "
                "fastrnn has no kernel in that dtype"
            )
    return None


def tangent_may_reach(tensors) -> bool:
    """Whether forward-mode AD may carry a tangent into a call on these tensors (None skipped).

    Only inside a forward_ad.dual_level (which torch.func.jvp, jacfwd and hessian enter too;
    outside one no tensor has a tangent, and the answer costs one read of forward_ad's level): one
    of them is wrapped at the level of an active torch.func.jvp transform (whose tangent a
    transform above it hides), or it or a torch.func wrapper around it is a dual tensor
    (unpack_dual, a few µs a tensor). While torch.compile traces, any call inside a dual level
    (those queries are not traced)."""
    if forward_ad._current_level < 0:
        return False
    if torch.compiler.is_compiling():
        return True
    jvp_levels = ()
    if torch._C._are_functorch_transforms_active():
        interpreters = retrieve_all_functorch_interpreters()
        jvp_levels = [i.level() for i in interpreters if i.key() == TransformType.Jvp]
    return any(t is not None and _has_tangent(t, jvp_levels) for t in tensors)


def _has_tangent(t: Tensor, jvp_levels) -> bool:
    """tangent_may_reach for one tensor; jvp_levels: the levels of the active jvp transforms."""
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(t):
        if functorch.maybe_get_level(t) in jvp_levels:
            return True
        if not functorch.is_batchedtensor(t) and forward_ad.unpack_dual(t).tangent is not None:
            return True
        t = functorch.get_unwrapped(t)
    with torch._C._DisableFuncTorch():  # (else a grad transform lifts t and hides its tangent)
        return forward_ad.unpack_dual(t).tangent is not None


def _vmapped_inside_a_gradient(tensors) -> bool:
    """Whether a torch.func.vmap running inside a torch.func gradient transform (vjp(vmap(f)),
    jacrev or grad over a vmap) maps one of the tensors (None skipped) while one needs a
    gradient (_differentiated): torch then needs a batching rule for the op's autograd, which it
    has not."""
    if torch.compiler.is_compiling() or not torch._C._are_functorch_transforms_active():
        return False
    functorch = torch._C._functorch
    if not any(t is not None and functorch.is_batchedtensor(t) for t in tensors):
        return False
    kinds = [i.key() for i in retrieve_all_functorch_interpreters()]  # outermost first
    if (
        TransformType.Grad not in kinds
        or TransformType.Vmap not in kinds[kinds.index(TransformType.Grad) :]
    ):
        return False
    return any(t is not None and _differentiated(t) for t in tensors)


def _differentiated(t: Tensor) -> bool:
    """Whether t, under its vmap wrappers, is tracked by a torch.func gradient transform (or
    jvp's). (A tensor that requires grad only outside the transforms is differentiated by the
    op's autograd at that level, which works under vmap.)"""
    functorch = torch._C._functorch
    while functorch.is_batchedtensor(t):
        t = functorch.get_unwrapped(t)
    return functorch.is_functorch_wrapped_tensor(t)


def check_same_dtype(tensors, names) -> None:
    """Raises RuntimeError (as torch.nn does) when the tensors' dtypes differ (None skipped).

    names: a callable returning the tensors' names (only called to word the error)."""
    present = [t for t in tensors if t is not None]
    dtype = present[0].dtype
    if all(t.dtype == dtype for t in present):
        return
    pairs = [(t.dtype, n) for t, n in zip(tensors, names(), strict=False) if t is not None]
    for other, name in pairs[1:]:
        if other != pairs[0][0]:
            raise RuntimeError(
                f"expected {name} to have the dtype of {pairs[0][1]} ({pairs[0][0]}), got {other}"
            )


def needs_grad(*tensors) -> bool:
    """True when autograd will want a gradient through a call on these tensors (None skipped)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


_warned_fallback = False


def warn_fallback(what: str, reason: str) -> None:
    """Warns, once per process, that a module runs on torch's implementation instead.

    Under torch.compile the warning is given while tracing: dynamo cannot trace warnings.warn,
    which would break the graph there (and make fullgraph=True refuse a call torch.nn's cells
    compile in)."""
    _warn_fallback_once(what, reason)


@torch.compiler.assume_constant_result  # torch.compile runs it while tracing, not in the graph
def _warn_fallback_once(what: str, reason: str) -> bool:
    global _warned_fallback
    if not _warned_fallback:
        _warned_fallback = True
        warnings.warn(
            f"fastrnn.torch.{what}: {reason}; falling back to torch's own implementation "
            "(warned once)",
            RuntimeWarning,
            stacklevel=5,
        )
    return True


# ---- descriptors and sizes ----


@functools.lru_cache(maxsize=256)
def _desc(mode, input_size, hidden_size, proj_size, bias, reset_after, peephole, cell_clip):
    return _C.RnnDesc(
        mode,
        input_size,
        hidden_size,
        proj_size=proj_size,
        bias=bias,
        reset_after=reset_after,
        peephole=peephole,
        cell_clip=cell_clip,
    )


def _sizes(mode: str, x: Tensor, w_hh: Tensor, w_hr: Tensor | None):
    """(I, H, P, S) from the input [T,N,I] and weights (plain ints or symbolic sizes)."""
    if mode not in MODES:  # every implementation asks this first: the checks of a bare op call
        raise ValueError(f"mode: expected one of {', '.join(map(repr, MODES))}, got {mode!r}")
    if x.dim() != 3:
        raise ValueError(f"x: expected a 3-D [T,N,I] tensor, got {x.dim()}-D")
    H = w_hh.shape[0] // MODES[mode]
    P = w_hr.shape[0] if w_hr is not None else 0
    return x.shape[2], H, P, (w_hr.shape[0] if w_hr is not None else H)


def reserve_size(mode: str, T, N, H, S, projection: bool):
    """Elements of the training reserve: T·N·K + N·E, with K per (step, sequence) and E per
    sequence asked of the C++ core (sizes for one and two steps), so that T and N may be symbolic
    under torch.compile."""
    K, E = _reserve_per_step_and_sequence(mode, int(H), int(S), projection)
    return T * N * K + N * E


@functools.lru_cache(maxsize=256)
def _reserve_per_step_and_sequence(mode: str, H: int, S: int, projection: bool):
    """(K, E) of reserve_size (asked once per layer shape: a cell's every training step asks)."""
    desc = _C.RnnDesc(mode, 1, H, proj_size=S if projection else 0)
    one, two = _C.rnn_reserve_size(desc, 1, 1), _C.rnn_reserve_size(desc, 2, 1)
    return two - one, 2 * one - two


def _np(t: Tensor | None):
    """A numpy view of a CPU tensor (no copy when it is contiguous, as the modules pass), or None.

    numpy(force=True) is detach().numpy() in one call (no copy for a CPU float tensor)."""
    if t is None:
        return None
    return (t if t.is_contiguous() else t.contiguous()).numpy(force=True)


# ---- an empty batch (N = 0): what torch.nn gives, without a kernel call (they take N >= 1) ----


def _check_empty_batch_args(mode, x, lengths, states, weights) -> None:
    """The shape checks a kernel makes, for the arguments of a call on an empty batch: states
    (h0 or dh_n [0,S], c0 or dc_n [0,H], by name) and weights (w_ih .. w_ch, None where absent)."""
    I, H, P, S = _sizes(mode, x, weights[1], weights[4])  # noqa: E741
    GH = MODES[mode] * H
    expected = {
        "lengths": (lengths, (0,)),
        **{name: (t, (0, S if k == 0 else H)) for k, (name, t) in enumerate(states.items())},
        "w_ih": (weights[0], (GH, I)),
        "w_hh": (weights[1], (GH, S)),
        "b_ih": (weights[2], (GH,)),
        "b_hh": (weights[3], (GH,)),
        "w_hr": (weights[4], (P, H)),
        "w_ch": (weights[5], (3, H)),
    }
    for name, (t, shape) in expected.items():
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")


def _empty_batch_forward(mode, x, lengths, h0, c0, weights):
    """rnn_forward's results for x [T,0,I]: y [T,0,S], h_n [0,S], c_n [0,H] (LSTM, else [0]) and
    an empty reserve."""
    _check_empty_batch_args(mode, x, lengths, {"h0": h0, "c0": c0}, weights)
    _, H, _, S = _sizes(mode, x, weights[1], weights[4])
    c_n = x.new_zeros(0, H) if mode == "lstm" else x.new_empty(0)
    return x.new_zeros(x.shape[0], 0, S), x.new_zeros(0, S), c_n, x.new_empty(0)


def _empty_batch_backward(mode, dy, dh_n, dc_n, x, lengths, weights, wanted, input_grad):
    """rnn_backward's results for x [T,0,I]: zero dx, empty dh0 and dc0, and zero gradients of the
    wanted weights ([0] for absent or unwanted ones)."""
    _check_empty_batch_args(mode, x, lengths, {"dh_n": dh_n, "dc_n": dc_n}, weights)
    _, H, _, S = _sizes(mode, x, weights[1], weights[4])
    if tuple(dy.shape) != (x.shape[0], 0, S):
        raise ValueError(f"dy: expected shape {(x.shape[0], 0, S)}, got {tuple(dy.shape)}")
    grads = [
        x.new_zeros(w.shape) if w is not None and want else x.new_empty(0)
        for w, want in zip(weights, wanted, strict=True)
    ]
    dx = x.new_zeros(x.shape) if input_grad else x.new_empty(0)
    dc0 = x.new_zeros(0, H) if mode == "lstm" else x.new_empty(0)
    return (dx, x.new_zeros(0, S), dc0, *grads)


# ---- forward ----


def _check_call(mode: str, c0, cell_clip: float) -> None:
    """What the modules check and a bare op call may get wrong (both devices' kernels)."""
    if not 0.0 <= cell_clip < math.inf:
        raise ValueError(f"cell_clip: expected a finite value >= 0 (0: no clip), got {cell_clip}")
    if c0 is not None and mode != "lstm":
        raise ValueError(f"c0: only an LSTM has a cell state, got one for mode {mode!r}")


@torch.library.custom_op("fastrnn::rnn_forward", mutates_args=(), device_types="cpu")
def rnn_forward(
    x: Tensor,
    lengths: Tensor | None,
    h0: Tensor | None,
    c0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    w_ch: Tensor | None,
    mode: str,
    reverse: bool,
    training: bool,
    reset_after: bool,
    cell_clip: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One layer, one direction. x: [T,N,I]; lengths: int64 [N] in 1..T or None; h0: [N,S] or None;
    c0: [N,H] or None. Returns y [T,N,S], h_n [N,S], c_n [N,H] (LSTM, else [0]) and reserve
    [T·N·K + N·E] (training, else [0])."""
    return _forward_cpu(
        x, lengths, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch,
        mode, reverse, training, reset_after, cell_clip,
    )  # fmt: skip


def _forward_cpu(
    x, lengths, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, mode, reverse, training, reset_after,
    cell_clip,
):  # fmt: skip
    """rnn_forward's CPU implementation (the op's, and eager calls' without the dispatcher)."""
    T, N = x.shape[0], x.shape[1]
    I, H, P, S = _sizes(mode, x, w_hh, w_hr)  # noqa: E741
    _check_call(mode, c0, cell_clip)
    if N == 0:
        return _empty_batch_forward(mode, x, lengths, h0, c0, (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch))
    desc = _desc(mode, I, H, P, b_ih is not None, reset_after, w_ch is not None, cell_clip)
    y, h_n, c_n, reserve = _C.rnn_forward(
        desc,
        _np(x),
        _np(lengths),
        _np(h0),
        _np(c0),
        _np(w_ih),
        _np(w_hh),
        _np(b_ih),
        _np(b_hh),
        _np(w_hr),
        _np(w_ch),
        reverse,
        training,
    )
    c_n = torch.from_numpy(c_n) if c_n is not None else x.new_empty(0)
    if training:
        expected = reserve_size(mode, T, N, H, S, P > 0)
        if reserve.size != expected:
            raise RuntimeError(
                f"fastrnn.torch: the C++ core's reserve has {reserve.size} elements, expected "
                f"{expected} (T·N·K + N·E from rnn_reserve_size)"
            )
        reserve = torch.from_numpy(reserve)
    else:
        reserve = x.new_empty(0)
    return torch.from_numpy(y), torch.from_numpy(h_n), c_n, reserve


@rnn_forward.register_fake
def _(
    x,
    lengths,
    h0,
    c0,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    w_hr,
    w_ch,
    mode,
    reverse,
    training,
    reset_after,
    cell_clip,
):
    T, N = x.shape[0], x.shape[1]
    _, H, P, S = _sizes(mode, x, w_hh, w_hr)
    y = x.new_empty(T, N, S)
    h_n = x.new_empty(N, S)
    c_n = x.new_empty(N, H) if mode == "lstm" else x.new_empty(0)
    reserve = (
        x.new_empty(reserve_size(mode, T, N, H, S, w_hr is not None))
        if training
        else x.new_empty(0)
    )
    return y, h_n, c_n, reserve


# ---- backward ----


def _wanted(weight_grads: list[bool] | None) -> list[bool]:
    """rnn_backward's weight_grads as six flags (None: all six)."""
    if weight_grads is None:
        return [True] * 6
    if len(weight_grads) != 6:
        raise ValueError(f"weight_grads: expected 6 flags, got {len(weight_grads)}")
    return list(weight_grads)


@torch.library.custom_op("fastrnn::rnn_backward", mutates_args=(), device_types="cpu")
def rnn_backward(
    dy: Tensor,
    dh_n: Tensor | None,
    dc_n: Tensor | None,
    x: Tensor,
    lengths: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    w_ch: Tensor | None,
    reserve: Tensor,
    mode: str,
    reverse: bool,
    reset_after: bool,
    cell_clip: float,
    weight_grads: list[bool] | None = None,
    input_grad: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Backward of a training rnn_forward. dy: [T,N,S]; dh_n: [N,S] or None; dc_n: [N,H] or None;
    weight_grads: which of the gradients of w_ih, w_hh, b_ih, b_hh, w_hr, w_ch to compute (None:
    all; the core skips the others' GEMMs); input_grad: whether to compute dx (False: its GEMM is
    skipped, as for an input that needs no gradient). Returns dx [T,N,I] ([0] when skipped), dh0
    [N,S], dc0 [N,H] (LSTM, else [0]) and those gradients (shaped like the weights; [0] for absent
    or skipped ones)."""
    return _backward_cpu(
        dy, dh_n, dc_n, x, lengths, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, reserve,
        mode, reverse, reset_after, cell_clip, weight_grads, input_grad,
    )  # fmt: skip


def _backward_cpu(
    dy, dh_n, dc_n, x, lengths, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, reserve, mode, reverse,
    reset_after, cell_clip, weight_grads=None, input_grad=True,
):  # fmt: skip
    """rnn_backward's CPU implementation (the op's, and eager calls' without the dispatcher)."""
    I, H, P, _ = _sizes(mode, x, w_hh, w_hr)  # noqa: E741
    weights = (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch)
    if x.shape[1] == 0:
        return _empty_batch_backward(
            mode, dy, dh_n, dc_n, x, lengths, weights, _wanted(weight_grads), input_grad
        )
    desc = _desc(mode, I, H, P, b_ih is not None, reset_after, w_ch is not None, cell_clip)
    # Fresh, unfilled arrays: the kernels write them (write_grads), where adding to zeroed arrays
    # cost a fastrnn.torch LSTMCell training step at N = 1, H = 256 a third of its time (zeroing
    # them, then reading each value before adding to it).
    grads = [
        np.empty(w.shape, _NUMPY_DTYPE[w.dtype]) if w is not None and want else None
        for w, want in zip(weights, _wanted(weight_grads), strict=True)
    ]
    dx, dh0, dc0 = _C.rnn_backward(
        desc,
        _np(dy),
        _np(dh_n),
        _np(dc_n),
        _np(x),
        _np(lengths),
        *map(_np, weights),
        _np(reserve).reshape(-1),
        reverse,
        *grads,
        need_dx=input_grad,
        write_grads=True,
    )
    dx = torch.from_numpy(dx) if dx is not None else x.new_empty(0)
    dc0 = torch.from_numpy(dc0) if dc0 is not None else x.new_empty(0)
    grads = [torch.from_numpy(g) if g is not None else x.new_empty(0) for g in grads]
    return (dx, torch.from_numpy(dh0), dc0, *grads)


@rnn_backward.register_fake
def _(
    dy,
    dh_n,
    dc_n,
    x,
    lengths,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    w_hr,
    w_ch,
    reserve,
    mode,
    reverse,
    reset_after,
    cell_clip,
    weight_grads=None,
    input_grad=True,
):
    N = x.shape[1]
    _, H, _, S = _sizes(mode, x, w_hh, w_hr)
    dc0 = x.new_empty(N, H) if mode == "lstm" else x.new_empty(0)
    weights = (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch)
    grads = [  # contiguous, as the real
        x.new_empty(w.shape) if w is not None and want else x.new_empty(0)
        for w, want in zip(weights, _wanted(weight_grads), strict=True)
    ]
    dx = x.new_empty(x.shape) if input_grad else x.new_empty(0)
    return (dx, x.new_empty(N, S), dc0, *grads)


# ---- autograd ----


def _forward_setup_context(ctx, inputs, output):
    x, lengths, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch = inputs[:10]
    mode, reverse, training, reset_after, cell_clip = inputs[10:]
    ctx.save_for_backward(x, lengths, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, output[3])
    ctx.args = (mode, reverse, reset_after, cell_clip)
    ctx.training = training
    ctx.set_materialize_grads(False)  # no zero-filled gradient for the reserve


def _forward_backward(ctx, dy, dh_n, dc_n, _dreserve):
    if not ctx.training:
        raise RuntimeError(
            "fastrnn.torch: backward through an rnn_forward called with training=False (it saved "
            "no activations); the modules pass training=True whenever a gradient is required"
        )
    x, lengths, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, reserve = ctx.saved_tensors
    mode = ctx.args[0]
    if dy is None:
        dy = x.new_zeros(x.shape[0], x.shape[1], w_hh.shape[1])  # [T,N,S]
    if mode != "lstm":
        dc_n = None
    need = ctx.needs_input_grad
    args = (
        dy.contiguous(),
        None if dh_n is None else dh_n.contiguous(),
        None if dc_n is None else dc_n.contiguous(),
        x,
        lengths,
        w_ih,
        w_hh,
        b_ih,
        b_hh,
        w_hr,
        w_ch,
        reserve,
        *ctx.args,
        list(need[4:10]),  # the weight gradients autograd wants (frozen ones are not computed)
        need[0],  # dx only when x needs a gradient (not for data fed to the first layer)
    )
    try:
        if not torch.is_grad_enabled() and _dispatch_free(args[:12]):
            dx, dh0, dc0, *dw = _backward_cpu(*args)  # (with grad enabled, the op's autograd
        else:  # refuses a double backward)
            dx, dh0, dc0, *dw = torch.ops.fastrnn.rnn_backward.default(*args)
    except RuntimeError as e:
        if "functorch transforms" not in str(e):
            raise
        # torch.func.grad differentiates with create_graph=True, which runs rnn_backward under
        # the transform; torch's message then blames a setup_context that is there.
        raise RuntimeError(
            "fastrnn.torch: torch.func.grad and grad_and_value are not supported by fastrnn's "
            "kernels (they build the graph of the backward, as for a double backward); "
            "torch.func.vjp, jacrev, torch.autograd.grad and .backward() work, or run that part "
            "with the torch.nn module (fastrnn.torch.revert(model))"
        ) from e
    dw = [g if need[4 + i] else None for i, g in enumerate(dw)]
    return (
        dx if need[0] else None,
        None,
        dh0 if need[2] else None,
        dc0 if need[3] else None,
        *dw,
        None,
        None,
        None,
        None,
        None,
    )


rnn_forward.register_autograd(_forward_backward, setup_context=_forward_setup_context)


# ---- CUDA implementations (_cuda_ops.py; they raise a clear RuntimeError in a build without CUDA
# kernels, and the modules only send CUDA tensors when cuda_kernels_available()) ----


@rnn_forward.register_kernel("cuda")
def rnn_forward_cuda_kernel(
    x,
    lengths,
    h0,
    c0,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    w_hr,
    w_ch,
    mode,
    reverse,
    training,
    reset_after,
    cell_clip,
):
    I, H, P, S = _sizes(mode, x, w_hh, w_hr)  # noqa: E741
    _check_call(mode, c0, cell_clip)
    weights = (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch)
    if x.shape[1] == 0:
        return _empty_batch_forward(mode, x, lengths, h0, c0, weights)
    desc = _desc(mode, I, H, P, b_ih is not None, reset_after, w_ch is not None, cell_clip)
    size = reserve_size(mode, x.shape[0], x.shape[1], H, S, P > 0)
    return _cuda_ops.rnn_forward_cuda(desc, x, lengths, h0, c0, weights, reverse, training, size)


@rnn_backward.register_kernel("cuda")
def rnn_backward_cuda_kernel(
    dy,
    dh_n,
    dc_n,
    x,
    lengths,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    w_hr,
    w_ch,
    reserve,
    mode,
    reverse,
    reset_after,
    cell_clip,
    weight_grads=None,
    input_grad=True,
):
    I, H, P, _ = _sizes(mode, x, w_hh, w_hr)  # noqa: E741
    weights = (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch)
    if x.shape[1] == 0:
        return _empty_batch_backward(
            mode, dy, dh_n, dc_n, x, lengths, weights, _wanted(weight_grads), input_grad
        )
    desc = _desc(mode, I, H, P, b_ih is not None, reset_after, w_ch is not None, cell_clip)
    return _cuda_ops.rnn_backward_cuda(
        desc,
        dy,
        dh_n,
        dc_n,
        x,
        lengths,
        weights,
        reserve,
        reverse,
        _wanted(weight_grads),
        input_grad,
    )


def _backward_setup_context(ctx, inputs, output):
    pass


def _no_double_backward(ctx, *grads):
    raise RuntimeError(
        "fastrnn.torch: double backward (differentiating a gradient of a fastrnn RNN, LSTM or GRU, "
        "e.g. a gradient penalty) is not supported by fastrnn's kernels; run that part with the "
        "torch.nn module (fastrnn.torch.revert(model)) instead"
    )


rnn_backward.register_autograd(_no_double_backward, setup_context=_backward_setup_context)


# ---- the call the modules make ----


class _EagerForward(torch.autograd.Function):
    """rnn_forward with the same autograd formula, applied as a plain autograd.Function.

    torch's wrapper for a custom op's registered autograd rebuilds the op's argument list from its
    schema on every call, which costs about 0.1-0.2 ms for our 15 arguments; this costs about
    0.01 ms. Eager calls under torch.func's transforms take it (they need setup_context); other
    eager calls take _PlainForward; under torch.compile and torch.jit.trace the op itself is
    called.
    """

    @staticmethod
    def forward(*args):
        return _call_forward(args)

    setup_context = staticmethod(_forward_setup_context)
    backward = staticmethod(_forward_backward)

    @staticmethod
    def vmap(info, in_dims, *args):
        # reached for torch.func.grad or vjp inside vmap (vmap alone calls the op)
        raise NotImplementedError(
            "fastrnn.torch: torch.func.grad and vjp under torch.func.vmap (per-sample gradients) "
            "are not supported by fastrnn's kernels; vmap alone, vmap then backward, "
            "torch.func.vjp and jacrev work, or use the torch.nn module "
            "(fastrnn.torch.revert(model))"
        )

    @staticmethod
    def jvp(ctx, *tangents):  # (the modules run forward-mode AD on torch's implementation)
        raise NotImplementedError(
            "fastrnn.torch: forward-mode AD reached fastrnn's kernels, which have no forward "
            "derivative; use the modules of fastrnn.torch (which run such calls on torch's "
            "implementation) or torch.nn's"
        )


class _PlainForward(torch.autograd.Function):
    """_EagerForward's forward and backward as an old-style Function (ctx passed to forward), for
    calls outside torch.func transforms: Function.apply binds a setup_context-style forward's
    arguments with inspect.signature on every call, about 16 µs, which a small cell step's
    kernels take several times over. torch.func transforms need the setup_context form."""

    @staticmethod
    def forward(ctx, *args):
        output = _call_forward(args)
        _forward_setup_context(ctx, args, output)
        return output

    backward = staticmethod(_forward_backward)
    jvp = _EagerForward.jvp  # forward-mode AD (torch.autograd.forward_ad): refused, as there


def _dispatch_free(tensors) -> bool:
    """Whether an eager call on these tensors (None skipped) may run the CPU implementation
    directly rather than through torch's dispatcher, which costs about 10 µs a call (several
    times the kernel of a small cell step): nothing is intercepting torch's ops (no dispatch or
    function mode, as make_fx and FlopCounterMode use; no profiler; no torch.func transform; not
    compiling or tracing), and all are plain CPU tensors or Parameters, none a subclass that
    intercepts ops, nor wrapped by a torch.func transform."""
    return _ops_unintercepted() and all(t is None or _plain_cpu(t) for t in tensors)


def _ops_unintercepted() -> bool:
    """Nothing intercepts torch's ops: no dispatch or function mode, no profiler, no torch.func
    transform (under one even a plain tensor's detach() is lifted to the transform's level, and
    numpy() then finds no storage), not compiling or tracing."""
    return not (
        torch.compiler.is_compiling()  # (first: torch.compile cannot trace the mode queries)
        or torch.jit.is_tracing()
        or torch._C._len_torch_dispatch_stack() > 0
        or torch._C._is_torch_function_mode_enabled()
        or torch._C._are_functorch_transforms_active()
        or torch.autograd._profiler_enabled()
    )


def _plain_cpu(t) -> bool:
    """A plain CPU tensor or Parameter: not a subclass that intercepts ops, not wrapped by a
    torch.func transform."""
    return (
        type(t) in _PLAIN_TENSOR_TYPES
        and t.is_cpu
        and not torch._C._functorch.is_functorch_wrapped_tensor(t)
    )


_PLAIN_TENSOR_TYPES = (Tensor, torch.nn.Parameter)


def _call_forward(args: tuple):
    """rnn_forward(*args) in an eager call: directly on plain CPU tensors, else the op."""
    if _dispatch_free(args[:10]):
        return _forward_cpu(*args)
    return torch.ops.fastrnn.rnn_forward.default(*args)


def step_applies(x, h0, c0, weights) -> bool:
    """Whether a cell's call on these tensors (x [N,I]; h0, c0 [N,H] or None; weights as
    layer_forward's) is an eager inference step that inference_step may run: no gradient due and
    nothing between the call and the kernels (_dispatch_free)."""
    return not needs_grad(x, h0, c0, *weights) and _dispatch_free((x, h0, c0, *weights))


def plain_step(tensors) -> str | None:
    """How a cell's call on these tensors (None skipped) may run straight on the kernels:
    "inference" when no gradient is due (inference_step), "training" when one is
    (training_step); None unless all are plain contiguous CPU tensors (_plain_cpu) of one kernel
    dtype with nothing intercepting torch's ops (torch.func transforms included), no autocast and
    no forward_ad.dual_level entered. This implies the general path's kernel_refusal,
    check_same_dtype, step_applies and layer_forward's choice of _PlainForward; the caller checks
    the shapes."""
    if (
        not _ops_unintercepted()  # (first: torch.compile cannot trace the checks below)
        or torch.is_autocast_enabled("cpu")
        or forward_ad._current_level >= 0  # (a dual tensor: the general path's kernel_refusal)
    ):
        return None
    dtype = tensors[0].dtype
    if dtype not in _KERNEL_DTYPES or not all(
        t is None or (_plain_cpu(t) and t.dtype == dtype and t.is_contiguous()) for t in tensors
    ):
        return None
    return "training" if needs_grad(*tensors) else "inference"


def training_step(mode, x, h0, c0, weights, reset_after, cell_clip):
    """One cell step with a gradient due: the layer kernel with T = 1 through _PlainForward, as
    layer_forward runs such a call. x: [N,I]; h0, c0: [N,H] or None; weights: (w_ih, w_hh, b_ih,
    b_hh, w_hr, w_ch). Returns (h' [N,H], c' [N,H] or [0])."""
    args = (x.unsqueeze(0), None, h0, c0, *weights, mode, False, True, reset_after, cell_clip)
    _, h, c, _ = _PlainForward.apply(*args)
    return h, c


def inference_step(mode, x, h0, c0, weights, reset_after, cell_clip):
    """One cell step by the core's step call (_C.rnn_step: the step kernel, which reads the
    weights as they are, at up to 32 rows; the layer's path with T = 1 otherwise), without the
    layer path's arrays for T. x: [N,I]; h0: [N,H] or None; c0: [N,H] (LSTM) or None; weights:
    (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch). Returns (h' [N,H], c' [N,H] or [0])."""
    w_ih, w_hh, b_ih, b_hh, w_hr, w_ch = weights
    if x.shape[0] == 0:
        return _empty_batch_forward(mode, x.unsqueeze(0), None, h0, c0, weights)[1:3]
    desc = _desc(mode, x.shape[1], w_hh.shape[1], 0, b_ih is not None, reset_after,
                 w_ch is not None, cell_clip)  # fmt: skip
    h, c = _C.rnn_step(desc, *map(_np, (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_ch)))
    return torch.from_numpy(h), torch.from_numpy(c) if c is not None else x.new_empty(0)


def fx_leaf_call(module, input, hx):
    """Under torch.fx.symbolic_trace (input or hx a torch.fx.Proxy): the call recorded as one
    call_module node, as fx records torch.nn's own modules (leaves, whose forward it does not
    trace; ours branches on its input's shape, which a Proxy cannot answer). Else None, also for
    the module being traced itself (fx traces a root's forward, torch.nn's too, which fails as
    theirs does: a call_module node of the root would call itself)."""
    states = hx if isinstance(hx, (tuple, list)) else (hx,)
    for t in (input, *states):
        if isinstance(t, torch.fx.Proxy):
            tracer = t.tracer
            if module is tracer.root:
                return None
            return tracer.create_proxy(
                "call_module", tracer.path_of_module(module), (input, hx), {}
            )
    return None


def raise_not_scriptable(name: str):
    """For the modules' __prepare_scriptable__: torch.jit.script cannot compile their forward."""
    raise RuntimeError(
        f"fastrnn.torch.{name} cannot be compiled by torch.jit.script (its forward calls "
        "fastrnn's kernels from Python); use torch.compile or torch.jit.trace, or script the "
        "torch.nn module (fastrnn.torch.revert(model))"
    )


def layer_forward(
    x, lengths, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch, mode, reverse, reset_after, cell_clip
):
    """One layer, one direction, as rnn_forward; saves activations only when a gradient is due
    (and always under torch.jit.trace).

    Returns (y [T,N,S], h_n [N,S], c_n [N,H] or [0]).
    """
    tensors = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, w_ch)
    # torch.jit.trace records `training` as a constant: a trace always saves them, so that it can
    # be differentiated whatever the grad mode it was made or is run in.
    # Under torch.func.vmap the op itself runs (vmap runs it once per mapped slice, as it runs
    # torch.nn's cells); a mapped tensor does not say whether it requires grad, so grad mode does.
    vmapped = any(t is not None and torch._C._functorch.is_batchedtensor(t) for t in tensors)
    training = (
        torch.is_grad_enabled() if vmapped else needs_grad(*tensors)
    ) or torch.jit.is_tracing()
    args = (x, lengths, *tensors[1:], mode, reverse, training, reset_after, cell_clip)
    if vmapped or torch.compiler.is_compiling() or torch.jit.is_tracing():
        y, h_n, c_n, _ = torch.ops.fastrnn.rnn_forward.default(*args)
    elif training and not torch._C._are_functorch_transforms_active():
        y, h_n, c_n, _ = _PlainForward.apply(*args)
    elif training:
        y, h_n, c_n, _ = _EagerForward.apply(*args)
    else:
        y, h_n, c_n, _ = _call_forward(args)
    return y, h_n, c_n
