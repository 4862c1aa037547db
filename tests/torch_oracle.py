"""Runs one recurrent layer in PyTorch (torch.nn.RNN/LSTM/GRU, CPU) with given parameters and
returns outputs and autograd gradients as numpy arrays, in the calling convention of
``fastrnn.functional`` and ``reference.py``: a second oracle for the tests.

lengths go through a PackedSequence (enforce_sorted=False); reverse=True uses the ``_reverse``
half of a bidirectional module.  torch has no peepholes, cell clip or GRU reset_after=False.
"""

import warnings

import numpy as np
import torch
from reference import state_sizes

TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def make_torch_layer(mode, input_size, params, *, reverse=False, dtype=np.float64):
    """A torch.nn module (single layer; bidirectional when reverse) holding ``params``."""
    H, S = state_sizes(mode, params)
    proj = S if "weight_hr" in params else 0
    kwargs = dict(
        bias="bias_ih" in params, bidirectional=reverse, dtype=TORCH_DTYPES[np.dtype(dtype)]
    )
    if mode == "lstm":
        module = torch.nn.LSTM(input_size, H, proj_size=proj, **kwargs)
    elif mode == "gru":
        module = torch.nn.GRU(input_size, H, **kwargs)
    else:
        module = torch.nn.RNN(input_size, H, nonlinearity=mode[4:], **kwargs)
    suffix = "_l0_reverse" if reverse else "_l0"
    with torch.no_grad():
        for name, value in params.items():
            getattr(module, name + suffix).copy_(torch.from_numpy(np.asarray(value)))
    return module, suffix


def torch_run(mode, x, params, hx=None, lengths=None, *, reverse=False, dy=None, dstate=None):
    """Forward (and backward when dy is given) in torch, dtype of x.

    Returns (y, state, dx, dhx, grads); the last three are None without dy.  dhx is None when hx
    is None.  grads uses the keys of params.
    """
    assert "weight_ch" not in params, "torch has no peepholes"
    dtype = np.asarray(x).dtype
    T, N, n_in = np.shape(x)
    H, S = state_sizes(mode, params)
    module, suffix = make_torch_layer(mode, n_in, params, reverse=reverse, dtype=dtype)
    D = 2 if reverse else 1
    d = D - 1  # the direction we test

    xt = torch.tensor(np.asarray(x), requires_grad=True)
    hx_leaves = None
    torch_hx = None
    if hx is not None:
        hx_leaves = [torch.tensor(np.asarray(a), requires_grad=True) for a in _as_tuple(hx)]
        # [D,N,*]: our state in direction d, zeros in the other one
        torch_hx = tuple(
            torch.stack([leaf if k == d else torch.zeros_like(leaf) for k in range(D)])
            for leaf in hx_leaves
        )
        if mode != "lstm":
            torch_hx = torch_hx[0]
    out, state = run_module(module, xt, torch_hx, lengths)
    y = out[..., d * S : (d + 1) * S]
    state = tuple(s[d] for s in state) if mode == "lstm" else state[d]

    def to_np(a):
        return a.detach().numpy().copy()

    y_np = to_np(y)
    state_np = tuple(map(to_np, state)) if mode == "lstm" else to_np(state)
    if dy is None:
        return y_np, state_np, None, None, None

    total = (y * torch.from_numpy(np.asarray(dy))).sum()
    if dstate is not None:
        for s, ds in zip(_as_tuple(state), _as_tuple(dstate), strict=True):
            if ds is not None:
                total = total + (s * torch.from_numpy(np.asarray(ds))).sum()
    total.backward()
    dx = to_np(xt.grad)
    dhx = None
    if hx_leaves is not None:
        dhx = [to_np(leaf.grad) for leaf in hx_leaves]
        dhx = tuple(dhx) if mode == "lstm" else dhx[0]
    grads = {name: to_np(getattr(module, name + suffix).grad) for name in params}
    return y_np, state_np, dx, dhx, grads


def run_module(module, x, hx=None, lengths=None, batch_first=False):
    """module(x, hx) with x a tensor [T,N,I] ([N,T,I] if batch_first); with lengths through a
    PackedSequence (enforce_sorted=False), the output padded back to full length with zeros."""
    with warnings.catch_warnings():
        # torch's float32 LSTM with projection falls back from oneDNN and says so
        warnings.filterwarnings("ignore", message="LSTM with projections is not supported")
        if lengths is None:
            return module(x, hx)
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x,
            torch.as_tensor(np.asarray(lengths), dtype=torch.int64),
            batch_first=batch_first,
            enforce_sorted=False,
        )
        out_packed, state = module(packed, hx)
        total = x.shape[1] if batch_first else x.shape[0]
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out_packed, batch_first=batch_first, total_length=total
        )
        return out, state


def _as_tuple(a):
    return a if isinstance(a, tuple) else (a,)


__all__ = ["TORCH_DTYPES", "make_torch_layer", "run_module", "torch_run"]
