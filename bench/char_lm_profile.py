"""Where a training step of examples/char_lm.py spends its time, in fastrnn and in PyTorch.

    python bench/char_lm_profile.py [--hidden 256 --batch-size 32 --seq-len 100 --repeats 10]

Builds the example's model (Embedding -> 2-layer LSTM -> Linear -> softmax cross-entropy, Adam,
gradient clipping) in fastrnn and in PyTorch, then alternates single training steps of the two
(after a warm-up) and prints the median time of each phase of fastrnn's step and of the whole
PyTorch step, so a slow phase is easy to see. Both use fastrnn's thread count and are timed as
examples/char_lm.py times them: PyTorch with its own OpenMP settings, each step after a 20 ms
pause in which every CPU busy-waits (fastrnn-bench's settle).
"""

from __future__ import annotations

import argparse
import os
import time

import fastrnn
import numpy as np
from fastrnn import nn, optim
from fastrnn.bench_rnn import settle

SETTLE_S = 0.02  # as examples/char_lm.py

PHASES = [
    "embedding fwd",
    "LSTM fwd",
    "Linear fwd",
    "loss fwd+bwd",
    "Linear bwd",
    "LSTM bwd",
    "embedding bwd",
    "clip",
    "Adam",
]


def fastrnn_step(mods, loss_fn, opt, x, y):
    """One training step; returns the seconds of each phase."""
    emb, lstm, lin = mods
    t = [time.perf_counter()]
    opt.zero_grad()
    e = emb(x)
    t.append(time.perf_counter())
    h, _ = lstm.forward(e)
    t.append(time.perf_counter())
    logits = lin(h)
    t.append(time.perf_counter())
    loss_fn(logits, y)
    d = loss_fn.backward()
    t.append(time.perf_counter())
    dh = lin.backward(d)
    t.append(time.perf_counter())
    de, _ = lstm.backward(dh)
    t.append(time.perf_counter())
    emb.backward(de)
    t.append(time.perf_counter())
    optim.clip_grad_norm(mods, 5.0)
    t.append(time.perf_counter())
    opt.step()
    t.append(time.perf_counter())
    return np.diff(t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int)
    args = p.parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    import torch

    torch.set_num_threads(fastrnn.get_num_threads())
    V, E, H, N, k = args.vocab, args.embed, args.hidden, args.batch_size, args.seq_len
    mods = [nn.Embedding(V, E, seed=0), fastrnn.LSTM(E, H, 2, seed=1), nn.Linear(H, V, seed=2)]
    loss_fn, opt = nn.SoftmaxCrossEntropy(), optim.Adam(mods, lr=1e-3)
    t_emb, t_lstm, t_lin = torch.nn.Embedding(V, E), torch.nn.LSTM(E, H, 2), torch.nn.Linear(H, V)
    t_params = [*t_emb.parameters(), *t_lstm.parameters(), *t_lin.parameters()]
    t_opt = torch.optim.Adam(t_params, lr=1e-3)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (k, N)), rng.integers(0, V, (k, N))
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)

    def torch_step():
        start = time.perf_counter()
        t_opt.zero_grad()
        logits = t_lin(t_lstm(t_emb(tx))[0]).reshape(-1, V)
        torch.nn.functional.cross_entropy(logits, ty).backward()
        torch.nn.utils.clip_grad_norm_(t_params, 5.0)
        t_opt.step()
        return time.perf_counter() - start

    for _ in range(2):  # warm-up
        fastrnn_step(mods, loss_fn, opt, x, y)
        torch_step()
    ours, theirs = [], []
    for _ in range(args.repeats):
        settle(SETTLE_S)
        ours.append(fastrnn_step(mods, loss_fn, opt, x, y))
        settle(SETTLE_S)
        theirs.append(torch_step())
    phases = np.median(np.array(ours), axis=0) * 1e3
    total = float(np.median(np.array(ours).sum(axis=1)) * 1e3)
    torch_ms = float(np.median(theirs) * 1e3)
    print(
        f"T={k} N={N} V={V} E={E} H={H}, 2 layers, {fastrnn.get_num_threads()} threads, "
        f"median of {args.repeats}; 1-minute load average {os.getloadavg()[0]:.2f}"
    )
    print("| phase | fastrnn ms | share |\n|---|---:|---:|")
    for name, ms in zip(PHASES, phases, strict=True):
        print(f"| {name} | {ms:.1f} | {ms / total:.0%} |")
    print(f"| **fastrnn step** | **{total:.1f}** | |")
    print(f"| **PyTorch step** | **{torch_ms:.1f}** | fastrnn / PyTorch = {total / torch_ms:.2f} |")


if __name__ == "__main__":
    main()
