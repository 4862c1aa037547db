"""Tests of the CPU kernel paths and their threading: the fused float32 time loop (AVX-512, and
AVX2 forced with FASTRNN_ISA in a subprocess), the generic path (likewise) and the one-step cell
path agree with the float64 reference on shapes that exercise partial unit blocks and partial row
tiles; results do not depend on the thread count (threads splitting the batch or each step's unit
blocks); several Python threads may call the kernels at once. The kernel tests of this and other
files also run again under FASTRNN_ISA=avx2 (test_kernel_tests_pass_on_the_avx2_path)."""

import functools
import os
import platform
import shutil
import subprocess
import sys
import threading

import fastrnn
import numpy as np
import pytest
from _bench_scripts import import_bench_script
from fastrnn import _C
from fastrnn import functional as F
from fastrnn._aligned import aligned_copy
from reference import assert_close, make_params, reference_backward, reference_forward

# mode, peephole, clip, reset_after
PATH_VARIANTS = {
    "rnn_tanh": ("rnn_tanh", False, None, True),
    "rnn_relu": ("rnn_relu", False, None, True),
    "lstm": ("lstm", False, None, True),
    "lstm_peephole_clip": ("lstm", True, 0.6, True),
    "gru": ("gru", False, None, True),
    "gru_reset_before": ("gru", False, None, False),
}
# Not multiples of the 16-unit block or the row tile. With two threads, N=27 rows take the
# by-rows split of the float32 loop; RAGGED_BATCHES adds N=11, which takes the unit-block split
# (or one thread, where a step has too little work to share), and N=2, whose input products are
# all computed before the time loop.
T, N, I, H = 9, 27, 33, 70
RAGGED_BATCHES = [27, 11, 2]


def run_case(name, dtype, reverse, with_lengths, seed=0, N=N, H=H, I=I, T=T, training=True):
    """(ours, the float64 reference) of a forward and backward of variant `name` on drawn inputs
    (`training=False`: an inference forward, y and state alone)."""
    mode, peephole, clip, reset_after = PATH_VARIANTS[name]
    rng = np.random.default_rng(seed)
    params = make_params(mode, I, H, peephole=peephole, rng=rng)
    x = rng.standard_normal((T, N, I))
    h0 = rng.standard_normal((N, H))
    hx = (h0, rng.standard_normal((N, H))) if mode == "lstm" else h0
    dy = rng.standard_normal((T, N, H))
    lengths = rng.integers(1, T + 1, size=N) if with_lengths else None
    if with_lengths:
        lengths[:2] = [1, T]
    cast = {k: v.astype(dtype) for k, v in params.items()}
    cast_hx = tuple(a.astype(dtype) for a in hx) if mode == "lstm" else hx.astype(dtype)
    y, state, ctx = F.forward(
        mode,
        x.astype(dtype),
        cast,
        cast_hx,
        lengths,
        reverse=reverse,
        reset_after=reset_after,
        cell_clip=clip,
        training=training,
    )
    ry, rstate, cache = reference_forward(
        mode, x, params, hx, lengths, reverse=reverse, reset_after=reset_after, cell_clip=clip
    )
    if not training:
        return {"y": y, "state": state}, {"y": ry, "state": rstate}
    dx, dhx, grads = F.backward(ctx, dy.astype(dtype))
    ours = {"y": y, "state": state, "dx": dx, "dhx": dhx, "grads": grads}
    rdx, rdhx, rgrads = reference_backward(cache, dy)
    ref = {"y": ry, "state": rstate, "dx": rdx, "dhx": rdhx, "grads": rgrads}
    return ours, ref


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("n", RAGGED_BATCHES)
def test_float32_kernels_match_reference_on_ragged_shapes(name, reverse, with_lengths, n):
    ours, ref = run_case(name, np.float32, reverse, with_lengths, N=n)
    for key in ours:
        assert_close(ours[key], ref[key], 2e-4, 2e-5, what=key)


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize(
    ("n", "with_lengths"), [(1, False), (2, True), (17, False), (32, False), (32, True), (33, True)]
)
def test_one_training_step_matches_reference(name, n, with_lengths):
    """A one-step training forward (T = 1, a cell's training call) at up to 32 rows runs the step
    kernel, which writes the training reserve the layer's backward reads (33 rows: the BLAS
    products): outputs and every gradient close to the float64 reference, with or without
    lengths (all 1 at T = 1), from a given state; up to 32 rows the outputs are an inference
    call's bit for bit (GRU reset_after=False and the generic build: other paths)."""
    ours, ref = run_case(name, np.float32, False, with_lengths, seed=n, N=n, T=1)
    for key in ours:
        assert_close(ours[key], ref[key], 2e-4, 2e-5, what=key)
    if n <= 32 and _C.simd_level() != "generic" and PATH_VARIANTS[name][3]:
        inference, _ = run_case(
            name, np.float32, False, with_lengths, seed=n, N=n, T=1, training=False
        )
        np.testing.assert_array_equal(inference["y"], ours["y"])
        for got, want in zip(
            np.atleast_1d(inference["state"]), np.atleast_1d(ours["state"]), strict=True
        ):
            np.testing.assert_array_equal(got, want)


def fused_step_rows():
    """Rows from which a single inference step takes the fused loop on this CPU (33 with AVX-512,
    past the step kernel's 32; 128 with AVX2; the largest int64 without the fused kernels, where
    the cases below take 33 rows and check values only)."""
    rows = _C._rnn_cpu_fused_step_rows()
    expected = {"avx512": 33, "avx2": 128}.get(_C.simd_level(), 2**63 - 1)
    assert rows == expected
    return 33 if rows == 2**63 - 1 else rows


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize("extra", [0, 13])
def test_one_inference_step_of_many_rows_takes_the_fused_loop(name, extra):
    """A single step (a cell's step, T = 1) from fused_step_rows() rows on runs the fused float32
    loop in inference (packing the weights repays at such batches: past the step kernel's 32 rows
    on AVX-512; from 128 on AVX2, where the BLAS products are faster below), so it equals the
    first step of a longer sequence bit for bit; it matches the float64 reference as every path
    does. Training steps keep the BLAS path."""
    n = fused_step_rows() + extra
    mode, peephole, clip, reset_after = PATH_VARIANTS[name]
    rng = np.random.default_rng(3)
    params = make_params(mode, I, H, peephole=peephole, rng=rng)
    x = rng.standard_normal((2, n, I))
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    kwargs = dict(training=False, reset_after=reset_after, cell_clip=clip)
    one, _, _ = F.forward(mode, x[:1].astype(np.float32), params32, None, **kwargs)
    two, _, _ = F.forward(mode, x.astype(np.float32), params32, None, **kwargs)
    ref, _, _ = reference_forward(
        mode, x[:1], params, None, reset_after=reset_after, cell_clip=clip
    )
    assert_close(one, ref, 2e-4, 2e-5, what="y")
    if _C.simd_level() != "generic" and (mode, reset_after) != ("gru", False):
        np.testing.assert_array_equal(one[0], two[0])


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize("n", [1, 7, 16, 17, 32])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_one_inference_step_of_few_rows_takes_the_step_kernel(name, n, with_lengths):
    """A layer's single inference step (T = 1, as in generation a step at a time) at up to 32
    rows runs the cells' step kernel (rnn_step.inc), which reads the weights as they are: bit for
    bit a cell's step (lengths, all 1 at T = 1, change nothing; y is the new h; without the x86
    kernels close to it) and close to the float64 reference, from a given state and from zeros.
    I = 600 takes the kernel's rows in two slices of k, H = 70 a partial unit block, 17 and 32
    rows two groups of rows (16 and 1, 16 and 16)."""
    mode, peephole, clip, reset_after = PATH_VARIANTS[name]
    n_in, h = 600, 70
    rng = np.random.default_rng(5)
    params = make_params(mode, n_in, h, peephole=peephole, rng=rng)
    x = rng.standard_normal((1, n, n_in))
    hx = tuple(rng.standard_normal((2, n, h))) if mode == "lstm" else rng.standard_normal((n, h))
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    lengths = np.ones(n, np.int64) if with_lengths else None
    desc = _C.RnnDesc(
        mode, n_in, h, peephole=peephole, reset_after=reset_after, cell_clip=clip or 0
    )
    for state in (hx, None):
        s32 = state
        if state is not None:
            s32 = (
                tuple(a.astype(np.float32) for a in state)
                if mode == "lstm"
                else state.astype(np.float32)
            )
        y, got, _ = F.forward(
            mode, x.astype(np.float32), p32, s32, lengths, training=False,
            reset_after=reset_after, cell_clip=clip,
        )  # fmt: skip
        ref_y, ref_state, _ = reference_forward(
            mode, x, params, state, reset_after=reset_after, cell_clip=clip
        )
        assert_close(y, ref_y, 2e-4, 2e-5, what="y")
        assert_close(got, ref_state, 2e-4, 2e-5, what="state")
        h0, c0 = (None, None) if s32 is None else (s32 if mode == "lstm" else (s32, None))
        step = _C.rnn_step(
            desc, x[0].astype(np.float32), h0, c0, p32["weight_ih"], p32["weight_hh"],
            p32["bias_ih"], p32["bias_hh"], p32.get("weight_ch"),
        )  # fmt: skip
        # Without the x86 kernels a cell's step at up to 4 rows takes its own BLAS path
        # (rnn_step_cpu.cpp) and the layer the general one: the same values, other roundings.
        same = np.testing.assert_array_equal
        if _C.simd_level() == "generic":
            same = functools.partial(assert_close, rtol=2e-5, atol=2e-6)
        same(y[0], step[0])
        same(got[0] if mode == "lstm" else got, step[0])
        if mode == "lstm":
            same(got[1], step[1])


def step_case(name, n_in, h, n, seed):
    """A float32 step of variant `name`: (desc, params, x [n, n_in], h0 [n, h], c0 [n, h] or
    None)."""
    mode, peephole, clip, reset_after = PATH_VARIANTS[name]
    rng = np.random.default_rng(seed)
    p32 = {
        k: v.astype(np.float32)
        for k, v in make_params(mode, n_in, h, peephole=peephole, rng=rng).items()
    }
    x = rng.standard_normal((n, n_in)).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    c0 = rng.standard_normal((n, h)).astype(np.float32) if mode == "lstm" else None
    desc = _C.RnnDesc(
        mode, n_in, h, peephole=peephole, reset_after=reset_after, cell_clip=clip or 0
    )
    return desc, p32, x, h0, c0


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize(
    ("n_in", "h"), [(256, 48), (528, 128), (520, 128), (64, 64), (16, 16), (33, 70)]
)
@pytest.mark.parametrize("n", [1, 3, 16])
def test_the_step_kernel_does_not_depend_on_where_the_weights_lie(name, n_in, h, n):
    """The step kernel reads rows that start off a register boundary on the boundaries (its
    loads then span no two cache lines) and rotates the sums back: every weight and state offset
    from a 64-byte boundary gives the bits of aligned arrays, for a cell's step and a layer's T = 1
    call. On AVX-512 rows of a multiple of 16 values take that path in each slice of k of 128
    values or more (256, 128, the first slice of 528 and not its second of 16), the others the
    plain one; the AVX2 kernels read every row as it lies."""
    mode, _, clip, reset_after = PATH_VARIANTS[name]
    desc, p32, x, h0, c0 = step_case(name, n_in, h, n, seed=11)

    def step(offset, state_offset):
        p = {k: aligned_copy(v, offset=offset) for k, v in p32.items()}
        hx = aligned_copy(h0, offset=state_offset)
        cx = None if c0 is None else aligned_copy(c0, offset=state_offset)
        cell = _C.rnn_step(
            desc, aligned_copy(x, offset=state_offset), hx, cx, p["weight_ih"], p["weight_hh"],
            p.get("bias_ih"), p.get("bias_hh"), p.get("weight_ch"),
        )  # fmt: skip
        _, layer, _ = F.forward(
            mode, aligned_copy(x, offset=state_offset)[None], p, hx if cx is None else (hx, cx),
            training=False, reset_after=reset_after, cell_clip=clip,
        )  # fmt: skip
        return cell, layer

    def arrays(result):  # the arrays of a (cell step, layer state) pair
        out = []
        for part in result:
            out += [part] if isinstance(part, np.ndarray) else [a for a in part if a is not None]
        return out

    want = arrays(step(0, 0))
    offsets = [(4, 0), (8, 4), (12, 20), (16, 0), (20, 8), (24, 44), (28, 60), (48, 16), (60, 8)]
    for offset, state_offset in offsets + [(0, 36)]:
        got = arrays(step(offset, state_offset))
        for g, w in zip(got, want, strict=True):  # bits, so that -0 and +0 differ
            np.testing.assert_array_equal(
                g.view(np.uint32), w.view(np.uint32), err_msg=f"offsets {offset}/{state_offset}"
            )


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
def test_the_step_kernel_gives_a_row_the_same_bits_in_any_group_of_rows(name):
    """The step kernel takes up to 32 rows in groups of 16: a row's result does not depend on
    the group it falls in or on the other rows (a step of 32 rows against steps of rows 5-20 and
    of each row alone), nor does the thread count. (GRU reset_after=False and the generic build
    take other paths: close values.)"""
    mode, _, _, reset_after = PATH_VARIANTS[name]
    n = 32
    desc, p32, x, h0, c0 = step_case(name, 40, 70, n, seed=12)

    def step(rows):  # [new h] or [new h, new c] for these rows
        out = _C.rnn_step(
            desc, x[rows], h0[rows], None if c0 is None else c0[rows], p32["weight_ih"],
            p32["weight_hh"], p32.get("bias_ih"), p32.get("bias_hh"), p32.get("weight_ch"),
        )  # fmt: skip
        return [a for a in out if a is not None]

    same = np.testing.assert_array_equal
    if _C.simd_level() == "generic" or (mode, reset_after) == ("gru", False):
        # no step kernel: the layer path from 5 rows, the cell's own below
        same = functools.partial(assert_close, rtol=2e-5, atol=2e-6)
    whole = step(slice(0, n))
    for got, want in zip(step(slice(5, 21)), whole, strict=True):
        same(got, want[5:21])
    for row in (0, 15, 16, 31):
        for got, want in zip(step(slice(row, row + 1)), whole, strict=True):
            same(got, want[row : row + 1])
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one_thread = step(slice(0, n))
    finally:
        fastrnn.set_num_threads(before)
    for got, want in zip(one_thread, whole, strict=True):
        same(got, want)


@pytest.mark.parametrize("mode", ["rnn_relu", "rnn_tanh", "lstm", "gru"])
@pytest.mark.parametrize(("h", "n"), [(16, 1), (24, 3)])
def test_the_step_kernel_keeps_signed_zeros_wherever_the_weights_lie(mode, h, n):
    """Products that underflow to -0 (weights -1e-25 by inputs 1e-25) sum to -0; the masked
    lanes of a skewed row's first and last loads leave a sum as it is rather than add +0, so the
    signed zeros do not depend on where the weights lie either."""
    n_in, G = 256, F.MODES[mode]
    desc = _C.RnnDesc(mode, n_in, h)
    w_ih = np.full((G * h, n_in), -1e-25, np.float32)
    w_hh = np.zeros((G * h, h), np.float32)
    bias = np.full(G * h, -0.0, np.float32)
    x = np.full((n, n_in), 1e-25, np.float32)
    results = []
    for offset in range(0, 64, 4):
        out = _C.rnn_step(
            desc,
            x,
            None,
            None,
            aligned_copy(w_ih, offset=offset),
            aligned_copy(w_hh, offset=offset),
            bias,
            bias,
            None,
        )
        out = out if isinstance(out, tuple) else (out,)
        results.append([a.view(np.uint32).copy() for a in out if a is not None])
    for offset, got in zip(range(0, 64, 4), results, strict=True):
        for g, w in zip(got, results[0], strict=True):
            np.testing.assert_array_equal(g, w, err_msg=f"weights at offset {offset}")
    if mode == "rnn_relu" and _C.simd_level() != "generic":  # the step kernel keeps the -0
        assert (results[0][0] == 0x80000000).all()  # (the generic path's BLAS products do not)


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize("n", [1, 2])
def test_small_batches_group_unit_blocks(name, n):
    """Batches of one or two rows on one thread run each step's recurrent products for groups of
    unit blocks in one pass (the rest block by block): H = 300 has whole groups and a rest for
    every cell kind (16-unit blocks of the gated cells, 32-unit blocks of the vanilla RNN)."""
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        ours, ref = run_case(name, np.float32, True, n > 1, N=n, H=300)
    finally:
        fastrnn.set_num_threads(before)
    for key in ours:
        assert_close(ours[key], ref[key], 2e-4, 2e-5, what=key)


# The layer kinds whose weight gradients the backward forms differently: two GEMMs into W_hh
# (the vanilla RNN over T >= 2 steps, GRU reset_after=False), the projection, the peephole
# weights, no biases.
WRITE_GRADS_CASES = {
    **{name: (*variant, 0, True) for name, variant in PATH_VARIANTS.items()},
    "lstm_proj": ("lstm", False, None, True, 11, True),
    "gru_no_bias": ("gru", False, None, True, 0, False),
}


@pytest.mark.parametrize("entry", ["rnn_backward", "_emulated_rnn_backward"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 4, 30])
@pytest.mark.parametrize("name", sorted(WRITE_GRADS_CASES))
def test_backward_writes_the_weight_gradients_with_write_grads(name, steps, dtype, entry):
    """rnn_backward(write_grads=True) writes the gradients into arrays whatever they held (here
    NaN; fastrnn.torch passes fresh ones): bit for bit what the default mode adds to zeros, with
    lengths and backwards; the input and state gradients are the same too. The grid emulator's
    entry point (the GPU driver, which adds) starts from zeros for it. A gradient not asked for
    (None) stays None. I = 140 gives W_ih whole column blocks of the weight-gradient GEMM and a
    partial one; T·N = 5 and 20 one block of k (the whole blocks written in place, or added in
    place to what the arrays held), 150 two."""
    mode, peephole, clip, reset_after, proj, bias = WRITE_GRADS_CASES[name]
    n, n_in, h = 5, 140, 20
    s_out = proj or h
    rng = np.random.default_rng(6)
    desc = _C.RnnDesc(
        mode, n_in, h, proj_size=proj, bias=bias, reset_after=reset_after, peephole=peephole,
        cell_clip=clip or 0,
    )  # fmt: skip
    g = {"lstm": 4, "gru": 3}.get(mode, 1)
    shapes = {
        "weight_ih": (g * h, n_in), "weight_hh": (g * h, s_out),
        "bias_ih": (g * h,) if bias else None, "bias_hh": (g * h,) if bias else None,
        "weight_hr": (proj, h) if proj else None, "weight_ch": (3, h) if peephole else None,
    }  # fmt: skip
    weights = [
        None if sh is None else rng.standard_normal(sh).astype(dtype) * 0.3
        for sh in shapes.values()
    ]
    x = rng.standard_normal((steps, n, n_in)).astype(dtype)
    lengths = np.array([steps, 1, steps, max(1, steps - 1), 1], np.int64)
    h0 = rng.standard_normal((n, s_out)).astype(dtype)
    c0 = rng.standard_normal((n, h)).astype(dtype) if mode == "lstm" else None
    dy = rng.standard_normal((steps, n, s_out)).astype(dtype)
    forward = getattr(_C, entry.replace("backward", "forward"))
    _, _, _, reserve = forward(desc, x, lengths, h0, c0, *weights, True, True)
    backward = getattr(_C, entry)
    results = {}
    for write in (False, True):
        fill = np.nan if write else 0.0
        grads = [None if w is None else np.full(w.shape, fill, dtype) for w in weights]
        grads[1 if mode != "lstm" else 0] = None  # one gradient not asked for
        out = backward(
            desc, dy, None, None, x, lengths, *weights, reserve, True, *grads, write_grads=write
        )
        results[write] = (out, grads)
    (out_add, grads_add), (out_write, grads_write) = results[False], results[True]
    for a, b in zip(out_add, out_write, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    for a, b in zip(grads_add, grads_write, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert np.isfinite(b).all()
            np.testing.assert_array_equal(a, b)
    # Added to gradients that hold values: bit for bit those values plus the written gradients
    # (the whole sum first, then one addition, in one block of k or several), but for the
    # peephole weights' (the last), which the rows add into the array one by one.
    held = [None if w is None else rng.standard_normal(w.shape).astype(dtype) for w in grads_add]
    grads = [None if w is None else w.copy() for w in held]
    backward(desc, dy, None, None, x, lengths, *weights, reserve, True, *grads, write_grads=False)
    for got, before, written in zip(grads[:-1], held, grads_write, strict=False):
        if got is not None:
            np.testing.assert_array_equal(got, before + written)
    if grads[-1] is not None:
        assert_close(grads[-1], held[-1] + grads_write[-1], 1e-6, 1e-6, what="weight_ch")


def loop_split(name, n, h, threads, training=True):
    """How the float32 time loop shares n rows among `threads` threads (rnn_fused.h)."""
    mode, peephole, _, reset_after = PATH_VARIANTS[name]
    desc = _C.RnnDesc(mode, I, h, peephole=peephole, reset_after=reset_after)
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(threads)
        return _C._rnn_cpu_loop_split(desc, n, training=training)
    finally:
        fastrnn.set_num_threads(before)


# (rows, weights, the training split at two threads, the inference split): weights within half
# of one core's L2 ("small") split by rows from 8 rows a thread; larger ones ("large", up to 8
# times the L2) from 16 rows a thread, and only in training.
SPLIT_CASES = [
    (27, "small", "rows", "rows"),
    (11, "small", "units", "units"),
    (34, "large", "rows", "units"),
    (27, "large", "units", "units"),
]


def hidden_size_for(name, weight_bytes):
    """The largest H whose float32 weights G·H·(I + H) take at most weight_bytes."""
    gates = {"rnn_tanh": 1, "gru": 3, "lstm": 4}[PATH_VARIANTS[name][0]]
    h = 1
    while gates * (h + 1) * (I + h + 1) * 4 <= weight_bytes:
        h += 1
    return h


@pytest.mark.parametrize("name", ["lstm", "lstm_peephole_clip", "gru", "rnn_tanh"])
@pytest.mark.parametrize(("n", "weights", "split", "inference_split"), SPLIT_CASES)
def test_results_do_not_depend_on_thread_count(name, n, weights, split, inference_split):
    """Two threads split the batch (each runs the whole sequence for its rows) or each step's unit
    blocks; either way every value must be the one-thread result bit for bit, the bias gradients
    (summed by groups of rows) included."""
    # The plan takes the L2's size from the OS: small is 30 % of it, large twice it.
    l2 = _C._rnn_cpu_l2_cache_bytes()
    if not 256 << 10 <= l2 <= 4 << 20:
        pytest.skip(f"an L2 of {l2} bytes: the cases' sizes assume 256 KB to 4 MB")
    h = hidden_size_for(name, (0.3 if weights == "small" else 2) * l2)
    if _C.simd_level() in ("avx512", "avx2"):
        assert loop_split(name, n, h, 2) == split
        assert loop_split(name, n, h, 2, training=False) == inference_split
        assert loop_split(name, n, h, 1) == "one thread"
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one, ref = run_case(name, np.float32, True, True, N=n, H=h)
        fastrnn.set_num_threads(2)
        two, _ = run_case(name, np.float32, True, True, N=n, H=h)
    finally:
        fastrnn.set_num_threads(before)
    for key in one:
        assert_close(one[key], ref[key], 2e-4, 2e-5, what=key)
        assert_close(two[key], one[key], 0, 0, what=key)


@pytest.mark.parametrize("name", ["lstm", "lstm_peephole_clip", "gru", "rnn_tanh"])
@pytest.mark.parametrize("n", [1, 2])
def test_small_batches_do_not_depend_on_thread_count(name, n):
    """Batches of one or two rows with enough work to share: one thread runs each step's groups of
    unit blocks together (small_batch_step), two threads share the step's unit blocks. A block's
    recurrent product must be summed the same way in both, so every value is the one-thread
    result bit for bit (a lone block's tile once kept split partial sums where a grouped block
    keeps one, on AVX-512 and on AVX2)."""
    one_gate = PATH_VARIANTS[name][0] == "rnn_tanh"
    h = 520 if one_gate else 300
    if _C.simd_level() in ("avx512", "avx2"):
        assert loop_split(name, n, h, 2) == "units"
        assert loop_split(name, n, h, 1) == "one thread"
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one, ref = run_case(name, np.float32, True, n > 1, N=n, H=h)
        fastrnn.set_num_threads(2)
        two, _ = run_case(name, np.float32, True, n > 1, N=n, H=h)
    finally:
        fastrnn.set_num_threads(before)
    for key in one:
        assert_close(one[key], ref[key], 2e-4, 2e-5, what=key)
        assert_close(two[key], one[key], 0, 0, what=key)


# One-row layers whose step is just above or below the AVX2 loops' split threshold
# (simd_avx2.h's kMinSplitStepFlops, 40k flops: 2·N·G·H·(I+H) with I = 64 here): (name, H, split).
SMALL_STEP_CASES = [
    ("lstm", 64, "units"),  # 65k flops a step
    ("gru", 64, "units"),  # 49k
    ("rnn_tanh", 128, "units"),  # 49k (I = 64)
    ("lstm", 32, "one thread"),  # 25k
    ("rnn_tanh", 64, "one thread"),  # 16k
]


@pytest.mark.parametrize(("name", "h", "split"), SMALL_STEP_CASES)
def test_one_row_steps_split_from_the_threshold(name, h, split):
    """On AVX2 a one-row step of 40k flops or more is shared by two threads (each step's unit
    blocks, a barrier a step), a smaller one runs on one thread; either way every value is the
    one-thread result bit for bit. (The AVX-512 loops' threshold is 400k: one thread for all.)"""
    mode, peephole, _, reset_after = PATH_VARIANTS[name]
    desc = _C.RnnDesc(mode, 64, h, peephole=peephole, reset_after=reset_after)
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(2)
        plan = _C._rnn_cpu_loop_split(desc, 1), _C._rnn_cpu_loop_split(desc, 1, training=False)
        if _C.simd_level() == "avx2":
            assert plan == (split, split)
        elif _C.simd_level() == "avx512":
            assert plan == ("one thread", "one thread")
        fastrnn.set_num_threads(1)
        one, ref = run_case(name, np.float32, True, False, N=1, H=h, I=64)
        fastrnn.set_num_threads(2)
        two, _ = run_case(name, np.float32, True, False, N=1, H=h, I=64)
    finally:
        fastrnn.set_num_threads(before)
    for key in one:
        assert_close(one[key], ref[key], 2e-4, 2e-5, what=key)
        assert_close(two[key], one[key], 0, 0, what=key)


@pytest.mark.parametrize("name", ["lstm", "lstm_peephole_clip", "gru"])
@pytest.mark.parametrize("lengths", [None, [T, 3, T]])
@pytest.mark.parametrize("training", [True, False])
def test_a_rows_cell_does_not_depend_on_its_neighbour(name, lengths, training):
    """The AVX2 loops run the gated cells on two rows at a time where both still run (their
    activations interleaved, vec8_avx2.h's Vec8Rows), else on one. All three rows hold the same
    sequence: rows 0 and 1 are paired (until row 1 ends, with lengths), row 2 runs alone, and
    every value of the three must be equal bit for bit (row 1's only while it runs, with
    lengths). (On an AVX-512 CPU every row runs alone; the AVX2 re-run of this file pairs them.)"""
    mode, peephole, clip, reset_after = PATH_VARIANTS[name]
    rng = np.random.default_rng(3)
    params = {
        k: v.astype(np.float32)
        for k, v in make_params(mode, I, H, peephole=peephole, rng=rng).items()
    }

    def three_rows(*shape):  # the same values in rows 0, 1 and 2 of axis -2
        one = rng.standard_normal(shape)
        return np.repeat(one[..., None, :], 3, axis=-2).astype(np.float32)

    x = three_rows(T, I)
    h0 = three_rows(H)
    hx = (h0, three_rows(H)) if mode == "lstm" else h0
    y, state, ctx = F.forward(
        mode, x, params, hx, lengths, training=training, reset_after=reset_after, cell_clip=clip
    )
    outputs = [y, *(state if mode == "lstm" else [state])]
    if training:
        outputs.append(F.backward(ctx, three_rows(T, H))[0])
    for out in outputs:
        np.testing.assert_array_equal(out[..., 2, :], out[..., 0, :])
    running = T if lengths is None else lengths[1]
    np.testing.assert_array_equal(y[:running, 1], y[:running, 0])
    if lengths is None:
        for out in outputs:
            np.testing.assert_array_equal(out[..., 1, :], out[..., 0, :])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_results_do_not_depend_on_which_thread_runs_a_block(mode):
    """The time loops hand out each step's unit blocks dynamically (a thread that finishes its
    share takes the other's unclaimed blocks). A Python thread spinning beside the kernels (they
    release the GIL) takes turns on the cores, so blocks change hands from call to call; every
    call must still give the one-thread result bit for bit."""
    rng = np.random.default_rng(5)
    T_, N_, I_, H_ = 12, 12, 40, 150  # 10 unit blocks of 16 (5 of 32) per step; AVX2 twice as many
    if _C.simd_level() in ("avx512", "avx2"):
        desc = _C.RnnDesc({"RNN": "rnn_tanh", "LSTM": "lstm", "GRU": "gru"}[mode], I_, H_)
        before = fastrnn.get_num_threads()
        fastrnn.set_num_threads(2)
        try:
            assert _C._rnn_cpu_loop_split(desc, N_) == "units"
        finally:
            fastrnn.set_num_threads(before)
    x = rng.standard_normal((T_, N_, I_)).astype(np.float32)
    dy = rng.standard_normal((T_, N_, H_)).astype(np.float32)

    def run():
        layer = getattr(fastrnn, mode)(I_, H_, seed=1)
        y, _ = layer.forward(x)
        dx = layer.backward(dy)[0]
        return [y, dx, *(layer.grads[k] for k in sorted(layer.grads))]

    before = fastrnn.get_num_threads()
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    try:
        fastrnn.set_num_threads(1)
        expected = run()
        fastrnn.set_num_threads(2)
        spinner = threading.Thread(target=spin)
        spinner.start()
        try:
            results = [run() for _ in range(12)]
        finally:
            stop.set()
            spinner.join()
    finally:
        fastrnn.set_num_threads(before)
    for got in results:
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("H", [127, 61])
def test_weight_grads_do_not_depend_on_thread_count(mode, H):
    """The weight-gradient GEMM splits C's rows between threads: a split must not change how any
    row is summed (it once did when a thread's share left a single row over)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 16, 127)).astype(np.float32)
    dy = rng.standard_normal((20, 16, H)).astype(np.float32)
    grads = []
    before = fastrnn.get_num_threads()
    try:
        for threads in (1, 2):
            fastrnn.set_num_threads(threads)
            layer = getattr(fastrnn, mode)(127, H, seed=0)
            layer.forward(x)
            layer.backward(dy)
            grads.append({k: v.copy() for k, v in layer.grads.items()})
    finally:
        fastrnn.set_num_threads(before)
    for key in grads[0]:
        np.testing.assert_array_equal(grads[1][key], grads[0][key], err_msg=key)


@pytest.mark.parametrize("name", sorted(PATH_VARIANTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("steps", "h", "with_lengths"), [(1, 128, False), (3, 64, True)])
@pytest.mark.parametrize("reverse", [False, True])
def test_small_products_at_once_give_the_one_thread_results(
    name, dtype, steps, h, with_lengths, reverse
):
    """Products small enough for one thread each run at once on the pool's threads (run_jobs): the
    input projection beside the first step's recurrent product, and after the backward loop the
    last step's dh_prev product beside dx, dW_ih, dW_hh and the bias sums — a one-step call's, as
    a cell in a training loop makes (32 rows, H = 128), and a three-step call's with ended
    sequences (H = 64; where float32 takes the fused loop, only the products after it). Two
    threads must give the one-thread result bit for bit, and both the float64 reference's."""
    tol = (2e-4, 2e-5) if dtype == np.float32 else (1e-10, 1e-12)
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        one, ref = run_case(name, dtype, reverse, with_lengths, N=32, H=h, T=steps)
        fastrnn.set_num_threads(2)
        two, _ = run_case(name, dtype, reverse, with_lengths, N=32, H=h, T=steps)
    finally:
        fastrnn.set_num_threads(before)
    for key in one:
        assert_close(one[key], ref[key], *tol, what=key)
        assert_close(two[key], one[key], 0, 0, what=key)


def test_weight_grads_of_a_very_wide_input():
    """A one-hot-sized input (I = 40000): the weight-gradient GEMM keeps its partial sums within a
    fixed budget by taking fewer of C's rows at a time, which must change neither the float32
    result (against float64) nor its independence of the thread count."""
    rng = np.random.default_rng(4)
    T_, N_, I_, H_ = 3, 2, 40000, 64
    x = rng.standard_normal((T_, N_, I_))
    dy = rng.standard_normal((T_, N_, H_))
    grads = {}
    before = fastrnn.get_num_threads()
    try:
        for dtype, threads in ((np.float64, 1), (np.float32, 1), (np.float32, 2)):
            fastrnn.set_num_threads(threads)
            layer = fastrnn.LSTM(I_, H_, seed=0, dtype=dtype)
            layer.forward(x.astype(dtype))
            layer.backward(dy.astype(dtype))
            grads[np.dtype(dtype).name, threads] = {k: v.copy() for k, v in layer.grads.items()}
    finally:
        fastrnn.set_num_threads(before)
    for key, want in grads["float64", 1].items():
        assert_close(grads["float32", 1][key], want, 2e-4, 2e-5, what=key)
        np.testing.assert_array_equal(grads["float32", 2][key], grads["float32", 1][key])


_SUBPROCESS = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
import fastrnn
from test_kernel_paths import run_case
out = {{}}
for name in {names!r}:
    ours, _ = run_case(name, np.float32, True, True)
    out[name + "/y"] = ours["y"]
    out[name + "/dx"] = ours["dx"]
    for k, v in ours["grads"].items():
        out[name + "/" + k] = v
np.savez({path!r}, simd=fastrnn._C.simd_level(), **out)
"""


@pytest.mark.parametrize("isa", ["generic", "avx2"])
def test_instruction_set_paths_agree(isa, tmp_path):
    names = sorted(PATH_VARIANTS)
    path = str(tmp_path / "out.npz")
    code = _SUBPROCESS.format(tests=os.path.dirname(__file__), names=names, path=path)
    env = dict(os.environ, FASTRNN_ISA=isa)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    with np.load(path) as npz:  # closed before a skip, too
        other = dict(npz)
    if isa == "avx2" and str(other["simd"]) == "generic":
        pytest.skip("no AVX2 kernels here (this CPU, or a build without the x86 kernels)")
    assert str(other["simd"]) == isa
    for name in names:
        ours, _ = run_case(name, np.float32, True, True)
        assert_close(other[name + "/y"], ours["y"], 1e-5, 1e-6, what=name)
        assert_close(other[name + "/dx"], ours["dx"], 1e-5, 1e-6, what=name)
        for k, v in ours["grads"].items():
            assert_close(other[name + "/" + k], v, 1e-4, 1e-5, what=f"{name} {k}")


def test_concurrent_python_threads_give_single_thread_results():
    cases = [("lstm", s) for s in range(3)] + [("gru", s) for s in range(3)]
    expected = {c: run_case(c[0], np.float32, False, True, seed=c[1])[0] for c in cases}
    results, errors = {}, []

    def work(case):
        try:
            for _ in range(3):
                results[case] = run_case(case[0], np.float32, False, True, seed=case[1])[0]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for case in cases:
        for key in expected[case]:
            assert_close(results[case][key], expected[case][key], 0, 0, what=key)


def test_thread_count_is_settable_and_checked():
    before = fastrnn.get_num_threads()
    try:
        fastrnn.set_num_threads(1)
        assert fastrnn.get_num_threads() == 1
        fastrnn.set_num_threads(3)
        assert fastrnn.get_num_threads() == 3
    finally:
        fastrnn.set_num_threads(before)
    with pytest.raises(ValueError, match="n"):
        fastrnn.set_num_threads(0)
    with pytest.raises(ValueError, match=r"1\.\.4096, got 5000"):
        fastrnn.set_num_threads(5000)
    with pytest.raises(TypeError, match="n"):
        fastrnn.set_num_threads(1.5)


def test_show_config_reports_the_build(capsys):
    fastrnn.show_config()
    text = capsys.readouterr().out
    for word in ("fastrnn", "compiler", "simd", "blas", "threads", "cuda"):
        assert word in text
    assert fastrnn.__version__ in text
    assert "scipy-openblas32" in text


def test_versions_reported_are_the_installed_ones():
    """__version__ is the distribution's (it was empty in a build by CMake alone), and the BLAS
    is named by the scipy-openblas32 installed, not the one the extension was built against
    (a later pip install of another release within the range kept the old name)."""
    import importlib.metadata

    assert fastrnn.__version__ == importlib.metadata.version("fastrnn")
    installed = importlib.metadata.version("scipy-openblas32")
    assert fastrnn._config.config()["blas"].startswith(f"scipy-openblas32 {installed} (OpenBLAS ")


def test_python_dash_m_prints_the_config():
    out = subprocess.run(
        [sys.executable, "-m", "fastrnn"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert "simd" in out and "blas" in out


def test_python_dash_m_into_a_closed_pipe_prints_no_traceback():
    # `python -m fastrnn | head -1`: the reader leaves before the report is written
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fastrnn"], stdout=write, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("emulated", [False, True])
@pytest.mark.parametrize("N", [4, 64])  # the fused loop's dx after the loop (N small) and per step
@pytest.mark.parametrize("mode, G", [("lstm", 4), ("gru", 3), ("rnn_tanh", 1)])
def test_backward_without_dx_gives_the_same_other_gradients(mode, G, N, emulated):
    """need_dx=False skips the input gradient and changes no other output."""
    forward = _C._emulated_rnn_forward if emulated else _C.rnn_forward
    backward = _C._emulated_rnn_backward if emulated else _C.rnn_backward
    T, I, H = 5, 32, 48
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    w = [0.1 * rng.standard_normal(s).astype(np.float32) for s in ((G * H, I), (G * H, H))]
    w += [0.1 * rng.standard_normal(G * H).astype(np.float32) for _ in range(2)]
    d = _C.RnnDesc(mode, I, H)
    y, _, _, reserve = forward(d, x, None, None, None, *w, None, None, False, True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    results = []
    for need_dx in (True, False):
        grads = [np.zeros_like(a) for a in w]
        dx, dh0, dc0 = backward(
            d,
            dy,
            None,
            None,
            x,
            None,
            *w,
            None,
            None,
            reserve,
            False,
            *grads,
            None,
            None,
            need_dx=need_dx,
        )
        results.append((dx, dh0, dc0, grads))
    (dx, dh0, dc0, grads), (no_dx, dh0_b, dc0_b, grads_b) = results
    assert no_dx is None and dx.shape == x.shape
    np.testing.assert_array_equal(dh0_b, dh0)
    if dc0 is not None:
        np.testing.assert_array_equal(dc0_b, dc0)
    for a, b in zip(grads_b, grads, strict=True):
        np.testing.assert_array_equal(a, b)


# The files whose tests cover the float32 time loops, their activations and their threading: run
# again with the AVX2 loops (rnn_fused_avx2.cpp), which an AVX-512 machine otherwise never takes.
AVX2_RERUN = [
    "test_kernel_paths.py",
    "test_cells.py",
    "test_activation_accuracy.py",
    "test_activation_range.py",
    "test_activation_saturation.py",
    "test_padding_isolation.py",
    "test_extreme_values.py",
    "test_reference.py",
    "test_layers.py",
    "test_properties_training.py",
]


@pytest.mark.skipif("FASTRNN_ISA" in os.environ, reason="already running under a capped ISA")
def test_kernel_tests_pass_on_the_avx2_path():
    if _C.simd_level() not in ("avx2", "avx512"):
        pytest.skip("no AVX2 kernels here (this CPU, or a build without the x86 kernels)")
    tests = os.path.dirname(__file__)
    env = dict(os.environ, FASTRNN_ISA="avx2")
    files = [os.path.join(tests, f) for f in AVX2_RERUN]
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_isa_variable_in_any_case_and_a_warning_for_other_values():
    """FASTRNN_ISA=AVX2 (as oneDNN spells its cap) caps the kernels as avx2 does; a value that is
    none of generic/avx2/avx512 is a RuntimeWarning at import (it was silently ignored)."""
    code = "import fastrnn; print(fastrnn._C.simd_level())"
    runs = {}
    for value in ("AVX2", "Generic", "avx-2"):
        env = dict(os.environ, FASTRNN_ISA=value)
        runs[value] = subprocess.run(
            [sys.executable, "-W", "always", "-c", code],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
    assert runs["Generic"].stdout.strip() == "generic"
    assert runs["AVX2"].stdout.strip() in ("avx2", "generic")  # generic: no AVX2 here
    for value in ("AVX2", "Generic"):
        assert "FASTRNN_ISA" not in runs[value].stderr, runs[value].stderr
    assert "RuntimeWarning: FASTRNN_ISA='avx-2' is not generic, avx2 or avx512" in (
        runs["avx-2"].stderr
    )


def test_the_step_kernel_ab_benchmark_compiles(tmp_path):
    """bench/step_kernel_ab.py (BENCHMARKS.md's in-process A/B of the step kernel): its program
    and a kernel unit as it writes them compile against the work tree's headers (syntax only: an
    installed package has no libfastrnn_core.a to link), and a build directory without the
    library is refused."""
    script = import_bench_script("step_kernel_ab")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the kernels' compiler flags are x86-64's")
    cxx = shutil.which(os.environ.get("CXX", "c++"))
    if cxx is None:
        pytest.skip("no C++ compiler")
    include = f"-I{script.REPO / 'csrc'}"
    for isa, (_, _, flags) in script.ISA_FLAGS.items():
        unit = tmp_path / f"{isa}.cpp"
        unit.write_text(script.kernel_unit("ab_head", script.REPO / "csrc/cpu/rnn_step.inc", isa))
        subprocess.run(
            [cxx, *script.COMMON_FLAGS, *flags.split(), include, "-fsyntax-only", str(unit)],
            check=True,
        )
    program = script.REPO / "bench/step_kernel_ab.cpp"
    subprocess.run([cxx, "-std=gnu++17", include, "-fsyntax-only", str(program)], check=True)
    args = script.parse_args(["--base", "HEAD", "--build-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="--build-dir: no libfastrnn_core.a"):
        script.build(args, tmp_path)
    for bad in (["--offsets", "6"], ["--offsets", "64"], ["--batch", "17"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            script.parse_args(["--base", "HEAD", "--build-dir", str(tmp_path), *bad])


@pytest.mark.parametrize(("call", "offset"), [("layer", ""), ("cell", " --weight-offset 16")])
def test_the_step_paths_benchmark_runs(capsys, call, offset):
    """bench/step_paths.py (BENCHMARKS.md's record of the single-step rule) at a tiny size, for a
    layer's T = 1 call and a cell's step (the weights where numpy put them, or placed)."""
    script = import_bench_script("step_paths")
    assert script.placed(np.arange(40.0, dtype=np.float32), 16).ctypes.data % 64 == 16
    threads = fastrnn.get_num_threads()
    args = f"--call {call} --threads 1 --modes gru,lstm --hidden 4 --batch 3,33 --calls 2"
    script.main((args + offset).split())
    fastrnn.set_num_threads(threads)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 ")]
    assert [row.split("|")[2:5] for row in rows] == [
        [" gru ", " 4 ", " 3 "],
        [" gru ", " 4 ", " 33 "],
        [" lstm ", " 4 ", " 3 "],
        [" lstm ", " 4 ", " 33 "],
    ]
