"""Saving the examples' plots atomically, through the package's own atomic_write: the PNG goes to
a temporary file beside the target, renamed over it once complete, so an interrupted run leaves
the previous plot or none, never half a PNG."""

from __future__ import annotations

from pathlib import Path

from fastrnn._atomic import atomic_write


def save_figure(fig, path: Path, dpi: int) -> None:
    """Writes matplotlib figure `fig` to `path` as a PNG."""
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=dpi)
