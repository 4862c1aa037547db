"""Sequence classification: each digit image is read row by row by an LSTM, and a Linear layer on
its final hidden state predicts the digit.

    python examples/digits.py                  # scikit-learn's 8x8 digits: 8 steps of 8 pixels
    python examples/digits.py --quick          # fewer epochs (a few seconds)
    python examples/digits.py --mnist DIR      # MNIST IDX files in DIR: 28 steps of 28 pixels

Model: fastrnn.LSTM -> final state (fastrnn.nn.Recurrent(output="last")) -> fastrnn.nn.Linear ->
softmax cross-entropy, trained with Adam on minibatches. Prints the test accuracy, saves a plot
of the training loss and test accuracy per epoch, and ends with a `RESULT {json}` line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import fastrnn
import numpy as np
from _cli import (
    fail,
    nonnegative_int,
    output_dir,
    plot_file,
    positive_float,
    positive_int,
    require,
    run,
    thread_count,
)
from _figure import save_figure
from fastrnn import nn, optim


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mnist", type=Path, help="directory with MNIST's four IDX files (.gz or not)")
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument("--quick", action="store_true", help="a short run")
    p.add_argument(
        "--epochs", type=positive_int, help="passes over the training set (default 40, quick 12)"
    )
    p.add_argument("--hidden", type=positive_int, default=64, help="LSTM hidden units")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=5e-3, help="Adam learning rate")
    p.add_argument("--threads", type=thread_count, help="fastrnn threads (default: all)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "digits.png")
    if args.mnist is None:
        require(p, "sklearn", "for its 8x8 digits (or give --mnist DIR)")
    if args.epochs is None:
        args.epochs = 12 if args.quick else 40
    return args


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (MNIST's format: magic 0x0000 08 ndim, big-endian int32 sizes, uint8)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    shape = tuple(int(s) for s in np.frombuffer(data, ">i4", ndim, 4))
    values = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} values for shape {shape}")
    return values.reshape(shape)


def find(directory: Path, stem: str) -> Path:
    for name in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_data(args):
    """Returns (x_train [N, R, C] float32 in [0, 1], y_train [N], x_test, y_test)."""
    if args.mnist is not None:
        stems = (
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        )
        try:
            parts = [read_idx(find(args.mnist, stem)) for stem in stems]
        except (OSError, EOFError, ValueError) as e:  # missing, unreadable or not IDX
            fail(f"--mnist: {e}")
        x_train, y_train, x_test, y_test = parts
        shapes = (
            f"training images {x_train.shape} and labels {y_train.shape}, test images "
            f"{x_test.shape} and labels {y_test.shape}"
        )
        if (
            x_train.ndim != 3
            or x_test.ndim != 3
            or x_train.shape[1:] != x_test.shape[1:]
            or y_train.ndim != 1
            or y_test.ndim != 1
            or len(x_train) != len(y_train)
            or len(x_test) != len(y_test)
            or len(x_train) == 0
            or len(x_test) == 0
        ):
            fail(
                "--mnist: expected training and test images [N, rows, cols] of the same rows "
                f"and cols (N >= 1) and N labels each, got {shapes}"
            )
        for name, labels in (("training", y_train), ("test", y_test)):
            if labels.max() > 9:
                fail(f"--mnist: expected {name} labels 0..9, got {int(labels.max())}")
        return (
            x_train / np.float32(255),
            y_train.astype(np.int64),
            x_test / np.float32(255),
            y_test.astype(np.int64),
        )
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # [1797, 8, 8]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(12345).permutation(len(y))  # a fixed 80/20 split
    cut = int(0.8 * len(y))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def predict(model, x, batch: int = 1000):
    """Logits [N, 10] for images x [N, R, C], read as time-major [R, N, C] sequences."""
    out = [
        model(np.ascontiguousarray(x[i : i + batch].transpose(1, 0, 2)), training=False)
        for i in range(0, len(x), batch)
    ]
    return np.concatenate(out)


def plot(path: Path, losses, accuracies):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats)")
    ax2 = ax.twinx()
    ax2.plot(epochs, accuracies, color="C1", label="test accuracy")
    ax2.set_ylabel("test accuracy")
    ax.set_title("Digits read row by row by an LSTM")
    fig.legend(loc="center right")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    x_train, y_train, x_test, y_test = load_data(args)
    R, C = x_train.shape[1:]
    print(f"train {x_train.shape}, test {x_test.shape}: {R} steps of {C} pixels per image")
    model = nn.Sequential(
        nn.Recurrent(fastrnn.LSTM(C, args.hidden, seed=args.seed), output="last"),
        nn.Linear(args.hidden, 10, seed=args.seed + 1),
    )
    opt = optim.Adam([model], lr=args.lr)
    sched = optim.CosineLR(opt, total_steps=args.epochs * -(-len(y_train) // args.batch_size))
    loss_fn = nn.SoftmaxCrossEntropy()
    rng = np.random.default_rng(args.seed)
    losses, accuracies = [], []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = rng.permutation(len(y_train))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            x = np.ascontiguousarray(x_train[idx].transpose(1, 0, 2))  # [R, B, C]
            opt.zero_grad()
            loss = loss_fn(model(x), y_train[idx])
            model.backward(loss_fn.backward(), input_grad=False)  # x is data: no dx
            optim.clip_grad_norm([model], 5.0)
            opt.step()
            sched.step()
            total += loss * len(idx)
        losses.append(total / len(order))
        accuracies.append(nn.accuracy(predict(model, x_test), y_test))
        print(
            f"epoch {epoch + 1:3d}  loss {losses[-1]:.4f}  test accuracy {accuracies[-1]:.4f}",
            flush=True,
        )
    seconds = time.perf_counter() - start
    accuracy = accuracies[-1]
    print(f"test accuracy {accuracy:.4f} ({len(y_test)} images), training {seconds:.1f} s")
    plot_path = args.plot
    plot(plot_path, losses, accuracies)
    print(f"plot: {plot_path}")
    result = {
        "test_accuracy": accuracy,
        "train_loss": losses[-1],
        "epochs": args.epochs,
        "seconds": seconds,
        "plot": str(plot_path),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    run(main)
