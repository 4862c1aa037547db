"""Time series: sequence-to-sequence next-value prediction with an LSTM, then free generation.

    python examples/time_series.py             # full run
    python examples/time_series.py --quick     # a short run (a few seconds)

The series is a seeded sum of three sines plus Gaussian noise; the first 80% trains, the rest is
held out. At every step of a window the model (fastrnn.LSTM -> fastrnn.nn.Linear) predicts the
next value; the loss is the mean squared error. On the held-out part it reports the one-step MSE
beside the "repeat the last value" baseline, then generates freely (each prediction fed back as
the next input): once after a window of zeros, once after a real window of the held-out series.
Saves a plot and ends with a `RESULT {json}` line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import fastrnn
import numpy as np
from _cli import (
    bounded_float,
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


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument("--quick", action="store_true", help="a short run")
    p.add_argument("--steps", type=positive_int, help="optimiser steps (default 1500, quick 300)")
    p.add_argument("--length", type=positive_int, default=6000, help="length of the series")
    p.add_argument(  # the clean series is within ±1.8; a noise near float32's range overflows
        "--noise", type=bounded_float(1e6), default=0.05, help="noise standard deviation"
    )
    p.add_argument("--window", type=positive_int, default=64, help="training window length T")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--hidden", type=positive_int, default=48)
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate")
    p.add_argument("--generate", type=positive_int, default=200, help="free-running steps")
    p.add_argument("--threads", type=thread_count, help="fastrnn threads (default: all)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "time_series.png")
    if args.steps is None:
        args.steps = 300 if args.quick else 1500
    # The held-out last 20 % holds the real seed window (2T) and the steps generation is scored
    # on after it; the first 80 % holds training windows of T + 1 values.
    need = 5 * (2 * args.window + GENERATION_SCORED + 1)
    if args.length < need:
        p.error(
            f"argument --length: with --window {args.window} expected >= {need}, got {args.length}"
        )
    return args


GENERATION_SCORED = 50  # free-running steps after the real window whose MSE is reported


def make_series(length: int, noise: float, seed: int) -> np.ndarray:
    """A sum of sines (periods 50, 17 and 7.3 steps) plus N(0, noise²) noise: [length] float32."""
    t = np.arange(length)
    clean = (
        np.sin(2 * np.pi * t / 50)
        + 0.5 * np.sin(2 * np.pi * t / 17 + 1.0)
        + 0.3 * np.sin(2 * np.pi * t / 7.3 + 2.0)
    )
    return (clean + noise * np.random.default_rng(seed).standard_normal(length)).astype(np.float32)


class Forecaster:
    """fastrnn.LSTM(1, H) -> Linear(H, 1): y[t] is the prediction of x[t + 1]."""

    def __init__(self, hidden: int, seed: int):
        self.lstm = fastrnn.LSTM(1, hidden, seed=seed)
        self.head = nn.Linear(hidden, 1, seed=seed + 1)
        self.model = nn.Sequential(nn.Recurrent(self.lstm), self.head)

    def predict(self, x, state=None):
        """x: [T, N] values -> (predictions [T, N], final state), no training caches kept."""
        out, state = self.lstm.forward(x[:, :, None], state, training=False)
        return self.head.forward(out)[:, :, 0], state

    def generate(self, context, steps: int) -> np.ndarray:
        """Reads `context` [C] then feeds each prediction back as the next input: [steps]."""
        pred, state = self.predict(context[:, None])
        value, out = pred[-1:], []
        for _ in range(steps):
            out.append(value[0, 0])
            value, state = self.predict(value, state)
        return np.array(out, dtype=np.float32)


def mse_loss(pred, target):
    """(mean squared error, its gradient with respect to pred [T, N]).
    pred: [T, N]; target: [T, N]."""
    diff = pred - target
    return float(np.mean(diff.astype(np.float64) ** 2)), (2.0 / diff.size) * diff


def plot(path: Path, test, one_step, warm, gen_real, start_real, gen_zero):
    """Saves the three panels. test: [L] the held-out series from its second value;
    one_step: [L] the one-step predictions of test; gen_real: [G] generated after the real
    window that ends at start_real; gen_zero: [G] generated after a window of zeros."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8))
    span = slice(warm, warm + 300)
    t = np.arange(len(test))
    axes[0].plot(t[span], test[span], label="held-out series")
    axes[0].plot(t[span], one_step[span], label="one-step prediction", alpha=0.8)
    axes[0].set_title("One-step-ahead prediction")
    # t indexes test from its second value: gen_real[j], the prediction of the value at
    # start_real + j of the held-out series, is drawn at start_real + j - 1.
    g = np.arange(start_real - 1, start_real - 1 + len(gen_real))
    shown = slice(max(0, start_real - 100), g[-1] + 1)
    axes[1].plot(t[shown], test[shown], label="series")
    axes[1].plot(g, gen_real, label="free-running, after a real window")
    axes[1].set_title("Generation seeded with a real window")
    axes[2].plot(gen_zero, label="free-running, after a window of zeros", color="C2")
    axes[2].set_title("Generation seeded with zeros")
    for ax in axes:
        ax.legend(loc="upper right")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    series = make_series(args.length, args.noise, args.seed)
    cut = int(0.8 * len(series))
    train, test = series[:cut], series[cut:]
    net = Forecaster(args.hidden, args.seed)
    opt = optim.Adam([net.model], lr=args.lr)
    sched = optim.CosineLR(opt, total_steps=args.steps, min_lr=args.lr / 20)
    rng = np.random.default_rng(args.seed + 1)
    T, N = args.window, args.batch_size
    offsets = np.arange(T + 1)
    start = time.perf_counter()
    losses = []
    for step in range(args.steps):
        starts = rng.integers(0, len(train) - T - 1, N)
        windows = train[starts[None, :] + offsets[:, None]]  # [T + 1, N]
        opt.zero_grad()
        pred = net.model(windows[:-1, :, None])[:, :, 0]  # [T, N]
        loss, dpred = mse_loss(pred, windows[1:])
        net.model.backward(dpred[:, :, None], input_grad=False)  # the series is data: no dx
        optim.clip_grad_norm([net.model], 1.0)
        opt.step()
        sched.step()
        losses.append(loss)
        if (step + 1) % max(1, args.steps // 5) == 0:
            print(f"step {step + 1:5d}  train MSE {np.mean(losses[-50:]):.5f}", flush=True)
    seconds = time.perf_counter() - start

    warm = 50  # the first steps of the held-out run only set up the state
    one_step, _ = net.predict(test[:-1, None])
    one_step = one_step[:, 0]
    test_mse = float(np.mean((one_step[warm:] - test[1 + warm :]) ** 2))
    baseline_mse = float(np.mean((test[warm:-1] - test[1 + warm :]) ** 2))
    start_real = 2 * T
    gen_real = net.generate(test[:start_real], args.generate)
    scored = min(GENERATION_SCORED, args.generate)
    gen_mse = float(np.mean((gen_real[:scored] - test[start_real : start_real + scored]) ** 2))
    gen_zero = net.generate(np.zeros(T, np.float32), args.generate)
    print(
        f"held-out one-step MSE {test_mse:.5f}; repeat-last-value baseline {baseline_mse:.5f} "
        f"(noise variance {args.noise**2:.5f}); training {seconds:.1f} s"
    )
    print(
        f"free-running after a real window: MSE over the first {scored} steps {gen_mse:.5f}; "
        f"after zeros: values in [{gen_zero.min():.2f}, {gen_zero.max():.2f}]"
    )
    plot_path = args.plot
    plot(plot_path, test[1:], one_step, warm, gen_real, start_real, gen_zero)
    print(f"plot: {plot_path}")
    result = {
        "test_mse": test_mse,
        "baseline_mse": baseline_mse,
        "generation_mse": gen_mse,
        "zeros_generation_std": float(gen_zero.std()),
        "steps": args.steps,
        "seconds": seconds,
        "plot": str(plot_path),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    run(main)
