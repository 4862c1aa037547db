"""Runs an example as a user would (`python examples/NAME.py --quick --out DIR ...`, in its own
process) for the example tests, and reads its last `RESULT {json}` line; also imports an
example as a module so a test can call its functions."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def run_example(name: str, tmp_path: Path, *extra: str, quick: bool = True) -> tuple[dict, str]:
    """Runs examples/<name>.py --quick (unless not quick) --out tmp_path *extra in tmp_path;
    checks it succeeded, printed exactly one RESULT line and saved a PNG plot in tmp_path. Returns
    (the RESULT dict, stdout)."""
    mode = ["--quick"] if quick else []
    cmd = [sys.executable, str(EXAMPLES / f"{name}.py"), *mode, "--out", str(tmp_path)]
    proc = subprocess.run([*cmd, *extra], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, f"{name}: expected one RESULT line in:\n{proc.stdout[-3000:]}"
    result = json.loads(lines[0].removeprefix("RESULT "))
    plot = Path(result["plot"])
    assert plot.parent == tmp_path and plot.stat().st_size > 1000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return result, proc.stdout


def run_example_failing(name: str, tmp_path: Path, *extra: str) -> str:
    """Runs examples/<name>.py *extra, expects it to fail, and returns its stderr."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *extra],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    return proc.stderr


def import_example(name: str):
    """examples/<name>.py as a module (its main() does not run); examples/ goes on sys.path, as
    when the script runs, for its shared _cli module."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
