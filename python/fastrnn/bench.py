"""The `fastrnn-bench` command line: fastrnn beside PyTorch (RNNs) and gensim (word2vec).

    fastrnn-bench                        quick suite (< 2 minutes on 2 cores): RNN rows + word2vec
    fastrnn-bench rnn --mode lstm -T 100 -N 32 -H 128      a layer: training step and inference
    fastrnn-bench cell --mode lstm -H 256                   one streaming step at N=1
    fastrnn-bench w2v                    word2vec beside gensim (fastrnn.bench_w2v)
    fastrnn-bench suite --full           the grid of issue 5, recorded in bench/BENCHMARKS.md

Every run first measures the machine's SGEMM peak, then one row per measurement (bench_rnn.py
does the measuring), with a progress display on stderr, a table on stdout, and optionally
`--json PATH` (machine info, fastrnn's config, the peak, every row, issue 5's targets),
`--plot PATH` (a PNG bar chart of the speedups; needs matplotlib) and `--markdown PATH` (the
table for bench/BENCHMARKS.md).
"""

# ruff: noqa: E741  (I is the shape letter for input features, as in DESIGN.md)

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fastrnn
from fastrnn import bench_rnn
from fastrnn._atomic import atomic_write, replace_problem
from fastrnn._config import config as fastrnn_config

SCHEMA = "fastrnn-bench/1"

# The grid of issue 5 (T, N, I=H), run for every mode, training and inference, float32, 2 threads.
FULL_SHAPES = ((100, 32, 128), (100, 64, 256), (50, 64, 512), (200, 1, 64))
FULL_MODES = ("rnn_tanh", "lstm", "gru")
FULL_CELLS = (64, 256)  # H (= I) of the cell step at N=1, for every mode
# The quick suite: the small shape for every mode, the large LSTM, and the LSTM cell.
QUICK_RNN = (
    *((mode, 100, 32, 128) for mode in FULL_MODES),
    ("lstm", 50, 64, 512),
)
QUICK_CELLS = (("lstm", 256),)
QUIET_SHARE = 0.25  # --wait-quiet: others' CPU share below which the machine counts as quiet
NOISY = 25  # % interquartile range / median above which a row is marked noisy in --markdown
SUITE_THREADS = 2  # the issue's grid is defined at 2 threads
MAX_THREADS = 4096  # fastrnn.set_num_threads' limit
# A row above this fraction of the measured SGEMM peak means the peak measured low: fastrnn's tiles
# reach the FMA peak, which is about 1.1-1.2x oneDNN's SGEMM (bench/BENCHMARKS.md).
PEAK_SUSPECT = 1.25
MAX_PEAK_SIZE = 8192  # the largest --peak-sizes GEMM
# word2vec sizes of the quick suite when fastrnn.bench_w2v has no QUICK_KWARGS of its own; the
# full suite and the w2v command use run_w2v_benchmark's defaults (the word2vec issue's setting).
W2V_QUICK = {"tokens": 1_000_000, "vocab": 20_000, "repeats": 1}


# ---------------------------------------------------------------------------------------------
# arguments


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _modes(text: str) -> list[str]:
    modes = list(bench_rnn.MODES) if text == "all" else text.split(",")
    for mode in modes:
        if mode not in bench_rnn.MODES:
            raise argparse.ArgumentTypeError(
                f"unknown mode {mode!r}: expected 'all' or a comma list of {bench_rnn.MODES}"
            )
    return list(dict.fromkeys(modes))  # each mode once, in the order given


def _thread_count(text: str) -> int:
    value = _positive(text)
    if value > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_THREADS} threads, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text}")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(_positive(s) for s in text.split(","))
    if max(sizes) > MAX_PEAK_SIZE:
        raise argparse.ArgumentTypeError(
            f"expected sizes up to {MAX_PEAK_SIZE} (three float32 matrices of {MAX_PEAK_SIZE}² "
            f"are 0.8 GB), got {max(sizes)}"
        )
    return sizes


def _path(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("expected a file path, got ''")
    return text


def _add_common(p: argparse.ArgumentParser, sub: bool) -> None:
    """Options every command takes; on subcommands they default to the main parser's values."""

    def d(value):
        return argparse.SUPPRESS if sub else value

    g = p.add_argument_group("measurement and output")
    g.add_argument(
        "--threads",
        type=_thread_count,
        default=d(None),
        help="threads for fastrnn, torch and the SGEMM peak (default: 2 for suites, "
        "fastrnn's default otherwise)",
    )
    g.add_argument(
        "--repeats",
        type=_positive,
        default=d(None),
        help="timed repeats per row; the median is reported",
    )
    g.add_argument(
        "--warmup",
        type=_positive,
        default=d(None),
        help="untimed calls before timing (at least 1: they also size each timed sample); for "
        "word2vec, untimed builds on a hundredth of the corpus",
    )
    g.add_argument("--dtype", choices=("float32", "float64"), default=d("float32"))
    g.add_argument(
        "--compare",
        choices=("torch", "gensim", "none"),
        default=d(None),
        help="measure the reference beside fastrnn - PyTorch for RNN rows, gensim for word2vec "
        "(torch and gensim both ask for it) - or 'none' for fastrnn alone; default: the "
        "reference when it is importable",
    )
    g.add_argument(
        "--json", type=_path, metavar="PATH", default=d(None), help="write the results as JSON"
    )
    g.add_argument(
        "--plot",
        type=_path,
        metavar="PATH",
        default=d(None),
        help="write a PNG bar chart of the speedups (needs matplotlib)",
    )
    g.add_argument(
        "--markdown",
        type=_path,
        metavar="PATH",
        default=d(None),
        help="write the RNN table, machine and targets as markdown; a file with <!-- rnn-results "
        "--> ... <!-- /rnn-results --> markers (bench/BENCHMARKS.md) is updated between them",
    )
    g.add_argument(
        "--peak-sizes",
        type=_sizes,
        default=d((512, 1024, 2048)),
        metavar="N,N,...",
        help="square sizes of the SGEMM peak measurement",
    )
    g.add_argument(
        "--wait-quiet",
        type=_seconds,
        default=d(0.0),
        metavar="SECONDS",
        help="before each row, wait up to SECONDS for other processes to use less than "
        f"{int(QUIET_SHARE * 100)}%% of the CPU (for shared machines; default: do not wait)",
    )
    g.add_argument(
        "--omp-passive",
        action="store_true",
        default=d(False),
        help="set OMP_WAIT_POLICY=PASSIVE before torch loads: its OpenMP workers then sleep "
        "instead of spinning between parallel regions, which keeps torch from collapsing on a "
        "busy machine (by 10-100x on N=1 rows); torch's default is to spin",
    )
    g.add_argument(
        "--no-progress", action="store_true", default=d(False), help="no progress display on stderr"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastrnn-bench",
        description="Benchmarks fastrnn beside PyTorch (RNN layers, cells) and gensim "
        "(word2vec). Without a command: the quick suite.",
        epilog="Exit status: 0 when every row was measured and every output written (missed "
        "targets do not change it: they are reported), 1 when a row failed or an output could not "
        "be written, 2 for bad arguments, 130 when interrupted.",
    )
    _add_common(parser, sub=False)
    subs = parser.add_subparsers(dest="command", metavar="{rnn,cell,w2v,suite}")

    rnn = subs.add_parser("rnn", help="a layer's training step (forward+backward) and inference")
    rnn.add_argument(
        "--mode",
        type=_modes,
        default=["lstm"],
        help=f"'all' or a comma list of {', '.join(bench_rnn.MODES)} (default lstm)",
    )
    rnn.add_argument("-T", type=_positive, default=100, help="time steps (default 100)")
    rnn.add_argument("-N", type=_positive, default=32, help="batch (default 32)")
    rnn.add_argument("-I", type=_positive, default=None, help="input features (default H)")
    rnn.add_argument("-H", type=_positive, default=128, help="hidden units (default 128)")
    rnn.add_argument("--layers", type=_positive, default=1)
    rnn.add_argument("--bidirectional", action="store_true")
    rnn.add_argument(
        "--pass",
        dest="passes",
        choices=("train", "infer", "both"),
        default="both",
        help="training step, inference forward, or both (default)",
    )
    _add_common(rnn, sub=True)

    cell = subs.add_parser("cell", help="one streaming step of a cell (default N=1)")
    cell.add_argument(
        "--mode",
        type=_modes,
        default=["lstm"],
        help="'all' or a comma list of modes (default lstm)",
    )
    cell.add_argument("-N", type=_positive, default=1, help="batch (default 1)")
    cell.add_argument("-I", type=_positive, default=None, help="input features (default H)")
    cell.add_argument("-H", type=_positive, default=256, help="hidden units (default 256)")
    _add_common(cell, sub=True)

    w2v = subs.add_parser("w2v", help="word2vec training beside gensim")
    w2v.add_argument(
        "--tokens",
        type=_positive,
        default=None,
        help="corpus size (default: the word2vec benchmark's)",
    )
    w2v.add_argument(
        "--vocab",
        type=_positive,
        default=None,
        help="vocabulary size (default: the word2vec benchmark's)",
    )
    w2v.add_argument(
        "--sg",
        choices=("0", "1", "both"),
        default="both",
        help="1 skip-gram, 0 CBOW, or both (default)",
    )
    w2v.add_argument(
        "--workers",
        type=_thread_count,
        default=None,
        help="worker threads for both libraries (default: --threads, else fastrnn's default "
        "thread count)",
    )
    _add_common(w2v, sub=True)

    suite = subs.add_parser("suite", help="the quick suite, or with --full the whole grid")
    suite.add_argument(
        "--full",
        action="store_true",
        help="modes rnn_tanh, lstm, gru x shapes (T,N,I=H) "
        + ", ".join(str(s) for s in FULL_SHAPES)
        + ", training and inference, + cell steps at N=1, H=64 and 256",
    )
    suite.add_argument("--no-w2v", action="store_true", help="leave out word2vec")
    _add_common(suite, sub=True)
    return parser


# ---------------------------------------------------------------------------------------------
# the plan: a list of tasks, each producing rows


def _torch_available() -> bool:
    try:
        importlib.import_module("torch")
    except ImportError:
        return False
    return True


def _w2v_module():
    """fastrnn.bench_w2v, or None while the word2vec benchmark does not exist."""
    try:
        return importlib.import_module("fastrnn.bench_w2v")
    except ImportError as e:
        if e.name not in ("fastrnn.bench_w2v", "fastrnn.word2vec"):
            raise
        return None


W2V_MISSING = "word2vec benchmarks are not available yet (fastrnn.bench_w2v does not exist)"


class Task:
    """One unit of progress: a label and a function returning a list of rows."""

    def __init__(self, label: str, run):
        self.label = label
        self.run = run


def _rnn_tasks(opts, specs, passes) -> list[Task]:
    tasks = []
    for mode, T, N, I, H, layers, bidir in specs:
        for training in passes:
            shape = f"T={T} N={N} I={I} H={H}" + (f" L={layers}" if layers > 1 else "")
            shape += " bidirectional" if bidir else ""
            label = f"rnn {mode} {'train' if training else 'infer'} {shape}"

            def run(mode=mode, T=T, N=N, I=I, H=H, layers=layers, bidir=bidir, training=training):
                return [
                    bench_rnn.measure_rnn(
                        mode,
                        T,
                        N,
                        I,
                        H,
                        layers=layers,
                        bidirectional=bidir,
                        dtype=opts["dtype"],
                        training=training,
                        threads=opts["threads"],
                        repeats=opts["repeats"],
                        warmup=opts["warmup"],
                        compare=opts["compare"],
                        peak=opts["peak"],
                    )
                ]

            tasks.append(Task(label, run))
    return tasks


def _cell_tasks(opts, specs) -> list[Task]:
    tasks = []
    for mode, N, I, H in specs:

        def run(mode=mode, N=N, I=I, H=H):
            return [
                bench_rnn.measure_cell(
                    mode,
                    N,
                    I,
                    H,
                    dtype=opts["dtype"],
                    threads=opts["threads"],
                    repeats=opts["cell_repeats"],
                    warmup=opts["cell_warmup"],
                    compare=opts["compare"],
                    peak=opts["peak"],
                )
            ]

        tasks.append(Task(f"cell {mode} step N={N} I={I} H={H}", run))
    return tasks


def _w2v_tasks(opts, kwargs: dict, progress) -> list[Task]:
    """One task calling fastrnn.bench_w2v.run_w2v_benchmark(**kwargs) (none if it is missing)."""
    module = _w2v_module()
    if module is None:
        return []
    fn = module.run_w2v_benchmark
    kwargs = dict(kwargs, compare_gensim=opts["compare_w2v"], seed=0)
    try:  # pass only what this version of the function accepts
        params = inspect.signature(fn).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in params}
    except (TypeError, ValueError):
        pass
    sg = kwargs.get("sg")
    what = {1: "skip-gram", 0: "CBOW"}.get(sg, "skip-gram + CBOW")
    size = f" tokens={kwargs['tokens']}" if "tokens" in kwargs else ""

    def run():
        rows = fn(**kwargs, progress=progress.message)
        for row in rows:
            row.setdefault("bench", "w2v")
        return rows

    return [Task(f"w2v {what}{size}", run)]


def plan(args) -> tuple[str, dict]:
    """(run name, measurement options) for the parsed arguments."""
    command = args.command or "suite"
    full = command == "suite" and getattr(args, "full", False)
    threads = args.threads or (SUITE_THREADS if command == "suite" else fastrnn.get_num_threads())
    if args.compare == "none":
        compare = "none"
    elif args.compare == "torch":
        compare = "torch"  # main() has checked that torch is importable
    else:
        compare = "torch" if _torch_available() else "none"
    opts = {
        "threads": threads,
        "dtype": args.dtype,
        "compare": compare,
        "repeats": args.repeats or (11 if full else 5 if command == "suite" else 7),
        "warmup": 2 if args.warmup is None else args.warmup,
        "cell_repeats": args.repeats or 20,
        "cell_warmup": 3 if args.warmup is None else args.warmup,
        "compare_w2v": args.compare != "none",  # gensim; the word2vec module checks for it
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),  # torch's OpenMP; None = default
        "peak": None,
    }
    name = {"rnn": "rnn", "cell": "cell", "w2v": "w2v"}.get(command, "full" if full else "quick")
    return name, opts


def make_tasks(args, name: str, opts: dict, progress) -> tuple[list[Task], list[str]]:
    """The tasks of a run, and notes (e.g. what was left out)."""
    notes = []
    tasks: list[Task] = []
    both = (True, False)
    if name == "rnn":
        passes = {"train": (True,), "infer": (False,), "both": both}[args.passes]
        specs = [
            (m, args.T, args.N, args.I or args.H, args.H, args.layers, args.bidirectional)
            for m in args.mode
        ]
        tasks = _rnn_tasks(opts, specs, passes)
    elif name == "cell":
        tasks = _cell_tasks(opts, [(m, args.N, args.I or args.H, args.H) for m in args.mode])
    elif name in ("quick", "full"):
        if name == "full":
            specs = [(m, T, N, I, I, 1, False) for m in FULL_MODES for (T, N, I) in FULL_SHAPES]
            cells = [(m, 1, H, H) for m in FULL_MODES for H in FULL_CELLS]
        else:
            specs = [(m, T, N, I, I, 1, False) for (m, T, N, I) in QUICK_RNN]
            cells = [(m, 1, H, H) for (m, H) in QUICK_CELLS]
        tasks = _rnn_tasks(opts, specs, both) + _cell_tasks(opts, cells)
    if name == "w2v" or (name in ("quick", "full") and not getattr(args, "no_w2v", False)):
        kwargs = {"workers": opts["threads"], "sg": (1, 0)}
        if name == "w2v":
            kwargs["workers"] = args.workers or opts["threads"]
            kwargs["sg"] = {"0": 0, "1": 1, "both": (1, 0)}[args.sg]
            kwargs.update({k: getattr(args, k) for k in ("tokens", "vocab") if getattr(args, k)})
        elif name == "quick":
            module = _w2v_module()
            kwargs.update(getattr(module, "QUICK_KWARGS", W2V_QUICK))
        if args.repeats:
            kwargs["repeats"] = args.repeats
        if args.warmup is not None:
            kwargs["warmups"] = args.warmup
        if args.dtype != "float32":
            notes.append("word2vec trains float32 only: its rows are float32")
        w2v = _w2v_tasks(opts, kwargs, progress)
        if not w2v:
            notes.append(W2V_MISSING)
        tasks += w2v
    return tasks, notes


# ---------------------------------------------------------------------------------------------
# progress


class Progress:
    """A progress display on stderr: tqdm on a terminal when it is installed, else one line per
    step (a log file or a pipe gets no carriage-return redraws)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None
        self.total, self.done = 0, 0

    def open(self, total: int) -> None:
        self.total = total
        if not self.enabled or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(
            total=total,
            file=sys.stderr,
            unit="row",
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]",
        )

    def start(self, label: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_description_str(label)
        else:
            print(f"[{self.done + 1}/{self.total}] {label} ...", file=sys.stderr, flush=True)

    def message(self, *args, **kwargs) -> None:
        """A callback for long tasks (word2vec): shows its latest message."""
        if self.enabled and self.bar is not None and args:
            self.bar.set_postfix_str(str(args[0])[:60])

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------------
# machine facts


def machine_info() -> dict:
    """CPU model and core counts from lscpu (falling back to /proc/cpuinfo and os)."""
    info = {
        "model": None,
        "cores": None,
        "sockets": None,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    fields = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    info["model"] = fields.get("Model name")
    try:
        per_socket = int(fields["Core(s) per socket"])
        sockets = int(fields.get("Socket(s)", "1"))
        info["cores"], info["sockets"] = per_socket * sockets, sockets
    except (KeyError, ValueError):
        pass
    if info["model"] is None:
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        info["model"] = line.split(":", 1)[1].strip()
                        break
        except OSError:
            info["model"] = platform.processor() or None
    if info["cores"] is None:
        info["cores"] = os.cpu_count()
    return info


def _load() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class OthersCpu:
    """The share of the machine's CPU time that other processes used over an interval, from
    /proc/stat (all CPUs) minus /proc/self/stat (this process, all its threads). 0 on an idle
    machine, 1 when others kept every core busy; None where /proc is missing (not Linux)."""

    def __init__(self):
        self._start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        total = sum(fields)  # user nice system idle iowait irq softirq steal
        busy = total - fields[3] - fields[4]
        return total, busy, int(own[11]) + int(own[12])  # utime + stime

    def share(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[0] <= self._start[0]:
            return None
        total, busy, own = (e - s for e, s in zip(end, self._start, strict=True))
        return round(min(max((busy - own) / total, 0.0), 1.0), 3)


def wait_quiet(limit: float, max_wait: float, interval: float = 0.5) -> float:
    """Waits (up to max_wait seconds) until other processes use less than `limit` of the CPU
    over `interval`; returns the seconds waited."""
    start = time.perf_counter()
    while True:
        meter = OthersCpu()
        time.sleep(interval)
        share = meter.share()
        waited = time.perf_counter() - start
        if share is None or share < limit or waited >= max_wait:
            return round(waited, 1)


def _versions() -> dict:
    versions = {"fastrnn": fastrnn.__version__}
    for name in ("numpy", "torch", "gensim"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name] = getattr(module, "__version__", None)
    return versions


# ---------------------------------------------------------------------------------------------
# output


def _ms(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _num(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _mb(value) -> str:
    return "-" if value is None else f"{value / 2**20:.2f}"


def _shape(row) -> str:
    s = f"{row['T']},{row['N']},{row['I']},{row['H']}"
    if row.get("layers", 1) > 1:
        s += f" L{row['layers']}"
    if row.get("bidirectional"):
        s += " bi"
    return s


def _rnn_table(rows) -> str:
    header = (
        "bench",
        "pass",
        "mode",
        "T,N,I,H",
        "fastrnn ms",
        "torch ms",
        "speedup",
        "tokens/s",
        "GFLOP/s",
        "%peak",
        "torch %peak",
        "mem MB",
        "torch MB",
        "noise",
        "busy",
    )
    lines = []
    for r in rows:
        fr, pt = r["fastrnn"], r.get("torch") or {}
        lines.append(
            (
                r["bench"],
                r["pass"],
                r["mode"],
                _shape(r),
                _ms(fr["ms"]),
                _ms(pt.get("ms")),
                _num(r.get("speedup"), ".2f") + ("x" if r.get("speedup") else ""),
                _num(fr["tokens_per_s"], ",.0f"),
                _num(fr["gflops"], ".1f"),
                _num(fr["peak_fraction"] and 100 * fr["peak_fraction"], ".1f"),
                _num(pt.get("peak_fraction") and 100 * pt["peak_fraction"], ".1f"),
                _mb(fr.get("mem_bytes")),
                _mb(pt.get("mem_bytes")),
                _num(max(fr["spread"], pt.get("spread", 0)) * 100, ".0f") + "%",
                _num(r.get("others_cpu") and 100 * r["others_cpu"], ".0f")
                + ("%" if r.get("others_cpu") is not None else ""),
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    left = 4  # the first four columns are text, the rest numbers

    def fmt(cells):
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    out = [fmt(header), "  ".join("-" * w for w in widths)]
    out += [fmt(line) for line in lines]
    return "\n".join(out)


def _w2v_lines(rows) -> str:
    """word2vec rows: the word2vec benchmark's own table when it has one, else key=value lines."""
    module = _w2v_module()
    if module is not None and hasattr(module, "format_w2v_rows"):
        try:
            return "word2vec\n" + module.format_w2v_rows(rows)
        except (KeyError, TypeError, ValueError):
            pass
    out = []
    for r in rows:
        items = [
            f"{k}={_num(v, '.4g') if isinstance(v, float) else v}"
            for k, v in r.items()
            if isinstance(v, (int, float, str, bool)) and k != "bench"
        ]
        out.append("w2v  " + "  ".join(items))
    return "\n".join(out)


def geomean(values) -> float | None:
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def summary(rows) -> dict:
    """Geometric-mean speedups per pass and the rows below 1x."""
    by_pass: dict[str, list[float]] = {}
    for r in rows:
        if r.get("speedup"):
            by_pass.setdefault(r.get("pass", r.get("bench", "?")), []).append(r["speedup"])
    below = [r for r in rows if r.get("speedup") is not None and r["speedup"] < 1.0]
    return {
        "geomean_speedup": {k: geomean(v) for k, v in by_pass.items()},
        "rows_below_1x": len(below),
        "rows_compared": sum(len(v) for v in by_pass.values()),
    }


def _label(r) -> str:
    return f"{r['mode']} {r['pass']} ({_shape(r)})"


def _short_of(value: float, digits: int) -> str:
    """`value` cut (not rounded) to `digits` decimals: a value short of a target never prints as
    the target itself (0.9996x as 0.99x, not 1.00x; 89.96 % as 89.9 %, not 90.0 %)."""
    whole, _, decimals = f"{value:.12f}".partition(".")  # (0.29 is 0.28999...: cut the text)
    return f"{whole}.{decimals[:digits]}"


def _grid(r, shape) -> bool:
    """Whether row r is issue 5's (T, N, I, H): one unidirectional layer of that shape."""
    return (
        (r["T"], r["N"], r["I"], r["H"]) == shape
        and r.get("layers", 1) == 1
        and not r.get("bidirectional")
    )


def check_targets(rows, peak: float | None) -> list[dict]:
    """Issue 5's targets, for the rows this run has: each {target, ok, failing: [row labels]}.
    The targets are float32's (issue 5's grid): rows of another dtype are left out."""
    compared = [
        r
        for r in rows
        if r.get("bench") in ("rnn", "cell")
        and r.get("speedup")
        and r.get("dtype", "float32") == "float32"
    ]
    train = [r for r in compared if r["pass"] == "train"]
    out = []

    def add(target, candidates, failing):
        if candidates:
            out.append({"target": target, "ok": not failing, "failing": failing})

    add(
        "fastrnn >= 1.0x PyTorch on every row",
        compared,
        [f"{_label(r)}: {_short_of(r['speedup'], 2)}x" for r in compared if r["speedup"] < 1.0],
    )
    g = geomean([r["speedup"] for r in train])
    if train:
        out.append(
            {
                "target": "geometric-mean training speedup >= 2x",
                "ok": g >= 2.0,
                "failing": [] if g >= 2.0 else [f"geometric mean {_short_of(g, 2)}x"],
            }
        )
    slow = [r for r in compared if (r["torch"].get("peak_fraction") or 1.0) < 0.5]
    add(
        ">= 2x on every row where PyTorch runs below half of the SGEMM peak",
        slow,
        [f"{_label(r)}: {_short_of(r['speedup'], 2)}x" for r in slow if r["speedup"] < 2.0],
    )
    big = [r for r in train if r["bench"] == "rnn" and _grid(r, (50, 64, 512, 512))]
    add(
        "(50, 64, 512) training rows >= 90% of the SGEMM peak",
        big,
        [
            f"{_label(r)}: {_short_of(100 * (r['fastrnn']['peak_fraction'] or 0), 1)}%"
            for r in big
            if (r["fastrnn"]["peak_fraction"] or 0) < 0.9
        ],
    )
    step = [
        r
        for r in compared
        if r["bench"] == "cell" and r["mode"] == "lstm" and _grid(r, (1, 1, 256, 256))
    ]
    add(
        "LSTM step at N=1, H=256 >= 3x torch.nn.LSTMCell",
        step,
        [f"{_label(r)}: {_short_of(r['speedup'], 2)}x" for r in step if r["speedup"] < 3.0],
    )
    mem = [
        r
        for r in train
        if r["fastrnn"].get("mem_bytes") is not None and r["torch"].get("mem_bytes") is not None
    ]
    add(
        "training memory <= PyTorch's",
        mem,
        [
            f"{_label(r)}: {_mb(r['fastrnn']['mem_bytes'])} MB vs {_mb(r['torch']['mem_bytes'])} MB"
            for r in mem
            if r["fastrnn"]["mem_bytes"] > r["torch"]["mem_bytes"]
        ],
    )
    return out  # fmt: skip


def render(report: dict) -> str:
    peak = report["sgemm_peak"]
    m = report["machine"]
    lines = [
        f"machine: {m['model']} ({m['cores']} cores), threads {report['settings']['threads']}, "
        f"{report['fastrnn']['simd']}, {report['fastrnn']['blas'].split(' (')[0]}",
        (
            f"SGEMM peak: {_num(peak['gflops'], '.1f')} GFLOP/s ({peak['backend']}, "
            f"n={peak['size']}); "
            if peak["gflops"]
            else ""
        )
        + f"load average {report['load_average']['start']} -> {report['load_average']['end']}",
        "",
    ]
    rnn_rows = [r for r in report["rows"] if r.get("bench") in ("rnn", "cell") and "error" not in r]
    w2v_rows = [r for r in report["rows"] if r.get("bench") == "w2v" and "error" not in r]
    errors = [r for r in report["rows"] if "error" in r]
    if rnn_rows:
        lines.append(_rnn_table(rnn_rows))
    if w2v_rows:
        lines += ["", _w2v_lines(w2v_rows)] if rnn_rows else [_w2v_lines(w2v_rows)]
    for r in errors:
        lines.append(f"FAILED {r['label']}: {r['error']}")
    s = report["summary"]
    if s["geomean_speedup"]:
        parts = [f"{k} {v:.2f}x" for k, v in s["geomean_speedup"].items()]
        lines += [
            "",
            "geometric-mean speedup over the comparison: "
            + ", ".join(parts)
            + f"; rows below 1x: {s['rows_below_1x']} of {s['rows_compared']}",
        ]
    for t in s.get("targets", []):
        state = "met" if t["ok"] else "NOT met: " + "; ".join(t["failing"])
        lines.append(f"target {t['target']}: {state}")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def markdown(report: dict, plot: str | None = None) -> str:
    """The run as markdown for bench/BENCHMARKS.md: command, machine, peak, table, targets."""
    m, peak, st = report["machine"], report["sgemm_peak"], report["settings"]
    cfg, load = report["fastrnn"], report["load_average"]
    lines = [
        f"Command: `{report['command']}` ({report['created']}).",
        "",
        f"Machine: {m['model']}, {m['cores']} cores ({m['logical_cpus']} logical CPUs); "
        f"{bench_rnn.count(st['threads'], 'thread')}"
        + (" for both libraries" if st.get("compare") == "torch" else " (fastrnn alone)")
        + f"; fastrnn {cfg['version']} ({cfg['simd']}, "
        f"{cfg['blas'].split(' (')[0]}, {cfg['compiler']}), "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if k != "fastrnn")
        + f". 1-minute load average {load['start']} at the start, {load['end']} at the end.",
        "",
        f"SGEMM peak: **{_num(peak['gflops'], '.1f')} GFLOP/s** ({peak['backend']}, "
        f"n = {peak['size']}; best of " + ", ".join(peak["by_backend"]) + ").",
        "",
        "| pass | mode | T, N, I, H | fastrnn ms | torch ms | speedup | tokens/s | GFLOP/s "
        "| % peak | torch % peak | mem MB | torch MB | noise | busy |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    noisy = busy = False
    for r in report["rows"]:
        if "error" in r:
            if r.get("bench") in ("rnn", "cell"):
                error = " ".join(r["error"].split()).replace("|", "\\|")  # one table cell
                lines.append(f"| FAILED | {r.get('label', '')} | {error} |" + " |" * 11)
            continue
        if r.get("bench") not in ("rnn", "cell"):
            continue
        fr, pt = r["fastrnn"], r.get("torch") or {}
        speed = _num(r.get("speedup"), ".2f") + ("×" if r.get("speedup") else "")
        noise = max(fr["spread"], pt.get("spread", 0)) * 100
        lines.append(
            f"| {r['pass']} | {r['mode']} | {_shape(r)} | {_ms(fr['ms'])} | {_ms(pt.get('ms'))} "
            f"| {speed} | {_num(fr['tokens_per_s'], ',.0f')} | {_num(fr['gflops'], '.1f')} "
            f"| {_num(fr['peak_fraction'] and 100 * fr['peak_fraction'], '.1f')} "
            f"| {_num(pt.get('peak_fraction') and 100 * pt['peak_fraction'], '.1f')} "
            f"| {_mb(fr.get('mem_bytes'))} | {_mb(pt.get('mem_bytes'))} "
            f"| {noise:.0f}%{' †' if noise > NOISY else ''} "
            f"| {_num(r.get('others_cpu') and 100 * r['others_cpu'], '.0f')}"
            f"{'%' if r.get('others_cpu') is not None else ''}"
            f"{' ‡' if (r.get('others_cpu') or 0) > QUIET_SHARE else ''} |"
        )
        noisy = noisy or noise > NOISY
        busy = busy or (r.get("others_cpu") or 0) > QUIET_SHARE
    if noisy:
        lines += ["", f"† noisy: the repeats' interquartile range exceeds {NOISY}% of the median."]
    if busy:
        lines += [
            "",
            f"‡ busy: other processes used more than {QUIET_SHARE:.0%} of the CPU while the row "
            "ran; its times (PyTorch's above all) are not the machine's.",
        ]
    s = report["summary"]
    if s["geomean_speedup"]:
        parts = [f"{k} {v:.2f}×" for k, v in s["geomean_speedup"].items()]
        lines += ["", "Geometric-mean speedup: " + ", ".join(parts) + "."]
    if s.get("targets"):
        lines += ["", "Issue 5's targets on this run:", ""]
        for t in s["targets"]:
            state = "met" if t["ok"] else "**not met**: " + "; ".join(t["failing"])
            lines.append(f"- {t['target']}: {state}")
    if plot:
        lines += ["", f"![speedups]({plot})"]
    return "\n".join(lines) + "\n"


MD_BEGIN, MD_END = "<!-- rnn-results -->", "<!-- /rnn-results -->"


def _markers(old: str):
    """(begin, end) matches of MD_BEGIN ... MD_END in a file's text, either None. The markers count
    only on lines of their own (prose may quote them)."""
    begin = re.search(rf"^{re.escape(MD_BEGIN)}[ \t]*$", old, re.MULTILINE)
    end = re.compile(rf"^{re.escape(MD_END)}[ \t]*$", re.MULTILINE).search(
        old, begin.end() if begin else 0
    )
    return begin, end


def markdown_problem(path: str) -> str | None:
    """Why write_markdown would refuse `path`, or None: an existing file with text is updated only
    between both markers, never replaced."""
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        return None
    begin, end = _markers(old)
    if begin and end or not old.strip():
        return None
    return (
        f"{path} exists without both {MD_BEGIN} and {MD_END} (each on a line of its own, in "
        "that order); the results go between them: add them, or give a new file"
    )


def write_markdown(path: str, text: str) -> str:
    """Writes `text` between MD_BEGIN ... MD_END markers to a new (or empty) file at path, or, in
    a file with the markers (as bench/BENCHMARKS.md has), replaces only what is between them;
    refuses any other existing file (ValueError). Returns what it did."""
    problem = markdown_problem(path)
    if problem:
        raise ValueError(problem)
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except FileNotFoundError:
        old = ""
    begin, end = _markers(old)
    if begin and end:
        text = old[: begin.end()] + "\n\n" + text + "\n" + old[end.start() :]
        how = "updated the results in"
    else:  # a new file, with the markers, so that the next run updates it
        text = f"{MD_BEGIN}\n\n{text}\n{MD_END}\n"
        how = "wrote"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)
    return how


def write_plot(report: dict, path: str) -> None:
    """A horizontal bar chart of every row's speedup, with lines at 1x and 2x."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        raise SystemExit(
            "fastrnn-bench: --plot needs matplotlib; install it with "
            '`pip install matplotlib` (or `pip install "fastrnn[bench]"`)'
        ) from None
    rows = [r for r in report["rows"] if r.get("speedup")]
    colors = {"train": "tab:blue", "infer": "tab:orange", "step": "tab:green", "w2v": "tab:purple"}
    labels, values, cols = [], [], []
    for r in rows:
        if r.get("bench") in ("rnn", "cell"):
            labels.append(f"{r['mode']} {r['pass']} ({_shape(r)})")
        else:
            labels.append(f"word2vec {r.get('model') or r.get('name') or ''}".strip())
        values.append(r["speedup"])
        cols.append(colors.get(r.get("pass", r.get("bench")), "tab:gray"))
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(len(rows), 3) + 1.5))
    y = list(range(len(rows)))[::-1]
    # bars grow from 1x on a log scale: right of the line fastrnn is faster, left slower
    ax.barh(y, [v - 1.0 for v in values], left=1.0, color=cols)
    ax.set_xscale("log", base=2)
    lo, hi = min(values + [0.5]), max(values + [4.0])
    ax.set_xlim(lo / 1.5, hi * 2.0)
    for yi, v in zip(y, values, strict=True):
        ax.text(max(v, 1.0) * 1.05, yi, f"{v:.2f}x", va="center", fontsize=7)
    ax.set_yticks(y, labels, fontsize=7)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.axvline(2.0, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xlabel("speedup over PyTorch (gensim for word2vec): its ms / fastrnn ms, log scale")
    m, threads = report["machine"], bench_rnn.count(report["settings"]["threads"], "thread")
    ax.set_title(
        f"fastrnn-bench {report['suite']}: {m['model']}, {threads}",
        fontsize=9,
    )
    names = {"train": "training step", "infer": "inference", "step": "cell step",
             "w2v": "word2vec (vs gensim)"}  # fmt: skip
    used = [k for k in colors if colors[k] in cols]
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[k]) for k in used]
    ax.legend(
        handles, [names[k] for k in used], fontsize=7, loc="upper left", bbox_to_anchor=(1, 1)
    )
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# main


def run(args) -> dict:
    name, opts = plan(args)
    machine = machine_info()
    notes = []
    if name != "w2v":
        notes += [
            "ms is the median of the repeats; speedup = torch ms / fastrnn ms; noise = "
            "interquartile range of the repeats / median, the larger of the two sides'",
            bench_rnn.FLOPS_METHOD,
            bench_rnn.MEMORY_METHOD,
        ]
    if opts["compare"] == "none" and args.compare != "none" and name != "w2v":
        notes.append("torch is not installed: fastrnn measured alone")
    show = not args.no_progress
    if name == "w2v":  # no GEMM roofline for word2vec
        peak = {"gflops": None, "backend": None, "size": None, "by_backend": {},
                "notes": ["not measured for a word2vec-only run"]}  # fmt: skip
    else:
        if show:
            print(
                f"fastrnn-bench {name}: measuring the SGEMM peak at {opts['threads']} threads ...",
                file=sys.stderr,
                flush=True,
            )
        backends = ("numpy", "fastrnn-openblas")
        # torch's GEMMs whenever torch is there, compared or not: the peak is the machine's
        backends += ("torch", "torch-onednn") if _torch_available() else ()
        if args.wait_quiet:
            wait_quiet(QUIET_SHARE, args.wait_quiet)
        peak = bench_rnn.sgemm_peak(opts["threads"], sizes=args.peak_sizes, backends=backends)
        notes += peak.get("notes", [])
    opts["peak"] = peak["gflops"]
    progress = Progress(enabled=show)
    tasks, plan_notes = make_tasks(args, name, opts, progress)
    notes += plan_notes
    load_start = _load()
    progress.open(len(tasks))
    rows = []
    try:
        for task in tasks:
            progress.start(task.label)
            waited = wait_quiet(QUIET_SHARE, args.wait_quiet) if args.wait_quiet else None
            meter = OthersCpu()
            try:
                new = task.run()
            except Exception as e:  # noqa: BLE001 - one failing row must not lose the others
                new = [
                    {
                        "bench": task.label.split()[0],
                        "label": task.label,
                        "error": f"{type(e).__name__}: {e}",
                    }
                ]
            share = meter.share()
            for row in new:
                row["others_cpu"] = share
                if waited is not None:
                    row["waited_quiet_s"] = waited
            rows += new
            progress.advance()
    finally:
        progress.close()
    if any(r.get("bench") in ("rnn", "cell") for r in rows):
        notes.append(bench_rnn.TIMING_METHOD)
    if any(r.get("bench") == "rnn" and r.get("pass") == "train" for r in rows):
        notes.append(bench_rnn.TRAINING_METHOD)
    if any(r.get("dtype", "float32") != "float32" for r in rows):
        notes.append(
            f"{opts['dtype']} rows (both libraries): no % of peak, which is float32's SGEMM, and "
            "no targets, which are float32's"
        )
    if peak["gflops"] and len(rows) > 1:
        # once more at the end: a busy moment only lowers a peak, so keep the higher of the two
        if args.wait_quiet:
            wait_quiet(QUIET_SHARE, args.wait_quiet)
        again = bench_rnn.sgemm_peak(opts["threads"], sizes=args.peak_sizes, backends=backends)
        peak = dict(again if again["gflops"] > peak["gflops"] else peak, first=peak, last=again)
        peak["method"] += "; measured before and after the rows, the higher kept"
        for row in rows:
            if row.get("dtype", "float32") != "float32":
                continue  # (bench_rnn.PEAK_FLOAT32_ONLY)
            for side in (row.get("fastrnn"), row.get("torch")):
                if isinstance(side, dict) and side.get("gflops") is not None:
                    side["peak_fraction"] = side["gflops"] / peak["gflops"]
    above = [
        f"{who} {_label(r)} {100 * r[who]['peak_fraction']:.0f}%"
        for r in rows
        if r.get("bench") in ("rnn", "cell")
        for who in ("fastrnn", "torch")
        if isinstance(r.get(who), dict) and (r[who].get("peak_fraction") or 0) > PEAK_SUSPECT
    ]
    if above:
        notes.append(
            f"rows above {PEAK_SUSPECT:.0%} of the SGEMM peak ({', '.join(above[:4])}"
            f"{', ...' if len(above) > 4 else ''}): the peak measured low - a busy moment, "
            f"--peak-sizes too small, or a BLAS short of this CPU ({peak['backend']} gave the "
            "peak; torch's oneDNN, when installed, usually measures the highest)"
        )
    load = {"start": load_start, "end": _load()}
    cores = machine["cores"] or 1
    shares = [r["others_cpu"] for r in rows if r.get("others_cpu") is not None]
    if shares:
        notes.append(
            "busy = share of the machine's CPU time other processes used while the row ran "
            f"(here {min(shares):.0%} to {max(shares):.0%}); rows measured while others were busy "
            "are slower and noisier, multi-threaded PyTorch with many small parallel regions "
            "(N=1 rows, cell steps) most of all"
        )
    if max(v or 0 for v in load.values()) > 0.5 * cores + 1:
        notes.append(
            f"the machine was busy (1-minute load average {load['start']} at the start, "
            f"{load['end']} at the end, on {cores} cores): times are noisy, and multi-threaded "
            "runs (torch's OpenMP above all) suffer most when other processes take the cores"
        )
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "fastrnn-bench " + " ".join(args.argv),
        "suite": name,
        "machine": machine,
        "load_average": load,
        "fastrnn": fastrnn_config(),
        "versions": _versions(),
        "settings": {k: v for k, v in opts.items() if k != "peak"},
        "sgemm_peak": peak,
        "rows": rows,
        "summary": dict(summary(rows), targets=check_targets(rows, peak["gflops"])),
        "notes": notes,
    }


def main(argv=None) -> int:
    """Entry point of the `fastrnn-bench` console script. Ctrl-C ends it with a one-line message
    and status 130 (the shell's for SIGINT); the output files are written only after the run, each
    whole or not at all (atomic_write)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("fastrnn-bench: interrupted", file=sys.stderr)
        return 130


def _main(argv) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.omp_passive:
        if "torch" in sys.modules:
            print("fastrnn-bench: --omp-passive has no effect: torch is already imported",
                  file=sys.stderr)  # fmt: skip
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read by torch's OpenMP when it loads
    if args.command == "w2v" and _w2v_module() is None:
        print(f"fastrnn-bench: {W2V_MISSING}", file=sys.stderr)
        return 2
    if args.compare == "torch" and not _torch_available() and args.command != "w2v":
        parser.error(
            "--compare torch: torch is not installed (pip install torch, or use --compare none)"
        )
    if args.compare == "gensim" and args.command in ("w2v", "suite", None):
        if importlib.util.find_spec("gensim") is None:
            parser.error("--compare gensim: gensim is not installed (pip install gensim)")
    if args.markdown and args.command == "w2v":
        parser.error("--markdown: writes the RNN table, which a w2v run does not make")
    if args.command == "w2v" and args.dtype != "float32":
        parser.error("--dtype: word2vec trains float32 only")
    problem = _memory_problem(args)
    if problem:
        parser.error(problem)
    if args.plot:  # fail before measuring, not after
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            parser.error("--plot needs matplotlib: pip install matplotlib")
    outputs = [
        (option, path)
        for option, path in (
            ("--json", args.json),
            ("--plot", args.plot),
            ("--markdown", args.markdown),
        )
        if path
    ]
    for i, (option, path) in enumerate(outputs):
        problem = _output_problem(option, path)
        if problem:
            parser.error(problem)
        for other, other_path in outputs[:i]:
            if os.path.realpath(path) == os.path.realpath(other_path):
                parser.error(f"{option}: {path} is also the {other} path (give each its own file)")
    if args.plot and not _compares_anything(args):
        parser.error(
            "--plot: the chart shows speedups over PyTorch or gensim, and this run compares "
            "with neither (--compare none, or neither installed for its rows)"
        )
    report = run(args)
    written, failed = [], []  # files first: a closed stdout (| head) must not lose them
    writers = {
        "--json": lambda: _write_json(report, args.json),
        "--plot": lambda: write_plot(report, args.plot),
        "--markdown": lambda: _write_markdown(report, args),
    }
    for option, path in outputs:
        try:
            os.makedirs(os.path.dirname(os.path.realpath(path)), exist_ok=True)
            written.append(f"{writers[option]() or 'wrote'} {path}")
        except (OSError, ValueError) as e:  # checked before the run; things may have changed
            failed.append(f"fastrnn-bench: {option}: could not write {path}: {e}")
    print("\n".join([render(report), *written]))
    if failed:
        print("\n".join(failed), file=sys.stderr)
    return 1 if failed or any("error" in r for r in report["rows"]) else 0


def _compares_anything(args) -> bool:
    """Whether the run will measure a reference beside fastrnn: torch for RNN and cell rows,
    gensim for word2vec rows."""
    if args.compare == "none":
        return False
    command = args.command or "suite"
    rnn_rows = command in ("rnn", "cell", "suite")
    w2v_rows = command == "w2v" or (command == "suite" and not getattr(args, "no_w2v", False))
    gensim = importlib.util.find_spec("gensim") is not None
    return (rnn_rows and _torch_available()) or (w2v_rows and gensim and _w2v_module() is not None)


def _physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _memory_problem(args) -> str | None:
    """Why the rows of an rnn, cell or w2v command cannot fit in this machine's memory (a lower
    bound of what one row holds is more than all of it), or None: refused before measuring, where
    the arrays would otherwise fill the memory (and the swap) for minutes before failing."""
    memory = _physical_memory()
    itemsize = 8 if args.dtype == "float64" else 4
    if args.command == "rnn":
        what = "-T, -N, -I, -H, --layers"
        need = max(
            bench_rnn.rnn_row_bytes(
                m,
                args.T,
                args.N,
                args.I or args.H,
                args.H,
                args.layers,
                2 if args.bidirectional else 1,
                itemsize,
                args.passes != "infer",
            )
            for m in args.mode
        )
    elif args.command == "cell":
        what = "-N, -I, -H"
        need = max(
            bench_rnn.cell_row_bytes(m, args.N, args.I or args.H, args.H, itemsize)
            for m in args.mode
        )
    elif args.command == "w2v" and hasattr(_w2v_module(), "corpus_bytes"):
        what = "--tokens, --vocab"
        module = _w2v_module()
        defaults = inspect.signature(module.run_w2v_benchmark).parameters
        tokens = args.tokens or defaults["tokens"].default
        vocab = args.vocab or defaults["vocab"].default
        need = module.corpus_bytes(tokens, vocab)
    else:
        return None
    if memory is None or need <= memory:
        return None
    return (
        f"{what}: a row of this size holds at least {need / 1e9:,.1f} GB, more than this "
        f"machine's {memory / 1e9:,.1f} GB of memory"
    )


def _output_problem(option: str, path: str) -> str | None:
    """Why `path` cannot receive the file `option` writes, or None: checked before measuring."""
    if os.path.isdir(path):
        return f"{option}: {path} is a directory (give a file path)"
    problem = replace_problem(path)
    if problem:
        return f"{option}: {path} {problem} (give a file path)"
    if option == "--plot" and Path(path).suffix.lower() != ".png":
        return f"{option}: expected a .png path (the chart is a PNG), got {path}"
    # the directory atomic_write writes in: the one a symbolic link leads to
    where = os.path.dirname(os.path.realpath(path))
    existing = where  # the directories are made when the file is written, not now
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{option}: cannot make the directory {where} ({existing} is a file)"
    try:  # as the atomic write will: a new file in that directory (or the one to hold it)
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".fastrnn-bench-", delete=True):
            pass
    except OSError as e:
        return f"{option}: cannot write in {existing} ({e})"
    if option == "--markdown" and os.path.exists(path):
        try:
            problem = markdown_problem(path)
        except (OSError, UnicodeDecodeError) as e:
            return f"{option}: cannot read {path} as UTF-8 text to update it ({e})"
        if problem:
            return f"{option}: {problem}"
    return None


def _write_json(report: dict, path: str) -> None:
    with atomic_write(path, "w") as f:
        json.dump(report, f, indent=1, default=str)
        f.write("\n")


def _write_markdown(report: dict, args) -> str:
    # (where the file is written: through a link, beside the file it leads to; see atomic_write)
    where = os.path.dirname(os.path.realpath(args.markdown))
    plot = os.path.relpath(os.path.realpath(args.plot), where) if args.plot else None
    return write_markdown(args.markdown, markdown(report, plot))


if __name__ == "__main__":
    sys.exit(main())
