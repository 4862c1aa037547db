"""The C++ core under AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer: configures
and builds the project with FASTRNN_SANITIZE=ON in a temporary directory (the core plus
tests/native/native_test.cpp, no Python extension) and runs the native test program on each CPU
kernel path. Any sanitizer finding aborts the program, and so fails the test.

The build takes a few minutes on two cores, so it runs only when FASTRNN_SANITIZE_TESTS=1
(.ci/run sets it in a step of its own after the README's test command)."""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(
    os.environ.get("FASTRNN_SANITIZE_TESTS") != "1",
    reason="the sanitizer build takes minutes: set FASTRNN_SANITIZE_TESTS=1 (.ci/run does)",
)

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:strict_string_checks=1:"
    "detect_stack_use_after_return=1:check_initialization_order=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


@pytest.fixture(scope="module")
def native_test_program(tmp_path_factory):
    if shutil.which("cmake") is None:
        pytest.fail("cmake is needed for the sanitizer build")
    build = tmp_path_factory.mktemp("sanitize")
    configure = [
        "cmake",
        "-S",
        ROOT,
        "-B",
        str(build),
        "-DFASTRNN_SANITIZE=ON",
        "-DFASTRNN_CUDA=OFF",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    for cmd in (configure, ["cmake", "--build", str(build), "--parallel", "2"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
        assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return build / "fastrnn_native_test"


@pytest.mark.parametrize("isa", ["native", "avx2", "generic"])
def test_native_program_is_clean_under_sanitizers(native_test_program, isa, tmp_path):
    env = dict(os.environ, **SANITIZER_ENV)
    env.pop("LD_PRELOAD", None)
    if isa != "native":
        env["FASTRNN_ISA"] = isa
    out = subprocess.run(
        [str(native_test_program), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    report = out.stdout[-6000:] + out.stderr[-6000:]
    assert out.returncode == 0, report
    assert "OK: 0 failure(s)" in out.stdout, report
    assert "Sanitizer" not in out.stderr, report
