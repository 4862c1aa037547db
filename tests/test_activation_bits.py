"""The AVX2 kernels' register sigmoid and tanh (csrc/cpu/vec8_avx2.h) are the scalar float
functions of csrc/fastrnn/activations.h step for step, so in the AVX2 translation units (compiled
with FMA, which contracts the scalar a*b+c as the registers do) the fused loops and the scalar code
agree bit for bit on the activations (the generic target, without FMA, rounds differently).
tests/native/activation_bits.cpp checks it on ~1.4 million inputs (a grid, every boundary of the
approximations ± 300 floats, specials, random bit patterns); here it is compiled as
CMakeLists.txt compiles the AVX2 kernels (-O3 -mavx2 -mfma -fno-math-errno, gnu++17) and run.
Skipped where no C++ compiler is found or fastrnn runs no AVX2 kernels here (its own CPU
detection, fastrnn._C.simd_level(): without AVX2 and FMA the program would not run)."""

import os
import shlex
import shutil
import subprocess

import pytest
from fastrnn import _C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compiler() -> list[str] | None:
    """$CXX (which may carry options, as "ccache g++"), else g++ or c++ from PATH."""
    if os.environ.get("CXX"):
        command = shlex.split(os.environ["CXX"])
        return command if command and shutil.which(command[0]) else None
    found = shutil.which("g++") or shutil.which("c++")
    return [found] if found else None


CXX = _compiler()


@pytest.mark.skipif(CXX is None, reason="no C++ compiler ($CXX, g++ or c++) found")
@pytest.mark.skipif(
    _C.simd_level() not in ("avx2", "avx512"),
    reason="fastrnn runs no AVX2 kernels here (no AVX2 and FMA, FASTRNN_ISA=generic, no x86 build)",
)
def test_avx2_activations_have_the_scalar_bits(tmp_path):
    exe = tmp_path / "activation_bits"
    compile_cmd = [
        *CXX,
        "-std=gnu++17",
        "-O3",
        "-mavx2",
        "-mfma",
        "-fno-math-errno",
        "-I",
        os.path.join(ROOT, "csrc"),
        os.path.join(ROOT, "tests", "native", "activation_bits.cpp"),
        "-o",
        str(exe),
    ]
    out = subprocess.run(compile_cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert run.stdout.startswith("checked "), run.stdout
    assert int(run.stdout.split()[1]) >= 1_400_000, run.stdout  # the inputs were all built
