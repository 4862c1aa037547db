"""Character-level language model: a 2-layer LSTM trained on a text file with fastrnn's numpy API.

    python examples/char_lm.py                 # full run, also trains the same model in PyTorch
    python examples/char_lm.py --quick         # a short run (seconds), no PyTorch
    python examples/char_lm.py --data my.txt --steps 3000 --no-compare-torch

The text is cut into N parallel streams read in chunks of k characters (truncated backpropagation
through time: each chunk starts from the previous chunk's final state, and no gradient flows into
the previous chunk). Model: Embedding -> LSTM (2 layers) -> Linear -> softmax cross-entropy,
trained with Adam and gradient-norm clipping. It reports the validation loss (nats/char) and
perplexity on the last 10% of the text, samples new text at a temperature, and saves a plot of the
losses. With --compare-torch (on by default in the full run when PyTorch is installed) the same
model — the same initial weights, batches, Adam and clipping — is trained in PyTorch for the same
steps, in lockstep (one step of each in turn, each timed on its own after a 20 ms pause), and both
validation losses and training wall times (the sums of the step times) are printed. One
difference in the optimiser: fastrnn's Adam updates the embedding lazily from its sparse row
gradient (rows absent from a batch keep their values and moments, as torch.optim.SparseAdam),
torch.optim.Adam on the dense gradient moves every row its moments carry. The last line is
`RESULT {json}` for scripts.
"""

from __future__ import annotations

import argparse
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
    run,
    thread_count,
)
from _figure import save_figure
from fastrnn import nn, optim
from fastrnn.bench_rnn import settle

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "tinyshakespeare.txt"
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a UTF-8 text file")
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument("--quick", action="store_true", help="a short run with a small model")
    p.add_argument("--steps", type=positive_int, help="optimiser steps (default 600, quick 150)")
    p.add_argument(
        "--batch-size", type=positive_int, help="parallel streams N (default 32, quick 16)"
    )
    p.add_argument(
        "--seq-len", type=positive_int, help="TBPTT chunk length k (default 100, quick 32)"
    )
    p.add_argument("--hidden", type=positive_int, help="LSTM hidden units (default 256, quick 96)")
    p.add_argument("--embed", type=positive_int, default=64, help="embedding size")
    p.add_argument("--lr", type=positive_float, default=3e-3, help="Adam learning rate")
    p.add_argument("--clip", type=positive_float, default=5.0, help="gradient-norm clip")
    p.add_argument(
        "--threads", type=thread_count, help="threads for fastrnn and torch (default: all)"
    )
    p.add_argument("--temperature", type=positive_float, default=0.8, help="sampling temperature")
    p.add_argument("--sample-len", type=nonnegative_int, default=300, help="characters to sample")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument(
        "--compare-torch",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train the same model in PyTorch (default: on, off with --quick)",
    )
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "char_lm.png")
    quick = args.quick
    for name, full, small in (
        ("steps", 600, 150),
        ("batch_size", 32, 16),
        ("seq_len", 100, 32),
        ("hidden", 256, 96),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if args.compare_torch is None:
        args.compare_torch = not quick and _torch_installed()
    elif args.compare_torch and not _torch_installed():
        p.error("--compare-torch: PyTorch is not installed (pip install torch)")
    return args


def _torch_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def load_text(path: Path, min_chars: int):
    """Returns (ids int64 [C], alphabet str) for the characters of a text file."""
    if not path.is_file():
        fail(f"--data: no such file: {path} (give a UTF-8 text file: --data my.txt)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--data: cannot read {path} as UTF-8 text ({e})")
    if len(text) < min_chars:
        fail(
            f"--data: {path} has {len(text)} characters; this run needs at least {min_chars} "
            "(a chunk of --seq-len + 1 for each of --batch-size streams, in the 90 % used for "
            "training and the 10 % held out)"
        )
    alphabet = "".join(sorted(set(text)))
    lookup = {ch: i for i, ch in enumerate(alphabet)}
    return np.array([lookup[ch] for ch in text], dtype=np.int64), alphabet


def streams(ids, N: int):
    """Cuts ids [C] into N parallel streams, time-major [C // N, N]."""
    L = len(ids) // N
    return np.ascontiguousarray(ids[: N * L].reshape(N, L).T)


def batches(data, k: int, steps: int):
    """Yields (x [k, N], y [k, N], starts_epoch) for `steps` TBPTT chunks, cycling over data."""
    chunks = list(nn.tbptt_chunks(len(data) - 1, k, drop_last=True))
    for step in range(steps):
        start, stop = chunks[step % len(chunks)]
        yield data[start:stop], data[start + 1 : stop + 1], step % len(chunks) == 0


class CharLM:
    """Embedding -> 2-layer LSTM (state carried across chunks) -> Linear, on fastrnn.nn."""

    def __init__(self, V: int, E: int, H: int, seed: int):
        self.embedding = nn.Embedding(V, E, seed=seed)
        self.lstm = fastrnn.LSTM(E, H, num_layers=2, seed=seed + 1)
        self.model = nn.Sequential(
            self.embedding,
            nn.Recurrent(self.lstm, carry_state=True),
            nn.Linear(H, V, seed=seed + 2),
        )
        self.loss_fn = nn.SoftmaxCrossEntropy()

    def train_step(self, opt, x, y, clip: float, reset: bool) -> float:
        if reset:
            self.model[1].reset_state()
        opt.zero_grad()
        loss = self.loss_fn(self.model(x), y)  # model(x): [k, N, V]
        self.model.backward(self.loss_fn.backward())
        optim.clip_grad_norm([self.model], clip)
        opt.step()
        return loss

    def evaluate(self, data, k: int) -> float:
        """Mean loss (nats/char) over a time-major [L, N] id array, state carried, no dropout."""
        state, total, count = None, 0.0, 0
        loss_fn = nn.SoftmaxCrossEntropy(reduction="sum")
        for start, stop in nn.tbptt_chunks(len(data) - 1, k):
            emb = self.embedding.forward(data[start:stop])
            out, state = self.lstm.forward(emb, state, training=False)
            total += loss_fn(self.model[2].forward(out), data[start + 1 : stop + 1])
            count += loss_fn.count
        return total / count

    def sample(self, first: int, length: int, temperature: float, rng) -> list[int]:
        """Generates `length` ids after `first`, one LSTM step at a time."""
        ids, state = [first], None
        for _ in range(length):
            emb = self.embedding.params["weight"][ids[-1]][None, None]  # [1, 1, E]
            out, state = self.lstm.forward(emb, state, training=False)
            logits = self.model[2].forward(out[0, 0]).astype(np.float64)
            with np.errstate(over="ignore"):  # a tiny temperature: -inf for all but the top ids
                p = np.exp((logits - logits.max()) / temperature)
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
        return ids[1:]


SETTLE_S = 0.02  # the pause before each timed step when comparing with torch (main)


class TorchCharLM:
    """The same model in PyTorch (torch.nn.Embedding, LSTM, Linear, cross_entropy, Adam,
    clip_grad_norm_), built from the fastrnn model's initial weights."""

    def __init__(self, init_state: dict, args):
        # torch keeps its OpenMP settings (its default wait policy: workers spin for some
        # milliseconds after each parallel region). OMP_WAIT_POLICY=PASSIVE made its steps 1.6x
        # slower on the 2-core machine of the record; the pause before each timed step (main)
        # keeps its spinning workers out of fastrnn's steps instead.
        import torch

        self.torch = torch
        torch.manual_seed(args.seed)
        torch.set_num_threads(fastrnn.get_num_threads())  # the same thread count as fastrnn
        V, E = init_state["0.weight"].shape
        self.V = V
        self.embedding = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, args.hidden, num_layers=2)
        self.out = torch.nn.Linear(args.hidden, V)
        with torch.no_grad():
            self.embedding.weight.copy_(torch.from_numpy(init_state["0.weight"]))
            for name, p in self.lstm.named_parameters():
                p.copy_(torch.from_numpy(init_state["1." + name]))
            self.out.weight.copy_(torch.from_numpy(init_state["2.weight"]))
            self.out.bias.copy_(torch.from_numpy(init_state["2.bias"]))
        self.params = [
            *self.embedding.parameters(),
            *self.lstm.parameters(),
            *self.out.parameters(),
        ]
        self.opt = torch.optim.Adam(self.params, lr=args.lr)
        self.clip = args.clip
        self.state = None

    def forward(self, x, state):
        y, state = self.lstm(self.embedding(self.torch.from_numpy(x)), state)
        return self.out(y).reshape(-1, self.V), state

    def train_step(self, x, y, reset: bool) -> float:
        torch = self.torch
        if reset:
            self.state = None
        self.opt.zero_grad()
        logits, state = self.forward(x, self.state)
        self.state = tuple(s.detach() for s in state)  # truncated BPTT: cut the gradient
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()
        return loss.item()

    def evaluate(self, data, k: int) -> float:
        torch = self.torch
        with torch.inference_mode():
            state, total, count = None, 0.0, 0
            for a, b in nn.tbptt_chunks(len(data) - 1, k):
                logits, state = self.forward(data[a:b], state)
                target = torch.from_numpy(data[a + 1 : b + 1]).reshape(-1)
                loss = torch.nn.functional.cross_entropy(logits, target, reduction="sum")
                total += loss.item()
                count += target.numel()
        return total / count


def plot(path: Path, losses, torch_losses, val_loss, torch_val):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def smooth(v, w=20):
        v = np.asarray(v)
        return np.convolve(v, np.ones(w) / w, mode="valid") if len(v) > w else v

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(smooth(losses), label=f"fastrnn train (val {val_loss:.3f})")
    if torch_losses is not None:
        ax.plot(smooth(torch_losses), label=f"PyTorch train (val {torch_val:.3f})", alpha=0.8)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/char), moving average")
    ax.set_title("Character LSTM language model")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    threads = fastrnn.get_num_threads()
    ids, alphabet = load_text(args.data, min_chars=10 * args.batch_size * (args.seq_len + 1))
    split = int(0.9 * len(ids))
    train = streams(ids[:split], args.batch_size)
    # (quick: at most 20000 characters of it, but never fewer than one chunk per stream)
    quick_cap = max(20000, args.batch_size * (args.seq_len + 1))
    val_ids = ids[split:] if not args.quick else ids[split : split + quick_cap]
    val = streams(val_ids, args.batch_size)
    print(
        f"text: {len(ids)} characters, alphabet of {len(alphabet)}; train {train.shape}, "
        f"val {val.shape} (time-major [L, N]); {threads} threads"
    )

    lm = CharLM(len(alphabet), args.embed, args.hidden, args.seed)
    opt = optim.Adam([lm.model], lr=args.lr)
    # With --compare-torch the two libraries train in lockstep, one step each in turn, each timed
    # on its own, so both see the same machine (other processes come and go on a shared one).
    # Before each timed step every CPU busy-waits SETTLE_S (fastrnn-bench's settle), so that the
    # other library's worker threads, which spin for a while after their work, are asleep by
    # then, and no CPU has gone idle (an idle vCPU comes back slowly).
    ref = TorchCharLM(lm.model.state_dict(), args) if args.compare_torch else None
    losses, torch_losses, seconds, torch_seconds = [], [], 0.0, 0.0
    for step, (x, y, reset) in enumerate(batches(train, args.seq_len, args.steps)):
        if ref is not None:
            settle(SETTLE_S)
        start = time.perf_counter()
        losses.append(lm.train_step(opt, x, y, args.clip, reset))
        seconds += time.perf_counter() - start
        if ref is not None:
            settle(SETTLE_S)
            start = time.perf_counter()
            torch_losses.append(ref.train_step(x, y, reset))
            torch_seconds += time.perf_counter() - start
        if (step + 1) % max(1, args.steps // 10) == 0:
            extra = f"  (PyTorch {np.mean(torch_losses[-20:]):.4f})" if ref is not None else ""
            print(f"step {step + 1:5d}  train loss {np.mean(losses[-20:]):.4f}{extra}", flush=True)
    val_loss = lm.evaluate(val, args.seq_len)
    print(
        f"fastrnn: validation loss {val_loss:.4f} nats/char, perplexity "
        f"{nn.perplexity(val_loss):.2f}, training {seconds:.1f} s "
        f"({seconds / args.steps * 1e3:.1f} ms/step)"
    )

    rng = np.random.default_rng(args.seed)
    first = alphabet.index("\n") if "\n" in alphabet else 0
    text = "".join(alphabet[i] for i in lm.sample(first, args.sample_len, args.temperature, rng))
    print(f"--- sample (temperature {args.temperature}) ---\n{text}\n---")

    result = {
        "val_loss": val_loss,
        "val_perplexity": nn.perplexity(val_loss),
        "train_loss": float(np.mean(losses[-20:])),
        "steps": args.steps,
        "seconds": seconds,
        "threads": threads,
    }
    torch_val = None
    if ref is not None:
        torch_val = ref.evaluate(val, args.seq_len)
        print(
            f"PyTorch {ref.torch.__version__}: validation loss {torch_val:.4f} nats/char, "
            f"training {torch_seconds:.1f} s ({torch_seconds / args.steps * 1e3:.1f} ms/step)"
        )
        print(
            f"difference {val_loss - torch_val:+.4f} nats/char; fastrnn's time / PyTorch's = "
            f"{seconds / torch_seconds:.2f}"
        )
        result.update(
            torch_val_loss=torch_val,
            torch_seconds=torch_seconds,
            time_ratio=seconds / torch_seconds,
        )

    plot_path = args.plot
    plot(plot_path, losses, torch_losses or None, val_loss, torch_val)
    result["plot"] = str(plot_path)
    print(f"plot: {plot_path}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    run(main)
