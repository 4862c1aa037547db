"""fastrnn's CUDA kernels on a real device, against the CPU path: every mode and feature through
the ops (outputs and every gradient), the torch modules with stacking, both directions and packed
sequences, a non-default stream, and run-to-run determinism; Word2Vec(device="cuda") against the
CPU trainer.

Skips itself, with the reason, when the build has no CUDA kernels, the CUDA runtime sees no
device, or torch has no CUDA (these machines have none: this file has not run on a GPU here)."""

import numpy as np
import pytest
import torch
from fastrnn import _C
from fastrnn.torch import _ops
from reference import assert_close

DEVICE = "cuda"


def skip_reason():
    if not _C.cuda_compiled():
        return "this fastrnn build has no CUDA kernels (FASTRNN_CUDA=OFF or no nvcc at build time)"
    if _C.cuda_device_count() == 0:
        return f"no CUDA device ({_C.cuda_runtime_info()})"
    if not torch.cuda.is_available():
        return "torch cannot use CUDA (a CPU build of torch?)"
    return None


pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

TOL = {torch.float32: (1e-4, 1e-5), torch.float64: (1e-10, 1e-12)}
DTYPES = [torch.float32, torch.float64]

# name -> (mode, proj, peephole, cell_clip, reset_after, bias)
VARIANTS = {
    "rnn_tanh": ("rnn_tanh", 0, False, 0.0, True, True),
    "rnn_relu": ("rnn_relu", 0, False, 0.0, True, True),
    "lstm": ("lstm", 0, False, 0.0, True, True),
    "lstm_proj_peephole_clip": ("lstm", 5, True, 0.7, True, True),
    "lstm_no_bias": ("lstm", 0, False, 0.0, True, False),
    "gru": ("gru", 0, False, 0.0, True, True),
    "gru_reset_before": ("gru", 0, False, 0.0, False, True),
}


def numpy_of(t):
    return t.detach().cpu().numpy()


def op_problem(variant, dtype, reverse, with_lengths, sizes=(9, 6, 7, 37)):
    """CPU tensors for one ops call: (args, backward inputs, flags)."""
    mode, P, peephole, clip, reset_after, bias = VARIANTS[variant]
    T, N, I, H = sizes  # noqa: E741
    G = {"lstm": 4, "gru": 3}.get(mode, 1)
    S = P or H
    g = torch.Generator().manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype) * 0.5

    w = [randn(G * H, I), randn(G * H, S)]
    w += [randn(G * H), randn(G * H)] if bias else [None, None]
    w += [randn(P, H) if P else None, randn(3, H) if peephole else None]
    x = randn(T, N, I)
    lengths = torch.tensor([5, 9, 1, 3, 9, 7]) if with_lengths else None
    h0 = randn(N, S)
    c0 = randn(N, H) if mode == "lstm" else None
    dy, dh_n = randn(T, N, S), randn(N, S)
    dc_n = randn(N, H) if mode == "lstm" else None
    flags = (mode, reverse, reset_after, clip)
    return (x, lengths, h0, c0, *w), (dy, dh_n, dc_n), flags


def to_device(tensors):
    return [None if t is None else t.to(DEVICE) for t in tensors]


def run_ops(inputs, grads_in, flags):
    mode, reverse, reset_after, clip = flags
    x, lengths, h0, c0, *w = inputs
    fwd = torch.ops.fastrnn.rnn_forward(
        x, lengths, h0, c0, *w, mode, reverse, True, reset_after, clip
    )
    dy, dh_n, dc_n = grads_in
    bwd = torch.ops.fastrnn.rnn_backward(dy, dh_n, dc_n, x, lengths, *w, fwd[3], *flags)
    return list(fwd) + list(bwd)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_device_ops_match_cpu_path(variant, reverse, lengths, dtype):
    inputs, grads_in, flags = op_problem(variant, dtype, reverse, lengths)
    cpu = run_ops(inputs, grads_in, flags)
    lengths_cpu = inputs[1]
    inputs = to_device(inputs)
    inputs[1] = lengths_cpu  # lengths stay on the host, as PackedSequence's do
    dev = run_ops(inputs, to_device(grads_in), flags)
    torch.cuda.synchronize()
    names = ["y", "h_n", "c_n", "reserve", "dx", "dh0", "dc0"]
    names += ["dw_ih", "dw_hh", "db_ih", "db_hh", "dw_hr", "dw_ch"]
    rtol, atol = TOL[dtype]
    for name, got, want in zip(names, dev, cpu, strict=True):
        assert got.device.type == DEVICE and got.shape == want.shape, name
        if name != "reserve":  # its gate rows of missing steps are scratch
            assert_close(numpy_of(got), numpy_of(want), rtol, atol, name)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_device_modules_packed_bidirectional(mode, dtype):
    import fastrnn.torch

    torch.manual_seed(0)
    kwargs = {"proj_size": 5} if mode == "LSTM" else {}
    cpu_module = getattr(fastrnn.torch, mode)(
        7, 37, num_layers=2, bidirectional=True, dtype=dtype, **kwargs
    )
    dev_module = getattr(fastrnn.torch, mode)(
        7, 37, num_layers=2, bidirectional=True, dtype=dtype, device=DEVICE, **kwargs
    )
    dev_module.load_state_dict(cpu_module.state_dict())
    T, N = 9, 6
    x = torch.randn(T, N, 7, dtype=dtype)
    lengths = torch.tensor([5, 9, 1, 3, 9, 7])

    def run(module, device):
        xs = x.to(device).requires_grad_(True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(xs, lengths, enforce_sorted=False)
        out, state = module(packed)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
        states = state if mode == "LSTM" else (state,)
        weights = torch.linspace(-1, 1, y.numel(), dtype=dtype, device=device).view_as(y)
        loss = (y * weights).sum() + sum((s * s).sum() for s in states)
        loss.backward()
        got = {"y": y, "dx": xs.grad}
        got.update({f"state{k}": s for k, s in enumerate(states)})
        got.update({n: p.grad for n, p in module.named_parameters()})
        return {k: numpy_of(v) for k, v in got.items()}

    cpu = run(cpu_module, "cpu")
    dev = run(dev_module, DEVICE)
    rtol, atol = TOL[dtype]
    for key in cpu:
        assert_close(dev[key], cpu[key], rtol, atol, key)


def test_device_runs_on_the_callers_stream_and_is_deterministic():
    inputs, grads_in, flags = op_problem("lstm_proj_peephole_clip", torch.float32, True, True)
    lengths_cpu = inputs[1]
    inputs = to_device(inputs)
    inputs[1] = lengths_cpu
    grads_in = to_device(grads_in)
    default = [t.clone() for t in run_ops(inputs, grads_in, flags)]
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        on_stream = run_ops(inputs, grads_in, flags)
    stream.synchronize()
    for a, b in zip(on_stream, default, strict=True):
        np.testing.assert_array_equal(numpy_of(a), numpy_of(b))  # same work, bit for bit


def test_device_module_does_not_fall_back():
    """CUDA tensors run on fastrnn's kernels (the fallback would warn, an error under pytest)."""
    import fastrnn.torch

    assert _ops.cuda_kernels_available()
    lstm = fastrnn.torch.LSTM(3, 4, device=DEVICE, peephole=True)  # torch has no peepholes
    y, _ = lstm(torch.randn(5, 2, 3, device=DEVICE))
    assert y.device.type == DEVICE and torch.isfinite(y).all()


@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
def test_device_word2vec_matches_the_cpu_trainer(sg):
    """Word2Vec(device="cuda") on the device (blocks in parallel, Hogwild between them) against
    the CPU trainer, with tests/test_cuda_w2v_emulated.py's tolerances."""
    pytest.importorskip("gensim")
    from fastrnn import Word2Vec
    from test_cuda_w2v_emulated import CORPUS, similarity_correlation

    def train(device, seed=1):
        model = Word2Vec(
            sg=sg,
            window=4,
            negative=5,
            min_count=5,
            epochs=5,
            workers=1,
            seed=seed,
            device=device,
        )
        model.build_vocab(CORPUS)
        model.train(
            CORPUS, total_examples=model.corpus_count, epochs=model.epochs, compute_loss=True
        )
        return model

    cpu, cpu_other_seed, gpu = train("cpu"), train("cpu", seed=2), train("cuda")
    baseline = similarity_correlation(cpu, cpu_other_seed)
    assert similarity_correlation(cpu, gpu) >= baseline - 0.02
    loss_cpu, loss_gpu = cpu.get_latest_training_loss(), gpu.get_latest_training_loss()
    assert abs(loss_gpu - loss_cpu) <= 0.02 * loss_cpu


def test_device_word2vec_runs_an_epoch_in_several_launches():
    """A device epoch cut into launches (tests/test_cuda_w2v_emulated.py's corpus and bound) runs
    the emulator's launches, each block on its own piece (a wrong piece offset would train other
    words or read past the arrays), and trains every word."""
    from test_cuda_w2v_emulated import gpu_trainer, launch_corpus

    _, ids, offsets = launch_corpus(30)
    runs = {}
    for device in ("emulated", "cuda"):
        trainer, syn0 = gpu_trainer(30, 8, device=device)
        before = syn0.copy()
        trainer.launch_words = 60
        trainer.start(int(offsets[-1]))
        trainer.train_ids(ids, offsets, 0)
        assert np.isfinite(syn0).all() and not np.array_equal(syn0, before)
        runs[device] = (trainer.launches, trainer.words_done, trainer.trained_words)
    assert len(runs["cuda"][0]) > 2
    assert runs["cuda"] == runs["emulated"]
