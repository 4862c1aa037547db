"""A step-by-step loop over torch.nn's cells against the same loop over fastrnn.torch's.

    python bench/torch_cells.py [--mode lstm --sizes 1x64,1x256,32x128,64x512 --steps 50
                                 --rounds 15 --threads 2]

What a decoder or a streaming model does: `h = cell(x, h)` for `--steps` steps (N x H: batch and
hidden size, input size H), either under torch.no_grad() (inference) or with the step outputs
summed into a loss and backward() after the loop (training). torch.nn's cell and fastrnn.torch's
(same weights) alternate, one loop each per round, `--rounds` rounds after a warm-up; the median
time per step is printed for each, as a markdown table with the ratio torch.nn / fastrnn.torch
(above 1: fastrnn.torch is faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import fastrnn
import fastrnn.torch as ft
import torch
from fastrnn.bench import machine_info
from fastrnn.bench_rnn import count

CELLS = {
    "lstm": (torch.nn.LSTMCell, ft.LSTMCell),
    "gru": (torch.nn.GRUCell, ft.GRUCell),
    "rnn_tanh": (torch.nn.RNNCell, ft.RNNCell),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=sorted(CELLS), default="lstm")
    p.add_argument("--sizes", default="1x64,1x256,32x128,64x512", help="N x H pairs")
    p.add_argument("--steps", type=int, default=50, help="cell steps a loop")
    p.add_argument("--rounds", type=int, default=15, help="timed loops of each cell")
    p.add_argument("--threads", type=int, default=2, help="torch's and fastrnn's thread count")
    return p.parse_args(argv)


def make_loop(cell, x, steps: int, training: bool):
    """One loop of `steps` cell steps on x [N, H] from a zero state (training: then backward)."""

    def loop():
        state = None
        if not training:
            with torch.no_grad():
                for _ in range(steps):
                    state = cell(x, state)
            return
        loss = 0.0
        for _ in range(steps):
            state = cell(x, state)
            loss = loss + (state[0] if isinstance(state, tuple) else state).sum()
        loss.backward()

    return loop


def seconds_per_step(loop, steps: int) -> float:
    start = time.perf_counter()
    loop()
    return (time.perf_counter() - start) / steps


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    fastrnn.set_num_threads(args.threads)
    torch_class, fastrnn_class = CELLS[args.mode]
    print(
        f"{args.mode} cells, {args.steps}-step loops, median of {args.rounds}, "
        f"{count(args.threads, 'thread')}; {machine_info()['model']}, load average "
        f"{os.getloadavg()[0]:.1f}; torch {torch.__version__}"
    )
    print("| N, H | pass | torch.nn µs/step | fastrnn.torch µs/step | torch.nn / fastrnn.torch |")
    print("|---|---|---:|---:|---:|")
    for size in args.sizes.split(","):
        N, H = (int(v) for v in size.split("x"))
        torch.manual_seed(0)
        reference = torch_class(H, H)
        ours = fastrnn_class(H, H)
        ours.load_state_dict(reference.state_dict())
        x = torch.randn(N, H)
        for training in (False, True):
            loops = {
                "torch.nn": make_loop(reference, x, args.steps, training),
                "fastrnn.torch": make_loop(ours, x, args.steps, training),
            }
            for loop in loops.values():  # warm-up
                loop()
            times = {name: [] for name in loops}
            for r in range(args.rounds):
                for name in list(loops) if r % 2 == 0 else list(reversed(loops)):
                    times[name].append(seconds_per_step(loops[name], args.steps) * 1e6)
            theirs, mine = (statistics.median(times[name]) for name in loops)
            what = "training" if training else "inference"
            print(f"| {N}, {H} | {what} | {theirs:.1f} | {mine:.1f} | {theirs / mine:.2f}x |")


if __name__ == "__main__":
    main()
