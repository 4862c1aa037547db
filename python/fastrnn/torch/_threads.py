"""fastrnn's kernels on torch's OpenMP threads.

torch's OpenMP threads spin for milliseconds after each of torch's parallel ops (libgomp's default
wait policy), so in a training loop fastrnn's own pool would start every layer call while they
still hold the cores: its threads then shared two cores with a spinning one, and a torch training
loop with `fastrnn.torch.LSTM` ran at about half of torch.nn.LSTM's speed (2 threads). Run on
torch's OpenMP runtime instead, the spinning threads take fastrnn's work at once (when fastrnn's
thread count is torch's: another team size would make libgomp start and end threads at each
switch, and it exits the process when it cannot start one).
"""

from __future__ import annotations

import os

import torch

from fastrnn import _C, _config


def openmp_library_candidates() -> list[str]:
    """Where torch's OpenMP runtime may be found: through libtorch_cpu itself (its entry points
    looked up there resolve to the runtime torch links, whatever its file is called), else
    beside libtorch (pip wheels bundle libgomp) or the system's (conda and distribution builds
    link it); empty when torch's threads are not OpenMP's."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return []
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    return [os.path.join(lib, "libtorch_cpu.so"), os.path.join(lib, "libgomp.so.1"), "libgomp.so.1"]


def share_torch_threads() -> bool:
    """Runs fastrnn's parallel work on torch's OpenMP threads when their runtime is loaded (GNU
    libgomp's entry points); returns whether it does. A call uses them when torch's team on the
    calling thread has fastrnn.get_num_threads() threads (torch.set_num_threads sets it), else
    fastrnn's own pool, as before the import."""
    return any(_C.use_openmp_runtime(path) for path in openmp_library_candidates())


def follow_torch_thread_count() -> None:
    """Makes fastrnn's thread count torch's when torch's is lower and the user has not chosen
    fastrnn's (set_num_threads, FASTRNN_NUM_THREADS). By default torch counts physical cores and
    fastrnn logical CPUs, which differ on a machine with SMT, and the kernels run on torch's
    threads only when the two counts are equal. (Never higher: torch's count ignores the CPUs
    this process may use, fastrnn's does not.)"""
    if not _config.thread_count_chosen() and torch.get_num_threads() < _C.get_num_threads():
        _C.set_num_threads(torch.get_num_threads())
