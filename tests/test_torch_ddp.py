"""fastrnn.torch under DistributedDataParallel: 2 processes, gloo on 127.0.0.1, a few SGD steps.

Each process trains the same tiny model (seeded alike) on its own data shard, once with
fastrnn.torch modules and once with torch.nn's; the replicas must end identical, and the fastrnn
run must equal the torch.nn run (float32, 1e-4 relative).
"""

import os
import socket
import time

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

WORLD, STEPS, TIMEOUT = 2, 3, 120
T, N, I, H = 6, 4, 3, 8  # noqa: E741

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="torch.distributed with gloo is not available",
)


class Model(torch.nn.Module):
    def __init__(self, nn):
        super().__init__()
        self.rnn = nn.LSTM(I, H, num_layers=2, batch_first=True, bidirectional=True)
        self.cell = nn.GRUCell(2 * H, H)
        self.head = torch.nn.Linear(H, 1)

    def forward(self, x):  # x: [N,T,I] -> [N]
        y, _ = self.rnn(x)
        return self.head(self.cell(y[:, -1])).squeeze(1)


def _worker(rank, port, out_dir):
    import fastrnn
    import fastrnn.torch as ft

    torch.set_num_threads(1)
    fastrnn.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        for tag, nn in (("fastrnn", ft), ("torch", torch.nn)):
            torch.manual_seed(0)  # the same initial model in every process and both runs
            model = torch.nn.parallel.DistributedDataParallel(Model(nn))
            opt = torch.optim.SGD(model.parameters(), lr=0.5)
            data = torch.Generator().manual_seed(100 + rank)  # each process its own shard
            for _ in range(STEPS):
                x = torch.randn(N, T, I, generator=data)
                target = torch.randn(N, generator=data)
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), target).backward()
                opt.step()
            torch.save(model.module.state_dict(), f"{out_dir}/{tag}_{rank}.pt")
    except BaseException:
        dist.destroy_process_group()
        raise
    # The results are on disk. Leave without torch's teardown of the gloo group, which can
    # deadlock at exit (seen about one run in five here): the main thread, holding the GIL, joins a
    # gloo thread that is freeing its last work item and waits for the GIL.
    os._exit(0)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_replicas_identical_and_equal_to_torch_nn(tmp_path):
    ctx = mp.start_processes(
        _worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail(f"DDP workers did not finish within {TIMEOUT} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    runs = {
        (tag, r): torch.load(tmp_path / f"{tag}_{r}.pt")
        for tag in ("fastrnn", "torch")
        for r in range(WORLD)
    }
    torch.manual_seed(0)
    start = Model(torch.nn).state_dict()  # the initial parameters: training must move them
    assert list(runs["fastrnn", 0]) == list(start)
    assert not torch.equal(runs["fastrnn", 0]["rnn.weight_ih_l0"], start["rnn.weight_ih_l0"])
    for name, value in runs["fastrnn", 0].items():
        assert torch.equal(value, runs["fastrnn", 1][name]), f"replicas differ in {name}"
        assert torch.equal(runs["torch", 0][name], runs["torch", 1][name])
        torch.testing.assert_close(
            value, runs["torch", 0][name], rtol=1e-4, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}"
        )
