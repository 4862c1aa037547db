"""Requests too large for the core's index math (the BLAS's 32-bit extents, int64 element counts)
or for memory raise ValueError or MemoryError before anything is allocated — never a crash.
The sizes here are impossible to allocate, so a missing check would show as a crash or an
out-of-memory kill, not as a slow test."""

import subprocess
import sys

import fastrnn
import numpy as np
import pytest
from fastrnn import _C
from fastrnn import functional as F


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
def test_descriptions_beyond_32_bit_blas_extents_are_refused(mode):
    with pytest.raises(ValueError, match="hidden_size"):
        _C.RnnDesc(mode, 8, 2**31)
    with pytest.raises(ValueError, match="hidden_size"):
        _C.RnnDesc(mode, 8, 2**62)
    with pytest.raises(ValueError, match="input_size"):
        _C.RnnDesc(mode, 2**31, 8)


def test_gate_rows_beyond_32_bits_are_refused():
    _C.RnnDesc("rnn_tanh", 8, 2**30)  # 1 * H fits
    with pytest.raises(ValueError, match="hidden_size"):
        _C.RnnDesc("lstm", 8, 2**30)  # 4 * H does not


@pytest.mark.parametrize(
    "T, N",
    [(2**31, 1), (2**16, 2**16), (2**40, 2**40), (2**62, 2**62), (2**63 - 1, 2)],
)
def test_sequence_sizes_beyond_the_limits_are_refused(T, N):
    desc = _C.RnnDesc("lstm", 1000, 1000)
    with pytest.raises(ValueError, match="T\\*N|T and N"):
        _C.rnn_reserve_size(desc, T, N)


def test_element_counts_beyond_int64_safety_are_refused():
    desc = _C.RnnDesc("rnn_tanh", 2**31 - 1, 2**31 - 1)
    with pytest.raises(ValueError, match="2\\^58"):
        _C.rnn_reserve_size(desc, 2**20, 2**10)


@pytest.mark.parametrize("cls", [fastrnn.RNN, fastrnn.LSTM, fastrnn.GRU])
def test_layer_constructors_refuse_sizes_beyond_the_core(cls):
    with pytest.raises(ValueError, match="hidden_size"):
        cls(4, 2**31)
    with pytest.raises(ValueError, match="input_size"):
        cls(2**31, 4)
    with pytest.raises(ValueError, match="hidden_size"):
        cls(4, 2**62, num_layers=2)


@pytest.mark.parametrize("cls", [fastrnn.RNNCell, fastrnn.LSTMCell, fastrnn.GRUCell])
def test_cell_constructors_refuse_sizes_beyond_the_core(cls):
    with pytest.raises(ValueError, match="hidden_size"):
        cls(4, 2**31)


def test_layers_too_large_for_memory_raise_memory_error():
    # Within the BLAS's extents, but 2^50 parameters: numpy refuses the allocation.
    with pytest.raises(MemoryError):
        fastrnn.RNN(2**20, 2**30)


def test_functional_forward_with_a_huge_batch_view_is_refused_or_runs_out_of_memory():
    # A zero-stride view claims T*N = 2^33 rows of one feature without the memory behind it.
    x = np.broadcast_to(np.zeros((1, 1, 1), np.float32), (2**17, 2**16, 1))
    params = {"weight_ih": np.zeros((4, 1), np.float32), "weight_hh": np.zeros((4, 1), np.float32)}
    with pytest.raises((ValueError, MemoryError)):
        F.forward("lstm", x, params)


def test_core_refuses_huge_batches_before_allocating_outputs():
    desc = _C.RnnDesc("rnn_tanh", 1, 1)
    x = np.broadcast_to(np.zeros((1, 1, 1), np.float32), (2**17, 2**16, 1))
    w = np.zeros((1, 1), np.float32)
    with pytest.raises(ValueError, match="T\\*N"):
        _C.rnn_forward(desc, x, None, None, None, w, w, None, None, None, None, False, False)


def test_word2vec_sizes_beyond_memory_raise_before_training():
    with pytest.raises((ValueError, MemoryError)):
        fastrnn.Word2Vec([["a", "b"]] * 5, vector_size=2**40, min_count=1, epochs=1)
    with pytest.raises((ValueError, MemoryError)):
        fastrnn.KeyedVectors(2**62, count=2**10)


SCRATCH_AFTER_MEMORY_ERROR = """
import numpy as np
from fastrnn import functional as F

small = {"weight_ih": np.ones((8, 1), np.float32), "weight_hh": np.ones((8, 2), np.float32)}
x = np.ones((3, 2, 1), np.float32)
expected = F.forward("lstm", x, small, training=False)[0]
# An LSTM with a projection to one unit: small inputs and outputs, but an inference workspace
# (the input projection of every step, [T, N, 4 * H]) of 2^49 bytes, beyond any address space.
H = 2**24
huge = {
    "weight_ih": np.zeros((4 * H, 1), np.float32),
    "weight_hh": np.zeros((4 * H, 1), np.float32),
    "weight_hr": np.zeros((1, H), np.float32),
}
try:
    F.forward("lstm", np.zeros((2**19, 4, 1), np.float32), huge, training=False)
except MemoryError:
    pass
else:
    raise AssertionError("expected a MemoryError")
np.testing.assert_array_equal(F.forward("lstm", x, small, training=False)[0], expected)
"""


def test_a_workspace_too_large_for_memory_leaves_later_calls_working():
    # The per-thread scratch arena must not keep its old capacity after failing to grow (a later,
    # smaller call would then get no memory at all); in a subprocess, as that was a crash.
    proc = subprocess.run(
        [sys.executable, "-c", SCRATCH_AFTER_MEMORY_ERROR],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
