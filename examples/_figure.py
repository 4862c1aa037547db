"""Saving the examples' plots atomically: the PNG is written to a temporary file beside the target
and renamed over it, so an interrupted run leaves the previous plot or none, never half a PNG."""

from __future__ import annotations

import os
from pathlib import Path


def save_figure(fig, path: Path, dpi: int) -> None:
    """Writes matplotlib figure `fig` to `path` as a PNG."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(temporary, format="png", dpi=dpi)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
