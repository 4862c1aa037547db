"""The C++ core compiles for a CPU other than x86-64: configures the project with an aarch64 cross
compiler (the target is asked of the compiler, so the x86 kernels are left out) and builds the core
library, whose sources must then hold nothing x86-only (intrinsics, -m flags, cpuid, x86 asm).
Nothing is linked or run: the BLAS beside it is this machine's.

A build of a minute or two, so it runs only when FASTRNN_CROSS_TESTS=1 (.ci/run sets it), and
only where aarch64-linux-gnu-g++ is installed (Debian's g++-aarch64-linux-gnu)."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROSS = "aarch64-linux-gnu-g++"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("FASTRNN_CROSS_TESTS") != "1",
        reason="the cross build takes a minute or two: set FASTRNN_CROSS_TESTS=1 (.ci/run does)",
    ),
    pytest.mark.skipif(shutil.which(CROSS) is None, reason=f"{CROSS} is not installed"),
]


def test_the_core_compiles_for_aarch64(tmp_path):
    pybind11 = pytest.importorskip("pybind11")
    if shutil.which("cmake") is None:
        pytest.fail("cmake is needed for the cross build")
    configure = [
        "cmake",
        "-S",
        ROOT,
        "-B",
        str(tmp_path),
        "-DFASTRNN_CUDA=OFF",
        f"-DCMAKE_CXX_COMPILER={shutil.which(CROSS)}",
        f"-DPython_EXECUTABLE={sys.executable}",
        f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
    ]
    out = subprocess.run(configure, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "fastrnn: x86 kernels OFF" in out.stdout, out.stdout[-4000:]
    build = ["cmake", "--build", str(tmp_path), "--target", "fastrnn_core", "--parallel", "2"]
    out = subprocess.run(build, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert (tmp_path / "libfastrnn_core.a").is_file()
