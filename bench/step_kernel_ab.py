"""The step kernel of two revisions in one process, alternating (an A/B of csrc/cpu/rnn_step.inc).

    python bench/step_kernel_ab.py --base REV --build-dir DIR [--isa avx512
        --modes lstm,gru,rnn_tanh --hidden 64,128,256,512 --batch 1,4,16 --offsets 16,0
        --rounds 30]

Separate processes of bench/step_paths.py differed by 10-15 % on a noisy VM with one build (an A/A
run), more than most kernel changes gain. This compiles `git show REV:csrc/cpu/rnn_step.inc` and
the work tree's into one program with bench/step_kernel_ab.cpp, linked to DIR/libfastrnn_core.a
(a CMake build of the work tree: `cmake -S . -B DIR -DFASTRNN_CUDA=OFF ...; cmake --build DIR`)
and scipy-openblas32, and runs it per size: one thread, `--rounds` rounds of both kernels in turn.
Prints a markdown table of the median µs a step, base → work tree, and base/head (above 1: the
work tree is faster). The weights start `--offsets` bytes past a 64-byte boundary. x86-64 with GCC
or Clang only (`--isa avx2` takes the AVX2 kernel).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ISA_FLAGS = {  # as CMakeLists.txt compiles the kernels
    "avx512": (
        "Simd512",
        "simd_avx512.h",
        "-mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mprefer-vector-width=512",
    ),
    "avx2": ("Simd256", "simd_avx2.h", "-mavx2 -mfma"),
}
COMMON_FLAGS = "-O3 -DNDEBUG -std=gnu++17 -fno-math-errno -fopenmp-simd".split()


def ints(text: str) -> list[int]:
    """The comma-separated integers of `text` (as "1,4,16")."""
    return [int(v) for v in text.split(",")]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="git revision of the kernel to compare against")
    p.add_argument("--build-dir", required=True, help="CMake build directory (libfastrnn_core.a)")
    p.add_argument("--isa", choices=sorted(ISA_FLAGS), default="avx512")
    p.add_argument("--modes", default="lstm,gru,rnn_tanh")
    p.add_argument("--hidden", default="64,128,256,512", help="hidden sizes (I = H)")
    p.add_argument("--batch", default="1,4,16", help="rows N (1-16)")
    p.add_argument("--offsets", default="16,0", help="weight offsets from 64 bytes (0-60, x4)")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--cxx", default=os.environ.get("CXX", "c++"), help="C++ compiler")
    args = p.parse_args(argv)
    if not all(0 <= v < 64 and v % 4 == 0 for v in ints(args.offsets)):
        p.error(f"--offsets: expected offsets 0-60, multiples of 4, got {args.offsets}")
    if not all(1 <= v <= 16 for v in ints(args.batch)):
        p.error(
            f"--batch: expected rows 1-16 (what a kernel before e7eaa2d takes), got {args.batch}"
        )
    if not all(v >= 1 for v in ints(args.hidden)) or args.rounds < 1:
        p.error("--hidden and --rounds: expected positive numbers")
    return args


def kernel_unit(namespace: str, inc: Path, isa: str) -> str:
    """A translation unit compiling `inc` (a copy of rnn_step.inc) into `namespace`."""
    simd, header, _ = ISA_FLAGS[isa]
    return (
        f'#include "cpu/{header}"\n#define FASTRNN_ISA_NS {namespace}\n'
        f'#define FASTRNN_SIMD {simd}\n#include "{inc}"\n'
    )


def build(args, work: Path) -> Path:
    """Compiles and links the two kernels and bench/step_kernel_ab.cpp in `work`; the program."""
    import scipy_openblas32

    core = Path(args.build_dir) / "libfastrnn_core.a"
    if not core.is_file():
        raise SystemExit(f"--build-dir: no libfastrnn_core.a in {args.build_dir}")
    base = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{args.base}:csrc/cpu/rnn_step.inc"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (work / "base_step.inc").write_text(base)
    objects = []
    for namespace, inc in (
        ("ab_base", work / "base_step.inc"),
        ("ab_head", REPO / "csrc/cpu/rnn_step.inc"),
    ):
        source = work / f"{namespace}.cpp"
        source.write_text(kernel_unit(namespace, inc, args.isa))
        objects.append(work / f"{namespace}.o")
        flags = COMMON_FLAGS + ISA_FLAGS[args.isa][2].split()
        cmd = [args.cxx, *flags, f"-I{REPO / 'csrc'}", "-c", str(source), "-o", str(objects[-1])]
        subprocess.run(cmd, check=True)
    program = work / "step_kernel_ab"
    lib = scipy_openblas32.get_lib_dir()
    subprocess.run(
        [
            args.cxx, "-O2", "-std=gnu++17", f"-I{REPO / 'csrc'}",
            str(REPO / "bench/step_kernel_ab.cpp"), *map(str, objects), str(core),
            f"-L{lib}", f"-l{scipy_openblas32.get_library()}", f"-Wl,-rpath,{lib}",
            "-pthread", "-ldl", "-o", str(program),
        ],
        check=True,
    )  # fmt: skip
    return program


def main(argv=None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        program = build(args, Path(tmp))
        print(f"| offset | mode | H | N | µs a step, {args.base} → work tree | base/head |")
        print("|---:|---|---:|---:|---|---:|")
        for offset in ints(args.offsets):
            for mode in args.modes.split(","):
                for H in ints(args.hidden):
                    for N in ints(args.batch):
                        cmd = [str(program), mode, str(H), str(N), str(offset), str(args.rounds)]
                        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
                        base, head = (float(v) for v in out.stdout.split())
                        print(
                            f"| {offset} | {mode} | {H} | {N} | {base:.3g} → {head:.3g} "
                            f"| {base / head:.2f}x |"
                        )


if __name__ == "__main__":
    main()
