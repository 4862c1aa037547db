"""Long memory: which recurrent cell remembers the start of a sequence through a long filler?

    python examples/long_memory.py            # filler lengths 5 .. 100, 3 seeds (half a minute)
    python examples/long_memory.py --quick    # filler lengths 10 and 100, 1 seed (a few seconds)

The task: each sequence opens with a class token (one of --classes) shown for --signal steps,
then --filler noise tokens drawn uniformly from --noise other tokens. A recurrent layer reads the
one-hot tokens and a Linear layer classifies the final hidden state, so the only way to be right
is to carry the class through the whole filler. Chance is 1/classes.

For each filler length a vanilla RNN (tanh), an LSTM and a GRU of the same hidden size are
trained from the same seeds (--repeats of them: seed, seed + 1, ...) with Adam and gradient
clipping (fastrnn's numpy API: fastrnn.RNN / LSTM / GRU inside nn.Recurrent, nn.Linear,
nn.SoftmaxCrossEntropy, optim.Adam, clip_grad_norm), then tested on fresh sequences. The vanilla
RNN's gradient through a long filler vanishes, so it loses the class once the filler is long
(near chance; whether a seed keeps a class or two in an attractor of its dynamics varies, hence
the repeats), while the gated cells keep it.

The gated cells start from the "chrono" initialisation (Tallec & Ollivier, 2018): the LSTM's
forget-gate bias (the GRU's update-gate bias) is log(u), u ~ U(1, filler + signal), and the
LSTM's input-gate bias its negative, so at the start they keep their state for time scales up to
the sequence length. That is the gates' whole point; the vanilla RNN has no gate to set (--gate-init
torch keeps PyTorch's default biases for all three).

Prints a table of mean accuracies, saves a plot of accuracy against filler length (mean, and the
range over seeds) under --out, and ends with a line `RESULT {json}` for scripts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import fastrnn
import numpy as np
from _cli import (
    nonnegative_int,
    output_dir,
    plot_file,
    positive_float,
    positive_int,
    run,
    thread_count,
)
from _figure import save_figure
from fastrnn import nn, optim

CELLS = {"rnn": fastrnn.RNN, "lstm": fastrnn.LSTM, "gru": fastrnn.GRU}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="two filler lengths, fewer steps")
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument(
        "--fillers",
        type=lambda s: [nonnegative_int(v) for v in s.split(",")],
        help="comma-separated filler lengths (default 5,10,20,50,100; quick 10,100)",
    )
    p.add_argument(
        "--steps", type=positive_int, help="optimiser steps per model (default 800, quick 300)"
    )
    p.add_argument("--hidden", type=positive_int, default=32, help="hidden units H")
    p.add_argument("--batch-size", type=positive_int, default=64, help="sequences per step N")
    p.add_argument(
        "--classes", type=positive_int, default=8, help="class tokens (chance = 1/classes)"
    )
    p.add_argument("--noise", type=positive_int, default=8, help="distinct filler tokens")
    p.add_argument("--signal", type=positive_int, default=3, help="steps the class token is shown")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate")
    p.add_argument("--clip", type=positive_float, default=1.0, help="gradient-norm clip")
    p.add_argument(
        "--test-size", type=positive_int, default=1000, help="test sequences per filler length"
    )
    p.add_argument("--gate-init", choices=("chrono", "torch"), default="chrono")
    p.add_argument("--threads", type=thread_count, help="fastrnn threads (default: all)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="first seed")
    p.add_argument("--repeats", type=positive_int, help="seeds per model (default 3, quick 1)")
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "long_memory.png")
    if args.fillers is None:
        args.fillers = [10, 100] if args.quick else [5, 10, 20, 50, 100]
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.steps is None:
        args.steps = 300 if args.quick else 800
    if args.classes < 2:
        p.error(f"argument --classes: expected an int >= 2, got {args.classes}")
    return args


def make_batch(rng, N: int, filler: int, args):
    """One-hot sequences x [signal + filler, N, classes + noise] and labels y [N]."""
    V = args.classes + args.noise
    y = rng.integers(0, args.classes, N)
    ids = np.empty((args.signal + filler, N), np.int64)  # [T, N]
    ids[: args.signal] = y
    ids[args.signal :] = args.classes + rng.integers(0, args.noise, (filler, N))
    return np.eye(V, dtype=np.float32)[ids], y


def chrono_init(layer, cell: str, T: int, rng) -> None:
    """Gate biases for memory up to T steps: LSTM forget (GRU update) log(U(1, T)), LSTM input
    gate the negative; every other bias zero."""
    H = layer.hidden_size
    keep = np.log(rng.uniform(1.0, max(T, 2), H)).astype(np.float32)
    layer.params["bias_ih_l0"][:] = 0
    b = layer.params["bias_hh_l0"]  # [G*H]; LSTM gates i, f, g, o; GRU r, z, n
    b[:] = 0
    b[H : 2 * H] = keep
    if cell == "lstm":
        b[:H] = -keep


def train_and_test(cell: str, filler: int, seed: int, args) -> float:
    """Trains one model on the task with this filler length; returns its test accuracy."""
    rng = np.random.default_rng(seed)
    layer = CELLS[cell](args.classes + args.noise, args.hidden, seed=seed)
    if cell != "rnn" and args.gate_init == "chrono":
        chrono_init(layer, cell, args.signal + filler, rng)
    model = nn.Sequential(
        nn.Recurrent(layer, output="last"), nn.Linear(args.hidden, args.classes, seed=seed)
    )
    loss_fn = nn.SoftmaxCrossEntropy()
    opt = optim.Adam([model], lr=args.lr)
    for _ in range(args.steps):
        x, y = make_batch(rng, args.batch_size, filler, args)
        model.zero_grad()
        loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward(), input_grad=False)  # x is data: no dx
        optim.clip_grad_norm([model], args.clip)
        opt.step()
    x, y = make_batch(np.random.default_rng(seed + 1), args.test_size, filler, args)
    return nn.accuracy(model.forward(x, training=False), y)


def plot(fillers, runs, chance, path: Path) -> None:
    """runs: {cell: [[accuracy per seed] per filler length]}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"rnn": ("o", "-"), "lstm": ("s", "--"), "gru": ("^", ":")}  # gated lines overlap
    for cell, accs in runs.items():
        marker, line = styles[cell]
        accs = np.array(accs)  # [fillers, repeats]
        ax.plot(fillers, accs.mean(1), marker=marker, linestyle=line, label=cell.upper())
        ax.fill_between(fillers, accs.min(1), accs.max(1), alpha=0.15)
    ax.axhline(chance, color="gray", linestyle="--", label="chance")
    if min(fillers) > 0:
        ax.set_xscale("log")
    else:  # a filler length of 0 has no logarithm: linear from 0 to 1, logarithmic beyond
        ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("filler length (steps between the class token and the answer)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title("Remembering the first tokens through a noise filler")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    chance = 1.0 / args.classes
    print(
        f"{args.classes} classes (chance {chance:.3f}), {args.noise} noise tokens, "
        f"H={args.hidden}, {args.steps} Adam steps of {args.batch_size} sequences, "
        f"gate init {args.gate_init}"
    )
    runs = {cell: [] for cell in CELLS}  # {cell: [[accuracy per seed] per filler]}
    seeds = range(args.seed, args.seed + args.repeats)
    start = time.perf_counter()
    print(f"{'filler':>7} | " + " | ".join(f"{c.upper():>6}" for c in CELLS))
    for filler in args.fillers:
        for cell in CELLS:
            runs[cell].append([train_and_test(cell, filler, seed, args) for seed in seeds])
        means = " | ".join(f"{np.mean(runs[c][-1]):6.3f}" for c in CELLS)
        print(f"{filler:>7} | {means}", flush=True)
    seconds = time.perf_counter() - start
    plot_path = args.plot
    plot(args.fillers, runs, chance, plot_path)
    print(
        f"trained {len(args.fillers) * len(CELLS) * args.repeats} models in {seconds:.1f} s; "
        f"plot: {plot_path}"
    )
    result = {
        "fillers": args.fillers,
        "accuracy": {c: [float(np.mean(a)) for a in runs[c]] for c in CELLS},
        "accuracy_per_seed": runs,
        "seeds": list(seeds),
        "chance": chance,
        "seconds": round(seconds, 2),
        "plot": str(plot_path),
    }
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    run(main)
