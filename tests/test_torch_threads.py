"""fastrnn.torch runs fastrnn's parallel work on torch's OpenMP threads (fastrnn/torch/_threads.py).

Importing fastrnn.torch points the C++ core at torch's OpenMP runtime (GNU libgomp), whose threads
then take turns with torch's ops instead of fastrnn's pool competing with them for the cores. The
work is split as on the pool (by the thread count only), so results are bit-identical on either;
a forked child goes back to a pool of its own (libgomp's threads stay in the parent).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import fastrnn  # noqa: E402
import fastrnn.torch  # noqa: E402, F401
from _bench_scripts import import_bench_script  # noqa: E402
from fastrnn import _C  # noqa: E402
from fastrnn.torch._threads import openmp_library_candidates  # noqa: E402

pytestmark = pytest.mark.skipif(
    not openmp_library_candidates(), reason="torch's parallel backend is not OpenMP"
)


@pytest.fixture
def two_threads():
    previous = fastrnn.get_num_threads()
    fastrnn.set_num_threads(2)
    yield
    fastrnn.set_num_threads(previous)


@pytest.fixture
def restores_runtime():
    runtime = _C.openmp_runtime()
    yield
    assert _C.use_openmp_runtime(runtime)


def test_importing_fastrnn_torch_runs_the_kernels_on_torchs_openmp_threads():
    # found through libtorch_cpu, whose lookups resolve to the OpenMP runtime torch links
    assert os.path.basename(_C.openmp_runtime()) == "libtorch_cpu.so"
    assert "torch's OpenMP threads" in fastrnn._config.config()["threads_runtime"]


def test_a_runtime_that_is_not_loaded_is_refused(restores_runtime):
    before = _C.openmp_runtime()
    assert _C.use_openmp_runtime("/nonexistent/libgomp.so.1") is False
    assert _C.openmp_runtime() == before
    assert _C.use_openmp_runtime("") is True
    assert _C.openmp_runtime() == ""


def train_step(mode, T, N, I, H, seed=0):  # noqa: E741
    """y, final state, dx and every gradient of one training step. x: [T,N,I]."""
    cls = {"lstm": fastrnn.LSTM, "gru": fastrnn.GRU, "rnn_tanh": fastrnn.RNN}[mode]
    layer = cls(I, H, num_layers=2, bidirectional=True, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, I), dtype=np.float32)
    lengths = rng.integers(1, T + 1, size=N)
    y, state = layer.forward(x, lengths=lengths)
    dx, _ = layer.backward(rng.standard_normal(y.shape, dtype=np.float32))
    states = state if isinstance(state, tuple) else (state,)
    return [y, *states, dx, *(layer.grads[k] for k in sorted(layer.grads))]


# Batches that the time loop runs on one thread, splits by rows, or splits by unit blocks, and a
# few-row batch (its small-batch path).
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize(
    "T,N,I,H", [(7, 3, 5, 8), (9, 64, 24, 64), (5, 8, 40, 300), (6, 2, 16, 96)]
)
def test_the_layers_give_the_same_bits_on_either_runtime(
    mode,
    T,
    N,
    I,
    H,
    two_threads,
    restores_runtime,  # noqa: E741
):
    runtime = _C.openmp_runtime()
    on_openmp = train_step(mode, T, N, I, H)
    assert _C.use_openmp_runtime("")
    on_pool = train_step(mode, T, N, I, H)
    assert _C.use_openmp_runtime(runtime)
    assert len(on_openmp) == len(on_pool)
    for a, b in zip(on_openmp, on_pool, strict=True):
        np.testing.assert_array_equal(a, b)


FORK_CHILD = """
import os, sys
import numpy as np
import torch
import fastrnn
import fastrnn.torch
from fastrnn import _C

fastrnn.set_num_threads(2)
torch.set_num_threads(2)
assert _C.openmp_runtime(), "fastrnn.torch did not take torch's OpenMP runtime"
layer = fastrnn.LSTM(64, 256, seed=0)  # 64 rows: the time loop splits them among threads
x = np.ones((20, 64, 64), np.float32)
expected, _ = layer.forward(x, training=False)  # libgomp's threads now run in the parent
torch.ones(1 << 20).add_(1)
pid = os.fork()
if pid == 0:
    y, _ = layer.forward(x, training=False)
    os._exit(0 if np.array_equal(y, expected) and _C.openmp_runtime() == "" else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_after_torchs_threads_ran_the_kernels_runs_them(tmp_path):
    # The child has only the forking thread: libgomp would wait for its parent's threads forever.
    script = tmp_path / "fork_child.py"
    script.write_text(FORK_CHILD)
    try:
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child hung in the OpenMP runtime")
    assert proc.returncode == 0, proc.stderr[-2000:]


TEAM_SIZES_CHILD = """
import os, sys
import numpy as np
import torch
import fastrnn, fastrnn.torch

fastrnn.set_num_threads(2)
torch.set_num_threads(int(sys.argv[1]))
layer = fastrnn.LSTM(64, 256, seed=0)
x = np.ones((10, 64, 64), np.float32)
a = torch.ones(1 << 20)
seen = set()
for _ in range(100):
    a.mul_(1.0001)  # one of torch's parallel ops, on its team
    seen |= set(os.listdir("/proc/self/task"))
    layer.forward(x, training=False)
    seen |= set(os.listdir("/proc/self/task"))
print(len(seen))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_a_team_size_other_than_torchs_runs_on_the_pool_without_thread_churn(tmp_path):
    """With torch at 3 threads and fastrnn at 2 (torch counts physical cores, fastrnn logical
    CPUs: they differ on any machine with SMT), fastrnn's calls run on its pool; before, each one
    asked libgomp for a team of 2, which ended torch's third thread, and torch's next op started
    a new one: about two hundred thread ids over 100 alternations, against a handful now."""
    script = tmp_path / "team_sizes_child.py"
    script.write_text(TEAM_SIZES_CHILD)
    for torch_threads in (2, 3):
        proc = subprocess.run(
            [sys.executable, str(script), str(torch_threads)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert int(proc.stdout) <= 10, (torch_threads, proc.stdout)


MORE_THREADS_CHILD = """
import os
import numpy as np
import torch
import fastrnn, fastrnn.torch

torch.set_num_threads(2)
torch.ones(1 << 20).add_(1)  # torch's team of 2 exists
fastrnn.set_num_threads(24)  # the pool starts 23 workers
layer = fastrnn.LSTM(64, 256, seed=0)
layer.forward(np.ones((20, 64, 64), np.float32), training=False)
print(len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_more_threads_than_torchs_team_run_on_the_pool_alone(tmp_path):
    """fastrnn.set_num_threads(24) with torch's team at 2: the calls run on the pool's 24 threads
    and libgomp starts none for them (28 threads in all here). Before, libgomp was asked for a
    team of 24 besides the pool's 23 workers (42 here): under a memory or process limit it exits
    the process when it cannot start one ('libgomp: Thread creation failed', status 1), where the
    pool raises a RuntimeError saying how many it started."""
    script = tmp_path / "more_threads_child.py"
    script.write_text(MORE_THREADS_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) <= 35, proc.stdout  # 28 here now, 42 before


FOLLOW_CHILD = """
import sys
import torch
import fastrnn

torch.set_num_threads(int(sys.argv[1]))  # as on a machine with SMT: fewer than fastrnn's
if sys.argv[2] == "chosen":
    fastrnn.set_num_threads(2)
import fastrnn.torch

print(fastrnn.get_num_threads())
"""


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="counts usable CPUs")
@pytest.mark.parametrize(
    "torch_threads, how, env, expected",
    [
        ("1", "default", {}, "1"),  # follows torch's lower count (the pool ran the kernels)
        ("more", "default", {}, "usable"),  # never raised above the CPUs fastrnn may use
        ("1", "chosen", {}, "2"),  # set_num_threads before the import is kept
        ("1", "default", {"FASTRNN_NUM_THREADS": "2"}, "2"),  # and so is the variable
    ],
)
def test_fastrnn_torch_makes_the_default_thread_count_torchs_lower_one(
    tmp_path, torch_threads, how, env, expected
):
    """By default torch counts physical cores and fastrnn logical CPUs, so on a machine with SMT
    the counts differed and the kernels never ran on torch's threads (where a training loop is
    about twice as fast) unless the user set fastrnn's count to torch's."""
    usable = len(os.sched_getaffinity(0))
    if usable < 2:
        pytest.skip("needs at least 2 usable CPUs")
    counts = {"1": "1", "2": "2", "more": str(usable + 1), "usable": str(usable)}
    script = tmp_path / "follow_child.py"
    script.write_text(FOLLOW_CHILD)
    unset = ("FASTRNN_NUM_THREADS", "OMP_NUM_THREADS")
    variables = {k: v for k, v in os.environ.items() if k not in unset}
    proc = subprocess.run(
        [sys.executable, str(script), counts[torch_threads], how],
        capture_output=True,
        text=True,
        timeout=120,
        env={**variables, **env},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == counts[expected]


def test_the_training_loop_benchmark_runs_its_three_variants(capsys):
    """bench/torch_training_loop.py (BENCHMARKS.md's record of the above) at a tiny size."""
    script = import_bench_script("torch_training_loop")
    runtime = _C.openmp_runtime()
    script.main("--T 4 --N 2 --E 3 --H 5 --V 7 --rounds 2 --steps 1 --packed".split())
    assert _C.openmp_runtime() == runtime  # left as it found it
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names == ["torch.nn", "fastrnn.torch", "fastrnn.torch, own pool"]
