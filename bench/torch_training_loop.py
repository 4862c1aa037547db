"""A torch training loop with torch.nn's RNN layer against the same loop with fastrnn.torch's.

    python bench/torch_training_loop.py [--mode lstm --T 100 --N 32 --E 128 --H 128 --V 256
                                         --layers 1 --bidirectional --packed --threads 2]

The loop is what a torch user writes: Embedding -> the RNN layer -> Linear -> cross-entropy ->
backward -> SGD step, every op but the RNN layer torch's own. Three variants of one model (same
initial weights and batches) alternate in blocks of `--steps` steps, `--rounds` rounds, and the
median time per step is printed for each:

- torch.nn: torch.nn.LSTM / GRU / RNN;
- fastrnn.torch: fastrnn.torch's module, fastrnn's parallel work on torch's OpenMP threads (what
  importing fastrnn.torch sets up when both thread counts are equal);
- fastrnn.torch, own pool: the same module with fastrnn's work on its own thread pool (how it ran
  before: torch's OpenMP threads, spinning for milliseconds after each of torch's ops, then share
  the cores with fastrnn's threads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import fastrnn
import fastrnn.torch as ft
import torch
from fastrnn import _C
from fastrnn.bench import machine_info

LAYERS = {
    "lstm": (torch.nn.LSTM, ft.LSTM),
    "gru": (torch.nn.GRU, ft.GRU),
    "rnn_tanh": (torch.nn.RNN, ft.RNN),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=sorted(LAYERS), default="lstm")
    p.add_argument("--T", type=int, default=100, help="steps")
    p.add_argument("--N", type=int, default=32, help="batch")
    p.add_argument("--E", type=int, default=128, help="embedding size (the layer's input)")
    p.add_argument("--H", type=int, default=128, help="hidden size")
    p.add_argument("--V", type=int, default=256, help="vocabulary (Linear's outputs)")
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--packed", action="store_true", help="PackedSequence of lengths T/2..T")
    p.add_argument("--threads", type=int, default=2, help="torch's and fastrnn's thread count")
    p.add_argument("--steps", type=int, default=5, help="training steps a timed block")
    p.add_argument("--rounds", type=int, default=12, help="timed blocks of each variant")
    return p.parse_args(argv)


def make_step(layer_class, args):
    """One training step of the model with `layer_class` as its RNN (seeded: the same weights and
    batches for every variant)."""
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(args.V, args.E)
    kwargs = dict(num_layers=args.layers, bidirectional=args.bidirectional)
    rnn = layer_class(args.E, args.H, **kwargs)
    out = torch.nn.Linear(args.H * (2 if args.bidirectional else 1), args.V)
    params = [*embedding.parameters(), *rnn.parameters(), *out.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.1)
    ids = torch.randint(0, args.V, (args.T + 1, args.N))  # [T+1, N]: inputs and next-id targets
    lengths = torch.randint(args.T // 2, args.T + 1, (args.N,))
    lengths[0] = args.T

    def step():
        optimizer.zero_grad()
        x = embedding(ids[:-1])  # [T, N, E]
        if args.packed:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
            y, _ = torch.nn.utils.rnn.pad_packed_sequence(rnn(packed)[0], total_length=args.T)
        else:
            y, _ = rnn(x)
        logits = out(y).reshape(-1, args.V)
        torch.nn.functional.cross_entropy(logits, ids[1:].reshape(-1)).backward()
        optimizer.step()

    return step


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    fastrnn.set_num_threads(args.threads)
    torch_runtime = _C.openmp_runtime()
    if not torch_runtime:
        raise SystemExit("torch's OpenMP runtime was not found: nothing to compare")
    torch_class, fastrnn_class = LAYERS[args.mode]
    variants = {
        "torch.nn": (make_step(torch_class, args), torch_runtime),
        "fastrnn.torch": (make_step(fastrnn_class, args), torch_runtime),
        "fastrnn.torch, own pool": (make_step(fastrnn_class, args), ""),
    }
    times = {name: [] for name in variants}
    for step, runtime in variants.values():  # warm-up
        _C.use_openmp_runtime(runtime)
        for _ in range(3):
            step()
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            step, runtime = variants[name]
            _C.use_openmp_runtime(runtime)
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[name].append((time.perf_counter() - start) / args.steps * 1e3)
    _C.use_openmp_runtime(torch_runtime)

    shape = f"T={args.T} N={args.N} E={args.E} H={args.H} V={args.V} layers={args.layers}"
    extras = [f for f in ("bidirectional", "packed") if getattr(args, f)]
    print(
        f"{args.mode} {shape}{' ' + ' '.join(extras) if extras else ''}, {args.threads} threads, "
        f"median of {args.rounds} blocks of {args.steps} steps; {machine_info()['model']}, "
        f"load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}"
    )
    reference = statistics.median(times["torch.nn"])
    print("| variant | ms a step | torch.nn / variant |")
    print("|---|---:|---:|")
    for name, values in times.items():
        ms = statistics.median(values)
        print(f"| {name} | {ms:.2f} | {reference / ms:.2f}x |")


if __name__ == "__main__":
    main()
