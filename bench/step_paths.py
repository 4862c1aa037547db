"""One inference step (T = 1) of a layer, or a cell's step, over a grid of sizes.

    python bench/step_paths.py [--call layer --threads 1,2 --modes lstm,gru,rnn_tanh
                                --hidden 64,128,256,512 --batch 5,8,16,32,64 --calls 300]

Times `_C.rnn_forward` with T = 1 and training=False (`--call layer`: a layer called a step at a
time, and what a cell's step beyond the step kernel's rows runs) or `_C.rnn_step` (`--call
cell`: a cell's step) on ready float32 arrays, median of 3 runs of
`--calls` calls each after a warm-up, and prints a markdown table of microseconds a call. The
weights lie where numpy puts them, or with `--weight-offset B` B bytes past a 64-byte boundary
(0: aligned as the layers' and cells' own; 16: a row start numpy often gives). Run at
two revisions (or two builds) to compare the paths a single step takes: before fda7f2d the BLAS
products at every batch size, from it the fused loop at 16 rows or more (32 later), from c9429aa
the step kernel at up to 16 rows (8 with more than 2 MB of weights, from the commit after), from
e7eaa2d the step kernel at up to 32 rows at any size and the fused loop from 33 (AVX-512).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import fastrnn
import numpy as np
from fastrnn import _C
from fastrnn._aligned import aligned_copy

GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--call", choices=["layer", "cell"], default="layer", help="what to time")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--modes", default="lstm,gru,rnn_tanh")
    p.add_argument("--hidden", default="64,128,256,512", help="hidden sizes (I = H)")
    p.add_argument("--batch", default="5,8,16,32,64", help="rows N")
    p.add_argument("--calls", type=int, default=300, help="calls a timed run")
    p.add_argument(
        "--weight-offset",
        type=int,
        default=None,
        help="put the weights this many bytes (0-60, a multiple of 4) past a 64-byte boundary",
    )
    args = p.parse_args(argv)
    offset = args.weight_offset
    if offset is not None and not (0 <= offset < 64 and offset % 4 == 0):
        p.error(f"--weight-offset: expected 0-60, a multiple of 4, got {offset}")
    return args


def placed(a: np.ndarray, offset: int | None) -> np.ndarray:
    """a itself (offset None), or a copy starting `offset` bytes past a 64-byte boundary."""
    return a if offset is None else aligned_copy(a, offset=offset)


def microseconds_per_call(call, calls: int) -> float:
    for _ in range(calls // 10 + 1):  # warm-up
        call()
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main(argv=None) -> None:
    args = parse_args(argv)
    ints = lambda text: [int(v) for v in text.split(",")]  # noqa: E731
    print("| threads | mode | H | N | µs a step |")
    print("|---:|---|---:|---:|---:|")
    for threads in ints(args.threads):
        fastrnn.set_num_threads(threads)
        for mode in args.modes.split(","):
            for H in ints(args.hidden):
                G = GATES[mode]
                rng = np.random.default_rng(0)
                w_ih = placed(rng.random((G * H, H), np.float32), args.weight_offset)  # [G·H, I]
                w_hh = placed(rng.random((G * H, H), np.float32), args.weight_offset)  # [G·H, H]
                bias = rng.random(G * H, np.float32)  # [G·H]
                desc = _C.RnnDesc(mode, H, H)
                for N in ints(args.batch):
                    x = rng.random((1, N, H), np.float32)  # [T=1, N, I]
                    h = np.zeros((N, H), np.float32)  # [N, H]
                    c = h.copy() if mode == "lstm" else None  # [N, H]
                    if args.call == "cell":
                        call = functools.partial(
                            _C.rnn_step, desc, x[0], h, c, w_ih, w_hh, bias, bias, None
                        )
                    else:
                        call = functools.partial(  # reverse=False, training=False
                            _C.rnn_forward, desc, x, None, h, c, w_ih, w_hh, bias, bias, None,
                            None, False, False,
                        )  # fmt: skip
                    us = microseconds_per_call(call, args.calls)
                    print(f"| {threads} | {mode} | {H} | {N} | {us:.1f} |")


if __name__ == "__main__":
    main()
