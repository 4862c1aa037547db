"""Overhead of the fastrnn.torch modules over the bare kernels they call.

    python bench/torch_overhead.py [--T 100 --N 32 --I 128 --H 128 --repeats 30 --threads 2]

For one single-layer, one-direction layer per mode (rnn_tanh, gru, lstm), float32, times three
things in one process and prints the median (and min) of `--repeats` rounds after a warm-up; the
kernels and fastrnn.torch alternate in one loop, torch.nn runs in a second loop:

- kernels: `_C.rnn_forward(training=True)` + `_C.rnn_backward` on ready numpy arrays (the
  weight-gradient arrays zeroed each round, as a training step must);
- fastrnn.torch: `y, h = module(x)` then `torch.autograd.backward(y, dy)` (custom op dispatch,
  autograd, the zeroed gradient buffers and torch's accumulation into `.grad`);
- torch.nn: the same with torch.nn's module, for scale.

Also the inference forward (`torch.no_grad()`, kernels with training=False). Prints markdown
tables (times in ms; the overhead of fastrnn.torch over the kernels in ms and percent) for the
given sizes and for T=1 N=1 I=H=8, where the kernels take almost no time and what remains is the
fixed per-call cost of the module.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time

import fastrnn
import fastrnn.torch as ft
import numpy as np
import torch
from fastrnn import _C

MODES = {"rnn_tanh": ("RNN", {}), "gru": ("GRU", {}), "lstm": ("LSTM", {})}


def _timer(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def bench_mode(mode, a):
    cls_name, kwargs = MODES[mode]
    torch.manual_seed(0)
    fast = getattr(ft, cls_name)(a.I, a.H, **kwargs)
    ref = getattr(torch.nn, cls_name)(a.I, a.H, **kwargs)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(a.T, a.N, a.I, requires_grad=True)  # [T,N,I]
    dy = torch.randn(a.T, a.N, a.H)  # [T,N,H]

    # the bare kernels on numpy views of the same tensors
    desc = _C.RnnDesc(mode, a.I, a.H)
    w = [p.detach().numpy() for p in fast.parameters()]  # w_ih, w_hh, b_ih, b_hh
    grads = [np.zeros_like(v) for v in w]
    xn, dyn = x.detach().numpy(), dy.numpy()

    def kernels():
        _, _, _, reserve = _C.rnn_forward(desc, xn, None, None, None, *w, None, None, False, True)
        for g in grads:
            g.fill(0)
        _C.rnn_backward(
            desc, dyn, None, None, xn, None, *w, None, None, reserve, False, *grads, None, None
        )

    def kernels_inference():
        _C.rnn_forward(desc, xn, None, None, None, *w, None, None, False, False)

    def module(m):
        def step():
            m.zero_grad(set_to_none=True)
            x.grad = None
            y, _ = m(x)
            torch.autograd.backward(y, dy)

        return step

    def inference(m):
        def fwd():
            with torch.no_grad():
                m(x)

        return fwd

    ours = {
        "train kernels": kernels,
        "train fastrnn.torch": module(fast),
        "infer kernels": kernels_inference,
        "infer fastrnn.torch": inference(fast),
    }
    theirs = {"train torch.nn": module(ref), "infer torch.nn": inference(ref)}
    times = {}
    # Two alternating loops: torch.nn's ops leave torch's OpenMP threads spinning for a while,
    # which would slow whichever fastrnn case ran next on a small machine.
    for cases in (ours, theirs):
        for fn in cases.values():  # warm-up
            for _ in range(3):
                fn()
        times.update({k: [] for k in cases})
        for _ in range(a.repeats):
            for k, fn in cases.items():
                times[k] += _timer(fn, 1)
    return {k: (statistics.median(v) * 1e3, min(v) * 1e3) for k, v in times.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--T", type=int, default=100)
    p.add_argument("--N", type=int, default=32)
    p.add_argument("--I", type=int, default=128)
    p.add_argument("--H", type=int, default=128)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    fastrnn.set_num_threads(a.threads)
    try:
        cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(
            ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown CPU"
    print(
        f"{a.threads} threads, float32, 1 layer, 1 direction, median (and min) of {a.repeats} "
        f"rounds; {cpu}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the "
        f"start; torch {torch.__version__}, fastrnn {fastrnn.__version__}"
    )
    sizes = [(a.T, a.N, a.I, a.H), (1, 1, 8, 8)]  # the second: kernels ~free, overhead alone
    for T, N, I, H in sizes:  # noqa: E741
        a.T, a.N, a.I, a.H = T, N, I, H
        print(f"\nT={T} N={N} I={I} H={H}\n")
        print(
            "| mode | pass | kernels ms | fastrnn.torch ms | overhead ms | overhead % "
            "| torch.nn ms | torch.nn / fastrnn.torch |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for mode in MODES:
            r = bench_mode(mode, a)
            for what in ("train", "infer"):
                (k, k0), (f, f0), (t, _) = (
                    r[f"{what} {c}"] for c in ("kernels", "fastrnn.torch", "torch.nn")
                )
                label = "forward+backward" if what == "train" else "forward (no_grad)"
                print(
                    f"| {mode} | {label} | {k:.3f} ({k0:.3f}) | {f:.3f} ({f0:.3f}) "
                    f"| {f - k:.3f} ({f0 - k0:.3f}) | {100 * (f - k) / k:.1f} "
                    f"({100 * (f0 - k0) / k0:.1f}) | {t:.3f} | {t / f:.2f} |"
                )


if __name__ == "__main__":
    main()
