"""Sequence to sequence: an LSTM encoder-decoder that learns to write numbers in words.

    python examples/seq2seq.py            # numbers below a million, e.g. "4 0 0 7 2" -> "forty
                                          # thousand seventy two" (seconds on 2 cores)
    python examples/seq2seq.py --quick    # numbers below 1000, a smaller model (a few seconds)

The task is generated: a number's digits, space-separated, are the source; its English words are
the target. A tenth of the numbers (at most 2000) is held out for testing, so the model must learn
the composition, not the pairs.

The encoder (Embedding -> LSTM) reads the source reversed (Sutskever et al., 2014: the first
target words then sit close to the digits they depend on), each sequence with its own length.
Its final (h, c) starts the decoder (Embedding -> LSTM -> Linear). Training uses teacher forcing:
the decoder layer runs over the whole shifted target `<go> w1 .. wm` at once and learns to
predict `w1 .. wm <eos>` (fused softmax cross-entropy, padding ignored); the decoder's initial
state gradient flows back into the encoder. At inference the decoder is an LSTMCell holding the
same weights, driven one step at a time from `<go>`, always feeding back its own most likely word
(greedy decoding) until `<eos>`. The metric is exact match on the held-out numbers.

Source and target ids come from fastrnn.text.Vocabulary. Prints examples, saves a plot of the
training loss and test accuracy under --out, and ends with a line `RESULT {json}` for scripts.
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
from fastrnn.text import Vocabulary

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
GO, EOS = "<go>", "<eos>"


def number_words(n: int) -> str:
    """English words of 0 <= n < 1_000_000: 4072 -> 'four thousand seventy two'."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        head, rest = f"{ONES[n // 100]} hundred", n % 100
    else:
        head, rest = f"{number_words(n // 1000)} thousand", n % 1000
    return head if rest == 0 else f"{head} {number_words(rest)}"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="numbers below 1000, a smaller model")
    p.add_argument("--out", type=output_dir, default="examples_out", help="directory for the plot")
    p.add_argument(
        "--max-number", type=positive_int, help="numbers 0 .. max-1 (default 1000000, quick 1000)"
    )
    p.add_argument("--steps", type=positive_int, help="optimiser steps (default 1500, quick 450)")
    p.add_argument("--hidden", type=positive_int, help="LSTM hidden units (default 128, quick 64)")
    p.add_argument("--embed", type=positive_int, default=32, help="embedding size E")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument(
        "--lr", type=positive_float, default=5e-3, help="Adam learning rate (cosine decay)"
    )
    p.add_argument("--clip", type=positive_float, default=5.0, help="gradient-norm clip")
    p.add_argument(
        "--eval-every",
        type=positive_int,
        help="steps between test evaluations (default 250, quick 100)",
    )
    p.add_argument("--threads", type=thread_count, help="fastrnn threads (default: all)")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    args = p.parse_args(argv)
    args.plot = plot_file(p, args.out, "seq2seq.png")
    quick = args.quick
    for name, full, small in (
        ("max_number", 1_000_000, 1000),
        ("steps", 1500, 450),
        ("hidden", 128, 64),
        ("eval_every", 250, 100),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    if not 20 <= args.max_number <= 1_000_000:
        p.error("--max-number must be in 20 .. 1000000")
    return args


class Seq2Seq:
    """Encoder and decoder modules, the teacher-forced training step and greedy decoding."""

    def __init__(self, src_vocab: Vocabulary, tgt_vocab: Vocabulary, args):
        E, H, seed = args.embed, args.hidden, args.seed
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.src_emb = nn.Embedding(len(src_vocab), E, padding_idx=0, seed=seed)
        self.encoder = fastrnn.LSTM(E, H, seed=seed + 1)
        self.tgt_emb = nn.Embedding(len(tgt_vocab), E, padding_idx=0, seed=seed + 2)
        self.decoder = fastrnn.LSTM(E, H, seed=seed + 3)
        self.out = nn.Linear(H, len(tgt_vocab), seed=seed + 4)
        self.loss_fn = nn.SoftmaxCrossEntropy(ignore_index=tgt_vocab.pad_id)
        self.modules = [self.src_emb, self.encoder, self.tgt_emb, self.decoder, self.out]

    def encode_sources(self, sources):
        """Source ids [S, N] with each sequence's real tokens reversed, and lengths [N]."""
        ids, lengths = self.src_vocab.encode_batch(sources)  # ids: [S, N]
        t = np.arange(ids.shape[0])[:, None]  # [S, 1]
        rev = np.where(t < lengths, lengths - 1 - t, t)  # reverse the first lengths[n] steps
        return np.take_along_axis(ids, rev, axis=0), lengths

    def train_step(self, sources, targets) -> float:
        """Teacher forcing on one batch; returns the mean loss in nats per target word."""
        src, src_len = self.encode_sources(sources)
        go, eos = self.tgt_vocab.stoi[GO], self.tgt_vocab.stoi[EOS]
        words = [self.tgt_vocab.encode(t) for t in targets]
        T = max(len(w) for w in words) + 1
        dec_in = np.zeros((T, len(words)), np.int64)  # [T, N]: <go> w1 .. wm, then [PAD]
        dec_out = np.zeros((T, len(words)), np.int64)  # [T, N]: w1 .. wm <eos>, then [PAD]
        for n, w in enumerate(words):
            dec_in[: len(w) + 1, n] = [go, *w]
            dec_out[: len(w) + 1, n] = [*w, eos]
        dec_len = np.array([len(w) + 1 for w in words])

        for m in self.modules:
            m.zero_grad()
        enc_y, enc_state = self.encoder.forward(self.src_emb.forward(src), lengths=src_len)
        dec_y, _ = self.decoder.forward(
            self.tgt_emb.forward(dec_in), enc_state, lengths=dec_len
        )  # dec_y: [T, N, H]
        loss = self.loss_fn.forward(self.out.forward(dec_y), dec_out)
        d_dec_x, d_enc_state = self.decoder.backward(self.out.backward(self.loss_fn.backward()))
        self.tgt_emb.backward(d_dec_x)
        d_src_x, _ = self.encoder.backward(np.zeros_like(enc_y), d_enc_state)
        self.src_emb.backward(d_src_x)
        return loss

    def translate(self, sources, max_len: int = 16) -> list[str]:
        """Greedy decoding with an LSTMCell that holds the decoder's weights."""
        src, src_len = self.encode_sources(sources)
        _, (h, c) = self.encoder.forward(self.src_emb.forward(src), lengths=src_len, training=False)
        h, c = h[0], c[0]  # [N, H]
        cell = fastrnn.LSTMCell(self.decoder.input_size, self.decoder.hidden_size)
        cell.load_state_dict({k.removesuffix("_l0"): v for k, v in self.decoder.params.items()})
        go, eos = self.tgt_vocab.stoi[GO], self.tgt_vocab.stoi[EOS]
        table = self.tgt_emb.params["weight"]  # [V, E]
        N = len(sources)
        token = np.full(N, go)
        words = np.zeros((max_len, N), np.int64)  # [max_len, N]
        done = np.zeros(N, bool)
        for t in range(max_len):
            h, c = cell.step(table[token], (h, c))
            token = self.out.forward(h).argmax(axis=1)  # h: [N, H] -> logits [N, V]
            words[t] = np.where(done, eos, token)
            done |= token == eos
            if done.all():
                break
        out = []
        for n in range(N):
            seq = words[:, n].tolist()
            seq = seq[: seq.index(eos)] if eos in seq else seq
            out.append(self.tgt_vocab.decode(seq, skip_pad=False))  # a [PAD] is a wrong word
        return out


def exact_match(model: Seq2Seq, numbers, batch: int = 500) -> float:
    """Fraction of numbers ([K] ints) that the model translates exactly."""
    hits = 0
    for i in range(0, len(numbers), batch):
        chunk = numbers[i : i + batch]
        pred = model.translate([" ".join(str(v)) for v in chunk])
        hits += sum(p == number_words(v) for p, v in zip(pred, chunk, strict=True))
    return hits / len(numbers)


def plot(losses, evals, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(np.arange(1, len(losses) + 1), losses, lw=0.8)
    ax1.set_yscale("log")
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (nats/word)")
    steps, accs = zip(*evals, strict=True)
    ax2.plot(steps, accs, marker="o")
    ax2.set_ylim(0, 1.02)
    ax2.set_xlabel("step")
    ax2.set_ylabel("exact match on held-out numbers")
    fig.suptitle("Digits to number words: LSTM encoder-decoder")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        fastrnn.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    numbers = rng.permutation(args.max_number)
    n_test = min(args.max_number // 10, 2000)
    test, train = numbers[:n_test], numbers[n_test:]
    src_vocab = Vocabulary.build(" ".join(str(d)) for d in range(10))
    tgt_vocab = Vocabulary([GO, EOS, *ONES, *TENS[2:], "hundred", "thousand"])
    model = Seq2Seq(src_vocab, tgt_vocab, args)
    opt = optim.Adam(model.modules, lr=args.lr)
    # a 50-step warm-up (shorter in a run of 50 steps or fewer: CosineLR wants steps after it)
    warmup = min(50, args.steps - 1)
    schedule = optim.CosineLR(opt, args.steps, min_lr=args.lr / 20, warmup_steps=warmup)
    print(
        f"numbers 0..{args.max_number - 1}: {len(train)} train, {len(test)} test; "
        f"target vocabulary {len(tgt_vocab)}; E={args.embed} H={args.hidden}, {args.steps} steps"
    )
    losses, evals = [], []
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = rng.choice(train, args.batch_size)
        loss = model.train_step([" ".join(str(v)) for v in batch], [number_words(v) for v in batch])
        optim.clip_grad_norm(model.modules, args.clip)
        opt.step()
        schedule.step()
        losses.append(loss)
        if step % args.eval_every == 0 or step == args.steps:
            evals.append((step, exact_match(model, test)))
            print(
                f"step {step:5d}  loss {loss:.4f}  test exact match {evals[-1][1]:.3f}", flush=True
            )
    seconds = time.perf_counter() - start
    for v in test[:5]:
        src = " ".join(str(v))
        print(f"  {src!r:>12} -> {model.translate([src])[0]!r}   (reference {number_words(v)!r})")
    plot_path = args.plot
    plot(losses, evals, plot_path)
    accuracy = evals[-1][1]
    print(
        f"exact match on {len(test)} held-out numbers: {accuracy:.3f} ({seconds:.1f} s); "
        f"plot: {plot_path}"
    )
    result = {
        "exact_match": accuracy,
        "test_size": len(test),
        "final_loss": losses[-1],
        "steps": args.steps,
        "seconds": round(seconds, 2),
        "plot": str(plot_path),
    }
    print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    run(main)
