"""The CUDA implementations of torch.ops.fastrnn.rnn_forward / rnn_backward: fastrnn's GPU layer
driver (csrc/cuda/rnn_cuda.cu) on the tensors' device.

_ops registers them as the ops' "cuda" kernels; the modules send CUDA tensors there only when
`_ops.cuda_kernels_available()` (in a build without CUDA kernels they raise RuntimeError).
Outputs, the reserve, the workspaces and the gradients are allocated by torch on the input's
device (its caching allocator, which orders reuse by stream); the work is queued on torch's
current stream of that device and the call returns without synchronising. The C++ entry points
take raw device pointers, so every tensor's device, dtype, shape and layout is checked here first.
cuBLAS is loaded at the first call (fastrnn._cuda).

Shape letters as in DESIGN.md: T steps, N batch, I inputs, H hidden, P projection, S state size,
G gates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fastrnn import _C
from fastrnn._cuda import load_cublas

_WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_ch")


def _ptr(t: Tensor | None) -> int:
    return 0 if t is None else t.data_ptr()


def _checked(t: Tensor | None, name: str, shape: tuple, like: Tensor) -> Tensor | None:
    """t as a contiguous tensor on like's device with like's dtype and exactly `shape`, or None."""
    if t is None:
        return None
    if t.device != like.device:
        raise RuntimeError(f"{name}: expected a tensor on {like.device}, got one on {t.device}")
    if t.dtype != like.dtype:
        raise RuntimeError(f"{name}: expected dtype {like.dtype}, got {t.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise RuntimeError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    return t.contiguous()


def _device_lengths(lengths: Tensor | None, T: int, N: int, device) -> Tensor | None:
    """lengths [N] checked to lie in 1..T (on the host), as int64 on the device."""
    if lengths is None:
        return None
    host = lengths.cpu()
    if tuple(host.shape) != (N,):
        raise RuntimeError(f"lengths: expected shape ({N},), got {tuple(host.shape)}")
    if N and (int(host.min()) < 1 or int(host.max()) > T):
        raise RuntimeError(f"lengths: each length must be in 1..T={T}")
    host = host.to(torch.int64)
    if torch.device(device).type != "cuda":  # the host-memory emulation in the tests
        return host.to(device)
    # From pinned memory without waiting: a plain host-to-device copy synchronises the stream,
    # so the host could not queue the next layer while this one's steps run.
    return host.pin_memory().to(device, non_blocking=True)


def _check_x(x: Tensor) -> Tensor:
    """x [T,N,I] as a contiguous float32/float64 tensor: the kernels take no other dtype (a
    float16 x would be read as float32, past the end of every buffer)."""
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"x: expected dtype torch.float32 or torch.float64, got {x.dtype}")
    if x.dim() != 3:
        raise RuntimeError(f"x: expected 3 dimensions [T, N, I], got shape {tuple(x.shape)}")
    return x.contiguous()


def _weights(desc, x: Tensor, weights) -> list:
    H, S, GH = desc.hidden_size, desc.state_size, desc.gates * desc.hidden_size
    shapes = ((GH, desc.input_size), (GH, S), (GH,), (GH,), (desc.proj_size, H), (3, H))
    return [_checked(w, n, s, x) for w, n, s in zip(weights, _WEIGHT_NAMES, shapes, strict=True)]


def _stream(x: Tensor) -> int:
    return torch.cuda.current_stream(x.device).cuda_stream


def rnn_forward_cuda(
    desc, x, lengths, h0, c0, weights, reverse: bool, training: bool, reserve_size
):
    """One layer, one direction on the device. x: [T,N,I]; lengths: [N] or None; h0: [N,S] or
    None; c0: [N,H] or None; weights: (w_ih, w_hh, b_ih, b_hh, w_hr, w_ch), None where absent.
    Returns y [T,N,S], h_n [N,S], c_n [N,H] (LSTM, else [0]) and reserve [reserve_size]
    (training, else [0])."""
    load_cublas()
    x = _check_x(x)
    T, N = x.shape[0], x.shape[1]
    H, S = desc.hidden_size, desc.state_size
    lstm = desc.mode == "lstm"
    w = _weights(desc, x, weights)
    h0 = _checked(h0, "h0", (N, S), x)
    c0 = _checked(c0, "c0", (N, H), x) if lstm else None
    lengths = _device_lengths(lengths, T, N, x.device)
    y = x.new_empty(T, N, S)
    h_n = x.new_empty(N, S)
    c_n = x.new_empty(N, H) if lstm else x.new_empty(0)
    reserve = x.new_empty(reserve_size) if training else x.new_empty(0)
    workspace = x.new_empty(_C.gpu_rnn_forward_workspace_size(desc, T, N, training))
    _C.cuda_rnn_forward(
        desc,
        T,
        N,
        x.dtype == torch.float64,
        x.get_device(),
        _stream(x),
        [y.data_ptr(), h_n.data_ptr(), _ptr(c_n if lstm else None)]
        + [_ptr(reserve if training else None), workspace.data_ptr()],
        [x.data_ptr(), _ptr(lengths), _ptr(h0), _ptr(c0)],
        [_ptr(t) for t in w],
        reverse,
    )
    return y, h_n, c_n, reserve


def rnn_backward_cuda(
    desc,
    dy,
    dh_n,
    dc_n,
    x,
    lengths,
    weights,
    reserve,
    reverse: bool,
    wanted=(True,) * 6,
    input_grad: bool = True,
):
    """Backward of a training rnn_forward_cuda. dy: [T,N,S]; dh_n: [N,S] or None; dc_n: [N,H] or
    None; wanted: which of the six weights' gradients to compute, input_grad: whether dx (the
    driver skips the GEMMs of the others). Returns dx [T,N,I] ([0] when not wanted), dh0 [N,S],
    dc0 [N,H] (LSTM, else [0]) and the gradients of the six weights (shaped like them; [0] for
    absent or unwanted ones)."""
    load_cublas()
    x = _check_x(x)
    T, N = x.shape[0], x.shape[1]
    H, S = desc.hidden_size, desc.state_size
    lstm = desc.mode == "lstm"
    w = _weights(desc, x, weights)
    dy = _checked(dy, "dy", (T, N, S), x)
    dh_n = _checked(dh_n, "dh_n", (N, S), x)
    dc_n = _checked(dc_n, "dc_n", (N, H), x) if lstm else None
    reserve = _checked(reserve.reshape(-1), "reserve", (_C.rnn_reserve_size(desc, T, N),), x)
    lengths = _device_lengths(lengths, T, N, x.device)
    grads = [  # accumulated into
        torch.zeros_like(t) if t is not None and want else None
        for t, want in zip(w, wanted, strict=True)
    ]
    dx = x.new_empty(T, N, desc.input_size) if input_grad else x.new_empty(0)
    dh0 = x.new_empty(N, S)
    dc0 = x.new_empty(N, H) if lstm else x.new_empty(0)
    workspace = x.new_empty(_C.gpu_rnn_backward_workspace_size(desc, T, N, lengths is not None))
    _C.cuda_rnn_backward(
        desc,
        T,
        N,
        x.dtype == torch.float64,
        x.get_device(),
        _stream(x),
        [
            _ptr(dx if input_grad else None),
            dh0.data_ptr(),
            _ptr(dc0 if lstm else None),
            workspace.data_ptr(),
        ],
        [_ptr(g) for g in grads],
        [dy.data_ptr(), _ptr(dh_n), _ptr(dc_n), x.data_ptr(), _ptr(lengths), reserve.data_ptr()],
        [_ptr(t) for t in w],
        reverse,
    )
    grads = [g if g is not None else x.new_empty(0) for g in grads]
    return (dx, dh0, dc0, *grads)
