"""What a build says and does about CUDA on any machine: show_config() reports it, a CUDA build
without a device behaves as a CPU build (fastrnn.torch's CUDA kernels report themselves
unavailable), and cuBLAS, loaded only at the GPU path's first use, fails with an error naming
what to install."""

import io
from pathlib import Path

import fastrnn
import pytest
from fastrnn import _C, _cuda
from fastrnn.torch import _ops


def test_show_config_reports_the_cuda_state():
    out = io.StringIO()
    fastrnn.show_config(file=out)
    line = next(s for s in out.getvalue().splitlines() if s.strip().startswith("cuda"))
    if not _C.cuda_compiled():
        assert "not compiled" in line
    elif _C.cuda_device_count() == 0:
        assert "0 device(s)" in line and "running as a CPU build" in line
    else:
        assert f"{_C.cuda_device_count()} device(s)" in line


@pytest.mark.skipif(_C.cuda_compiled() and _C.cuda_device_count() > 0, reason="a GPU is present")
def test_without_a_device_cuda_kernels_are_unavailable():
    assert not _ops.cuda_kernels_available()


@pytest.mark.skipif(_C.cuda_compiled(), reason="this build has CUDA kernels")
def test_cpu_build_refuses_cuda_calls_clearly():
    with pytest.raises(RuntimeError, match="no CUDA kernels"):
        _cuda.load_cublas()


@pytest.mark.skipif(not _C.cuda_compiled(), reason="this build has no CUDA kernels")
def test_missing_cublas_names_the_package(monkeypatch):
    if _C.cuda_cublas_path():
        pytest.skip("cuBLAS is already loaded in this process")
    monkeypatch.setattr(_cuda, "cublas_candidates", lambda: ["/nonexistent/libcublas.so.13"])
    with pytest.raises(RuntimeError, match="pip install nvidia-cublas") as err:
        _cuda.load_cublas()
    assert "/nonexistent/libcublas.so.13" in str(err.value)
    assert _C.cuda_cublas_path() == ""


@pytest.mark.skipif(not _C.cuda_compiled(), reason="this build has no CUDA kernels")
def test_cublas_loader_resolves_its_entry_points_from_the_wheel():
    """With the nvidia-cublas wheel installed, the loader opens it and finds every entry point it
    declares (no GPU needed for that); loading again returns the same library."""
    wheel = [c for c in _cuda.cublas_candidates() if Path(c).is_file()]
    if not wheel and not _C.cuda_cublas_path():
        pytest.skip("the nvidia-cublas wheel is not installed")
    loaded = _cuda.load_cublas()
    assert Path(loaded).name == "libcublas.so.13"
    assert _C.cuda_cublas_path() == loaded
    assert _cuda.load_cublas() == loaded
