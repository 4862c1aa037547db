"""Command-line checks shared by the examples: argparse types that refuse nonsense before any
training starts, the output directory made (or refused) up front, and problems with a user's
input files reported as one line instead of a traceback."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

_INT_MAX = 2**63 - 1  # the largest count an example takes (int64, as numpy)


def _number(text: str, kind, minimum, what: str, maximum=math.inf):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not minimum <= value <= maximum or value == math.inf:  # (NaN fails the first test)
        raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, 1, f"an int >= 1 and <= {_INT_MAX}", maximum=_INT_MAX)


def thread_count(text: str) -> int:
    return _number(text, int, 1, "a thread count in 1..4096", maximum=4096)


def nonnegative_int(text: str) -> int:
    return _number(text, int, 0, f"an int >= 0 and <= {_INT_MAX}", maximum=_INT_MAX)


def positive_float(text: str) -> float:
    value = _number(text, float, 0.0, "a finite number > 0")
    if value == 0.0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def bounded_float(maximum: float):
    """An argparse type: a number in 0 .. maximum."""
    return lambda text: _number(text, float, 0.0, f"a number in 0 .. {maximum:g}", maximum)


def output_dir(text: str) -> Path:
    """The --out directory, created now and tried with a temporary file (so that a bad path, or a
    directory the plot cannot be written in, fails before training, not after)."""
    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot use {text!r} as a directory ({e})") from None
    try:  # as the plot is written: a temporary file beside it (fastrnn._atomic)
        tempfile.NamedTemporaryFile(dir=path, prefix=".", suffix=".tmp").close()
    except OSError as e:
        raise argparse.ArgumentTypeError(f"cannot write in {text!r} ({e})") from None
    return path


def require(parser: argparse.ArgumentParser, module: str, why: str) -> None:
    """A usage error (before training) when `module` is not installed, naming the extra that
    installs every example's needs."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        package = {"sklearn": "scikit-learn"}.get(module, module)
        parser.error(
            f"this example needs {package} {why}: pip install {package} (or every example's "
            'needs: pip install "fastrnn[examples]")'
        )


def plot_file(parser: argparse.ArgumentParser, out: Path, name: str) -> Path:
    """out/name, the plot's path, checked before training: a directory or a device, pipe or
    socket there is refused with parser.error (the plot would fail after the whole run)."""
    from fastrnn._atomic import replace_problem

    require(parser, "matplotlib", "for its plot")
    path = out / name
    problem = "is a directory" if path.is_dir() else replace_problem(path)
    if problem:
        parser.error(f"--out: the plot's path {str(path)!r} {problem}")
    return path


def run(main) -> None:
    """Runs an example's main() as the script: sizes too large for this machine's memory end in
    a one-line error (status 2) instead of a MemoryError traceback."""
    try:
        main()
    except MemoryError:
        fail(
            "not enough memory for the sizes asked for (numpy could not allocate an array); "
            "use smaller ones"
        )


def fail(message: str):
    """Ends the example with `<script>: error: message` on stderr and exit status 2 (as argparse
    does for a bad argument)."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    sys.exit(2)
