"""Concurrency and leaks: many Python threads training separate or shared layers and cells, and
reading word2vec vectors, get the single-thread results; training word2vec while other threads
read its vectors never crashes; 10,000 forward/backward calls keep resident memory flat.

Shared objects: each thread's forward is paired with that thread's backward (the training state
is per thread), and backward calls of one object accumulate into its grads one at a time, so the
grads end as the sum of every thread's contribution."""

import os
import subprocess
import sys
import threading

import fastrnn
import numpy as np
import pytest
from fastrnn import _C
from fastrnn import functional as F
from reference import assert_close, make_params

THREADS = 8


def run_threads(target, args_list):
    errors = []

    def wrapped(*args):
        try:
            target(*args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=a) for a in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def data(k, T=7, N=5, I=6, dtype=np.float64):
    rng = np.random.default_rng(100 + k)
    x = rng.standard_normal((T, N, I)).astype(dtype)
    lengths = rng.integers(1, T + 1, size=N)
    return x, lengths


def test_separate_layers_in_many_threads_give_the_single_thread_results():
    def train(k):
        layer = fastrnn.LSTM(6, 9, num_layers=2, bidirectional=True, seed=k)
        x, lengths = data(k, dtype=np.float32)
        y, state = layer.forward(x, lengths=lengths)
        dx, dhx = layer.backward(np.ones_like(y))
        return y, state, dx, dhx, layer.grads

    expected = [train(k) for k in range(THREADS)]
    got = [None] * THREADS

    def work(k):
        for _ in range(3):
            got[k] = train(k)

    run_threads(work, [(k,) for k in range(THREADS)])
    for k in range(THREADS):
        for a, b in zip(got[k], expected[k], strict=True):
            assert_close(a, b, 0, 0, what=f"thread {k}")


@pytest.mark.parametrize("cls", [fastrnn.GRU, fastrnn.LSTM, fastrnn.RNN])
def test_a_shared_layer_trained_from_many_threads(cls):
    shared = cls(6, 9, bidirectional=True, seed=1, dtype=np.float64)
    single = {}
    total = {k: np.zeros_like(v) for k, v in shared.grads.items()}
    for k in range(THREADS):
        x, lengths = data(k)
        shared.zero_grad()
        y, _ = shared.forward(x, lengths=lengths)
        dx, _ = shared.backward(np.cos(y))
        single[k] = (y, dx)
        for name, g in shared.grads.items():
            total[name] += g
    shared.zero_grad()
    got = {}

    def work(k):
        x, lengths = data(k)
        y, _ = shared.forward(x, lengths=lengths)
        dx, _ = shared.backward(np.cos(y))
        got[k] = (y, dx)

    run_threads(work, [(k,) for k in range(THREADS)])
    for k in range(THREADS):
        assert_close(got[k], single[k], 0, 0, what=f"thread {k}")
    assert_close(shared.grads, total, 1e-12, 1e-12, what="accumulated grads")


def test_a_shared_cell_driven_from_many_threads():
    cell = fastrnn.LSTMCell(6, 9, seed=2, dtype=np.float64)

    def drive(k):
        x, _ = data(k)
        state, states = None, []
        for t in range(x.shape[0]):
            state = cell.forward(x[t], state)
            states.append(state)
        dxs = []
        d = (np.ones_like(state[0]), None)
        for _ in range(x.shape[0]):
            dx, d = cell.backward(d)
            dxs.append(dx)
        return states, dxs, cell.step(x[0])

    expected = [drive(k) for k in range(THREADS)]
    got = [None] * THREADS

    def work(k):
        got[k] = drive(k)

    run_threads(work, [(k,) for k in range(THREADS)])
    for k in range(THREADS):
        assert_close(list(got[k][0]), list(expected[k][0]), 0, 0)
        assert_close(list(got[k][1]), list(expected[k][1]), 0, 0)
        assert_close(got[k][2], expected[k][2], 0, 0)


def test_functional_calls_on_shared_parameters_from_many_threads():
    params = make_params("gru", 6, 11, rng=np.random.default_rng(3), dtype=np.float32)
    for p in params.values():
        p.setflags(write=False)

    def call(k):
        x, lengths = data(k, dtype=np.float32)
        y, _, ctx = F.forward("gru", x, params, None, lengths, reverse=k % 2 == 1)
        dx, _, grads = F.backward(ctx, np.ones_like(y))
        return y, dx, grads

    expected = [call(k) for k in range(THREADS)]
    got = [None] * THREADS

    def work(k):
        for _ in range(5):
            got[k] = call(k)

    run_threads(work, [(k,) for k in range(THREADS)])
    for k in range(THREADS):
        assert_close(got[k], expected[k], 0, 0, what=f"thread {k}")


# ---- word2vec ----


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    return [list(rng.choice(words, size=12)) for _ in range(400)]


def test_word2vec_lookups_from_many_threads_give_the_single_thread_results(corpus):
    model = fastrnn.Word2Vec(corpus, vector_size=16, min_count=1, workers=1, epochs=2, seed=5)
    wv = model.wv
    keys = wv.index_to_key[:20]

    def queries():
        return (
            [wv.most_similar(k, topn=5) for k in keys],
            [wv.similarity(keys[0], k) for k in keys],
            wv[keys].copy(),
            wv.most_similar(positive=keys[:2], negative=keys[2:3], topn=3),
        )

    expected = queries()
    got = [None] * THREADS

    def work(k):
        for _ in range(3):
            got[k] = queries()

    run_threads(work, [(k,) for k in range(THREADS)])
    for k in range(THREADS):
        assert got[k][0] == expected[0] and got[k][1] == expected[1] and got[k][3] == expected[3]
        np.testing.assert_array_equal(got[k][2], expected[2])


def test_reading_vectors_while_word2vec_trains_never_crashes(corpus):
    model = fastrnn.Word2Vec(vector_size=16, min_count=1, workers=2, seed=5)
    model.build_vocab(corpus)
    keys = model.wv.index_to_key[:10]
    done = threading.Event()
    seen = []

    def train():
        try:
            model.train(corpus * 60, total_examples=len(corpus) * 60, epochs=4)
        finally:
            done.set()

    def read():
        while not done.is_set():
            v = model.wv[keys]  # [10, 16]: the shared array as training leaves it right now
            assert v.shape == (10, 16)
            model.wv.most_similar(keys[0], topn=3)
            model.wv.similarity(keys[1], keys[2])
            seen.append(np.isfinite(v).all())

    run_threads(lambda f: f(), [(train,), (read,), (read,), (read,)])
    assert len(seen) >= 3 and all(seen)
    assert np.isfinite(model.wv.vectors).all()


# ---- leaks ----


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_ten_thousand_forward_backward_calls_keep_memory_flat():
    lstm = fastrnn.LSTM(8, 16, seed=0)
    cell = fastrnn.GRUCell(8, 16, seed=0)
    params = make_params("gru", 8, 16, rng=np.random.default_rng(0), dtype=np.float32)
    x = np.random.default_rng(1).standard_normal((5, 4, 8)).astype(np.float32)
    lengths = np.array([5, 3, 1, 4])

    def calls(n):  # n rounds of 3 forward/backward pairs and a step
        for _ in range(n):
            y, _ = lstm.forward(x, lengths=lengths)
            lstm.backward(y)
            y, _, ctx = F.forward("gru", x, params, None, lengths)
            F.backward(ctx, y)
            cell.step(x[0])
            cell.forward(x[0])
            cell.backward(np.ones((4, 16), np.float32))

    calls(300)  # warm up: arenas, caches, the thread pool
    before = resident_bytes()
    calls(3_400)  # 10,200 forward/backward pairs
    growth = resident_bytes() - before
    assert growth < 8 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB"


def test_shared_nn_modules_pair_each_threads_forward_with_its_backward():
    """Thread A's forward, then thread B's forward, then A's backward: A's backward must use what
    A's forward kept (every fastrnn.nn module keeps it per thread), not B's."""
    from fastrnn import nn

    rng = np.random.default_rng(0)
    linear = nn.Linear(3, 2, seed=0, dtype=np.float64)
    embedding = nn.Embedding(7, 3, seed=0, dtype=np.float64)
    loss = nn.SoftmaxCrossEntropy()
    dropout = nn.Dropout(0.5, seed=0)
    recurrent = nn.Recurrent(fastrnn.GRU(3, 4, seed=0, dtype=np.float64), output="last")
    inputs = {
        "A": (rng.standard_normal((4, 3)), np.array([1, 2, 3]), rng.standard_normal((2, 5))),
        "B": (rng.standard_normal((6, 3)), np.array([4, 5]), rng.standard_normal((3, 5))),
    }
    targets = {"A": np.array([0, 1]), "B": np.array([2, 3, 4])}
    forwarded, done = threading.Event(), threading.Event()
    got = {}

    def thread(name, first):
        x, ids, logits = inputs[name]
        if not first:
            forwarded.wait(timeout=60)
        linear(x)
        embedding(ids)
        loss(logits, targets[name])
        y = dropout(x)
        recurrent(x[:, None, :].repeat(2, axis=1))
        if first:
            forwarded.set()
            done.wait(timeout=60)
        else:
            done.set()
            return
        got["dx"] = linear.backward(np.ones((4, 2)))
        embedding.backward(np.ones((3, 3)))
        got["dlogits"] = loss.backward()
        got["dropout"] = (y, x, dropout.backward(np.ones_like(x)))
        got["recurrent_dx"] = recurrent.backward(np.ones((2, 4)))

    run_threads(thread, [("A", True), ("B", False)])
    x, ids, logits = inputs["A"]
    assert_close(got["dx"], np.ones((4, 2)) @ linear.params["weight"], 1e-12, 1e-12)
    assert_close(linear.grads["weight"], np.ones((2, 4)) @ x, 1e-12, 1e-12, what="dW")
    assert np.array_equal(embedding.grads["weight"].indices, ids)
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probabilities[np.arange(2), targets["A"]] -= 1
    assert_close(got["dlogits"], probabilities / 2, 1e-12, 1e-12, what="dlogits")
    y, x_in, dx = got["dropout"]
    assert_close(dx * x_in, y, 1e-12, 1e-12, what="dropout mask")  # dx is A's scaled mask
    assert got["recurrent_dx"].shape == (4, 2, 3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fastrnn.GRU(3, 4, num_layers=2, seed=0),
        lambda: fastrnn.LSTMCell(3, 4, seed=0),
        lambda: fastrnn.nn.Sequential(
            fastrnn.nn.Recurrent(fastrnn.LSTM(3, 4, seed=0)),
            fastrnn.nn.Dropout(0.5, seed=1),
            fastrnn.nn.Linear(4, 2, seed=2),
        ),
    ],
)
def test_copies_and_pickles_compute_like_the_original(make):
    """copy.deepcopy and a pickle round trip give objects that run (the unpickled arrays' dtype
    objects are equal to, not the same object as, numpy's float32) and compute the same."""
    import copy
    import pickle

    original = make()
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    step = isinstance(original, fastrnn.LSTMCell)

    def run(m):
        if step:
            return m.forward(x[0])[0]
        out = m.forward(x)
        return out[0] if isinstance(out, tuple) else out

    want = run(copy.deepcopy(original))
    for clone in (copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        np.testing.assert_array_equal(run(clone), want)


def test_a_finished_threads_forward_is_not_handed_to_a_later_thread():
    """Thread ids are reused: a thread that starts after one whose forward had no backward (often
    with the same id) has no step of its own to differentiate, and the step is freed."""
    import gc
    import weakref

    layer = fastrnn.LSTM(3, 4, seed=0)
    x = np.ones((2, 1, 3), np.float32)
    idents, kept = [], []

    def forward_only():
        idents.append(threading.get_ident())
        layer.forward(x, training=True)
        contexts = layer._thread_state()[0]  # one functional.Context per layer and direction
        kept.extend(weakref.ref(context) for context in contexts)

    def backward_only():
        idents.append(threading.get_ident())
        with pytest.raises(RuntimeError, match="call forward"):
            layer.backward(np.ones((2, 1, 4), np.float32))

    for _ in range(3):
        run_threads(forward_only, [()])
        gc.collect()
        assert kept and all(ref() is None for ref in kept), "a dead thread's forward was kept"
        kept.clear()
        run_threads(backward_only, [()])
    assert len(set(idents)) < len(idents)  # ids were reused, so the check above meant something


@pytest.fixture
def on_the_pool():
    """fastrnn's own pool runs the parallel work (not torch's OpenMP threads, which an import of
    fastrnn.torch anywhere in the session switches to) while the test runs."""
    runtime = _C.openmp_runtime()
    _C.use_openmp_runtime("")
    yield
    assert _C.use_openmp_runtime(runtime)


FORK_CHILD = """
import multiprocessing as mp
import sys

import fastrnn
import numpy as np


def run(q=None):
    layer = fastrnn.LSTM(64, 256, seed=0)  # 64 rows: the time loop splits the batch among threads
    y, _ = layer.forward(np.ones((20, 64, 64), np.float32), training=False)
    if q is None:
        return y
    q.put(y)


if __name__ == "__main__":
    fastrnn.set_num_threads(2)
    expected = run()  # the pool's workers now run in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    child = ctx.Process(target=run, args=(q,))
    child.start()
    try:
        y = q.get(timeout=60)  # (before join: a child exits only once its queue is read)
    except Exception:
        child.kill()
        sys.exit("the forked child hung in fastrnn's thread pool")
    child.join(60)
    assert child.exitcode == 0, child.exitcode
    assert np.array_equal(y, expected)
    assert fastrnn.get_num_threads() == 2
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_child_forked_after_the_pool_started_runs_the_kernels(tmp_path):
    # multiprocessing's fork start method (Linux's default before Python 3.14): the child has
    # only the forking thread, so it must not wait for the parent's pool workers.
    script = tmp_path / "fork_child.py"
    script.write_text(FORK_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_set_num_threads_waits_for_a_running_kernel_without_the_gil(on_the_pool):
    """set_num_threads waits for another thread's parallel region to end (it resizes the pool);
    meanwhile other Python threads keep running."""
    import time

    previous = fastrnn.get_num_threads()
    fastrnn.set_num_threads(2)
    layer = fastrnn.LSTM(512, 512, seed=0)  # about 0.4 s: 160 GFLOP in one parallel region
    x = np.random.default_rng(0).standard_normal((600, 64, 512)).astype(np.float32)
    layer.forward(x[:2], training=False)  # warm up
    started, resizing = threading.Event(), threading.Event()
    timing = {}

    def run_kernel():
        started.set()
        layer.forward(x, training=False)  # one parallel region for the whole sequence

    def resize():
        started.wait()
        time.sleep(0.02)  # the kernel is inside its region by now
        resizing.set()
        t0 = time.perf_counter()
        fastrnn.set_num_threads(2)
        timing["resize"] = time.perf_counter() - t0
        resizing.clear()

    threads = [threading.Thread(target=run_kernel), threading.Thread(target=resize)]
    for t in threads:
        t.start()
    resizing.wait()
    ticks = 0
    while resizing.is_set():
        ticks += 1
        time.sleep(0.001)
    for t in threads:
        t.join()
    fastrnn.set_num_threads(previous)
    if timing["resize"] < 0.1:
        pytest.skip(f"the kernel ended before set_num_threads waited ({timing['resize']:.3f} s)")
    assert ticks >= 20, f"{ticks} ticks while set_num_threads waited {timing['resize']:.2f} s"


THREAD_LIMIT_CHILD = """
import re, resource, sys
import numpy as np
import fastrnn

layer = fastrnn.LSTM(64, 64, seed=0)
x = np.random.default_rng(0).standard_normal((20, 64, 64)).astype(np.float32)
fastrnn.set_num_threads(1)
expected, _ = layer.forward(x, training=False)
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
# 40 MiB more address space: room for a few threads' stacks, not for 4096.
resource.setrlimit(resource.RLIMIT_AS, (vm + (40 << 20), resource.RLIM_INFINITY))
try:
    fastrnn.set_num_threads(4096)
except RuntimeError as e:
    message = str(e)
else:
    sys.exit("set_num_threads(4096) did not fail under the limit")
# The pool's state is what is tested: the limit off again, the kernels (and OpenBLAS, which
# exits when its per-thread buffers cannot be mapped) run unconstrained.
resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
match = re.fullmatch(
    r"set_num_threads\\(4096\\): the system refused to start more than (\\d+) threads; "
    r"fastrnn runs with \\1",
    message,
)
assert match, message
started = int(match.group(1))
assert 1 <= started < 4096 and fastrnn.get_num_threads() == started, message
y, _ = layer.forward(x, training=False)  # every chunk of the smaller pool runs
assert np.array_equal(y, expected)
fastrnn.set_num_threads(2)
y, _ = layer.forward(x, training=False)
assert np.array_equal(y, expected) and fastrnn.get_num_threads() == 2
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced on Linux")
def test_set_num_threads_beyond_what_the_system_allows_keeps_the_threads_it_started(tmp_path):
    """A thread the system refuses to start (a memory or process limit) is a RuntimeError saying
    how many threads fastrnn runs with; get_num_threads reports them and they compute as a whole
    pool. Before, the error was the bare "Resource temporarily unavailable" and the pool kept the
    workers it had started while get_num_threads and the pool's size still said the old count."""
    script = tmp_path / "thread_limit_child.py"
    script.write_text(THREAD_LIMIT_CHILD)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


THREAD_VARIABLES = ("FASTRNN_NUM_THREADS", "OMP_NUM_THREADS")  # when set, the default is theirs


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs sched_setaffinity and two CPUs this process may run on",
)
def test_default_thread_count_is_the_cpus_the_process_may_run_on():
    """A process confined to some CPUs (taskset, a container's cpuset, a job scheduler) runs as
    many threads by default as it has CPUs there, as torch.get_num_threads() and os.cpu_count()'s
    affinity-aware cousins do. Before, it started one per CPU of the machine: confined to one of
    two CPUs, two spinning threads shared it and a forward took 2.3x the one-thread time. So do
    Word2Vec's default workers (they were os.cpu_count(), the machine's)."""
    code = (
        "import os; cpu = sorted(os.sched_getaffinity(0))[0]; os.sched_setaffinity(0, {cpu})\n"
        "import fastrnn; print(fastrnn.get_num_threads(), fastrnn.Word2Vec().workers)"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["1", "1"]


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"OMP_NUM_THREADS": "1"}, "1"),  # as torchrun sets it for several processes a node
        ({"OMP_NUM_THREADS": "3,1"}, "3"),  # OpenMP's nested list: its first value
        ({"FASTRNN_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, "3"),
        ({"OMP_NUM_THREADS": "0"}, None),  # not a count: the usable CPUs
        ({"OMP_NUM_THREADS": "many"}, None),
    ],
)
def test_default_thread_count_follows_fastrnn_num_threads_then_omp_num_threads(variables, expected):
    """torch, oneDNN and the BLAS libraries take their default from OMP_NUM_THREADS, which
    torchrun sets to 1 when a node runs several processes; fastrnn's pool took every usable CPU
    whatever it said, so each process ran as many threads as the node has CPUs."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    code = "import fastrnn; print(fastrnn.get_num_threads(), fastrnn.Word2Vec().workers)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **variables},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert proc.stdout.split() == [expected or str(usable)] * 2  # the pool and word2vec's workers


def test_a_bad_fastrnn_num_threads_warns_at_import():
    env = {**os.environ, "FASTRNN_NUM_THREADS": "two"}
    code = "import warnings; warnings.simplefilter('error'); import fastrnn"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "FASTRNN_NUM_THREADS='two' is not a thread count in 1..4096: ignored" in proc.stderr
