"""Tests of the fastrnn.nn modules against torch with the same weights (outputs and every
gradient): Linear, Embedding (sparse RowGrad, padding_idx, from_pretrained frozen/trainable),
Dropout (masks, scaling, seeds), Sequential (prefixed names, reverse backward, with a Recurrent
LSTM), Recurrent(output="last"), metrics; and clear exceptions for bad input."""

import math

import fastrnn
import numpy as np
import pytest
import torch
from fastrnn import nn

TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-13)}


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(dtype, bias):
    lin = nn.Linear(5, 3, bias, dtype=dtype, seed=0)
    ref = torch.nn.Linear(5, 3, bias, dtype=torch.float64 if dtype == np.float64 else None)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in lin.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 2, 5)).astype(dtype)  # [T, N, I]
    dy = np.random.default_rng(2).standard_normal((4, 2, 3)).astype(dtype)
    y = lin(x)
    tx = t(x, True)
    ty = ref(tx)
    ty.backward(torch.from_numpy(dy))
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=atol)
    dx = lin.backward(dy)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=atol)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(lin.grads[name], p.grad.numpy(), rtol=rtol, atol=atol)
    lin.backward(dy)  # gradients accumulate
    np.testing.assert_allclose(lin.grads["weight"], 2 * ref.weight.grad.numpy(), rtol=rtol)
    lin.zero_grad()
    assert not lin.grads["weight"].any()


def test_linear_init_is_torch_bound_and_seeded():
    a, b = nn.Linear(16, 8, seed=3), nn.Linear(16, 8, seed=3)
    np.testing.assert_array_equal(a.params["weight"], b.params["weight"])
    assert np.abs(a.params["weight"]).max() <= 0.25 and np.abs(a.params["bias"]).max() <= 0.25
    assert a.params["weight"].shape == (8, 16) and a.params["bias"].shape == (8,)


def test_embedding_matches_torch_with_padding_and_duplicates():
    emb = nn.Embedding(10, 4, padding_idx=0, seed=0)
    assert not emb.params["weight"][0].any()
    ref = torch.nn.Embedding(10, 4, padding_idx=0, sparse=True)
    ref.load_state_dict({"weight": torch.from_numpy(emb.params["weight"])})
    ids = np.array([[1, 3, 3], [0, 9, 1]])
    dy = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    out = emb(ids)
    tout = ref(torch.from_numpy(ids))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    assert emb.backward(dy) is None
    tout.backward(torch.from_numpy(dy))
    g = emb.grads["weight"]
    assert isinstance(g, nn.RowGrad)
    np.testing.assert_array_equal(g.indices, [1, 3, 9])  # unique, sorted, padding row absent
    np.testing.assert_allclose(g.to_dense(10), ref.weight.grad.to_dense().numpy(), rtol=1e-6)
    emb(np.array([3, 5]))
    emb.backward(np.ones((2, 4), np.float32))  # accumulates: row 3 again, row 5 new
    np.testing.assert_array_equal(emb.grads["weight"].indices, [1, 3, 5, 9])
    np.testing.assert_allclose(
        emb.grads["weight"].to_dense(10)[3], ref.weight.grad.to_dense().numpy()[3] + 1, rtol=1e-6
    )
    emb.zero_grad()
    assert emb.grads["weight"].indices.size == 0


def test_embedding_from_pretrained_frozen_and_trainable():
    w = np.arange(12, dtype=np.float64).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(w)
    assert frozen.grads == {} and frozen.freeze and frozen.dtype == np.float64
    np.testing.assert_array_equal(frozen(np.array([2]))[0], w[2])
    frozen.backward(np.ones((1, 3)))
    assert frozen.grads == {}
    sgd = fastrnn.optim.SGD([frozen], lr=1.0)
    sgd.step()
    np.testing.assert_array_equal(frozen.params["weight"], w)
    trainable = nn.Embedding.from_pretrained(torch.from_numpy(w), freeze=False)
    trainable(np.array([1, 1]))
    trainable.backward(np.ones((2, 3)))
    fastrnn.optim.SGD([trainable], lr=0.5).step()
    np.testing.assert_array_equal(trainable.params["weight"][1], w[1] - 1.0)
    np.testing.assert_array_equal(trainable.params["weight"][0], w[0])
    w[0, 0] = 99  # a copy was taken
    assert trainable.params["weight"][0, 0] == 0


def test_embedding_state_dict_round_trip_and_torch_names():
    emb = nn.Embedding(6, 2, seed=1)
    other = nn.Embedding(6, 2, seed=2)
    other.load_state_dict(emb.state_dict())
    np.testing.assert_array_equal(other.params["weight"], emb.params["weight"])
    ref = torch.nn.Embedding(6, 2)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in emb.state_dict().items()})


def test_dropout_masks_scale_and_inference():
    x = np.ones((1000, 20), np.float32)
    drop = nn.Dropout(0.25, seed=0)
    y = drop(x)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    dx = drop.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(dx, 2 * y)
    assert drop(x, training=False) is x
    np.testing.assert_array_equal(nn.Dropout(0.25, seed=0)(x), y)  # seeded
    assert not np.array_equal(drop(x), y)  # the generator advances


@pytest.mark.parametrize("p", [1.0, 1])
def test_dropout_p_one_zeroes_everything_as_torch(p):
    """torch.nn.Dropout(1.0) is valid: every element (and its gradient) is zero, no nan."""
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    drop = nn.Dropout(p, seed=0)
    tx = t(x, True)
    ty = torch.nn.Dropout(p)(tx)
    ty.backward(torch.ones_like(ty))
    np.testing.assert_array_equal(drop(x), ty.detach().numpy())
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), tx.grad.numpy())
    assert drop(x, training=False) is x


def test_sequential_matches_torch_mlp():
    seq = nn.Sequential(nn.Linear(4, 8, seed=0), nn.Dropout(0.5, seed=1), nn.Linear(8, 3, seed=2))
    assert list(seq.params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    ref = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in seq.state_dict().items()})
    ref.eval()
    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    y = seq(x, training=False)
    tx = t(x, True)
    ty = ref(tx)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dy = np.ones_like(y)
    dx = seq.backward(dy)
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(seq.grads[name], p.grad.numpy(), rtol=1e-5, atol=1e-6)
    seq.zero_grad()
    assert not any(g.any() for g in seq.grads.values())
    copy = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    copy.load_state_dict(seq.state_dict())
    np.testing.assert_array_equal(copy(x, training=False), y)
    with pytest.raises(ValueError, match="unexpected key '5.weight'"):
        copy.load_state_dict({**seq.state_dict(), "5.weight": np.zeros(1)})


def test_sequential_language_model_matches_torch():
    V, E, H, T, N = 7, 5, 6, 4, 3
    seq = nn.Sequential(
        nn.Embedding(V, E, seed=0),
        nn.Recurrent(fastrnn.LSTM(E, H, num_layers=2, seed=1)),
        nn.Linear(H, V, seed=2),
    )
    assert "1.weight_hh_l1" in seq.params

    class Ref(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(V, E)
            self.lstm = torch.nn.LSTM(E, H, num_layers=2)
            self.out = torch.nn.Linear(H, V)

        def forward(self, ids):
            return self.out(self.lstm(self.emb(ids))[0])

    ref = Ref()
    sd = {k: torch.from_numpy(v) for k, v in seq.state_dict().items()}
    ref.emb.weight.data = sd["0.weight"]
    ref.lstm.load_state_dict({k[2:]: v for k, v in sd.items() if k.startswith("1.")})
    ref.out.load_state_dict({k[2:]: v for k, v in sd.items() if k.startswith("2.")})
    rng = np.random.default_rng(4)
    ids, targets = rng.integers(0, V, (T, N)), rng.integers(0, V, (T, N))
    loss_fn = nn.SoftmaxCrossEntropy()
    logits = seq(ids)
    loss = loss_fn(logits, targets)
    seq.backward(loss_fn.backward())
    t_logits = ref(torch.from_numpy(ids))
    t_loss = torch.nn.functional.cross_entropy(
        t_logits.reshape(-1, V), torch.from_numpy(targets).reshape(-1)
    )
    t_loss.backward()
    np.testing.assert_allclose(loss, t_loss.item(), rtol=1e-5)
    np.testing.assert_allclose(
        seq.grads["0.weight"].to_dense(V), ref.emb.weight.grad.numpy(), rtol=1e-4, atol=1e-6
    )
    for name, p in ref.lstm.named_parameters():
        np.testing.assert_allclose(seq.grads["1." + name], p.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        seq.grads["2.weight"], ref.out.weight.grad.numpy(), rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_last_output_matches_torch(bidirectional):
    T, N, I, H = 5, 3, 4, 6
    layer = fastrnn.GRU(I, H, num_layers=2, bidirectional=bidirectional, dtype=np.float64, seed=0)
    rec = nn.Recurrent(layer, output="last")
    ref = torch.nn.GRU(I, H, num_layers=2, bidirectional=bidirectional, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((T, N, I))
    lengths = np.array([5, 2, 4])
    out = rec(x, lengths=lengths)
    D = 2 if bidirectional else 1
    assert out.shape == (N, D * H)
    tx = t(x, True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.from_numpy(lengths), enforce_sorted=False
    )
    _, h_n = ref(packed)
    t_out = torch.cat(list(h_n[-D:]), dim=1)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(out.shape)
    dx = rec.backward(dy)
    t_out.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(rec.grads[name], p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_metrics():
    assert nn.perplexity(0.0) == 1.0
    assert nn.perplexity(np.log(65.0)) == pytest.approx(65.0)
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    targets = np.array([1, 1, 1])
    assert nn.accuracy(logits, targets) == pytest.approx(2 / 3)
    assert nn.accuracy(np.array([1, 0, 1]), targets, mask=np.array([True, False, True])) == 1.0
    with pytest.raises(ValueError, match="logits_or_pred: expected shape"):
        nn.accuracy(logits[:2], targets)
    with pytest.raises(TypeError, match="targets: expected an integer array"):
        nn.accuracy(logits, targets.astype(float))


def test_bad_input():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"x: expected shape \[\.\.\., 3\].*\(4, 2\)"):
        lin(np.zeros((4, 2), np.float32))
    with pytest.raises(TypeError, match="x: expected dtype float32, got float64"):
        lin(np.zeros((4, 3)))
    with pytest.raises(RuntimeError, match="call forward first"):
        nn.Linear(3, 2).backward(np.zeros((1, 2), np.float32))
    lin(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match=r"dy: expected shape \(4, 2\), got \(4, 3\)"):
        lin.backward(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="in_features: expected an int >= 1"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64"):
        nn.Linear(2, 2, dtype=np.int32)
    emb = nn.Embedding(5, 2)
    with pytest.raises(ValueError, match=r"ids: expected indices in \[0, 5\), got 5"):
        emb(np.array([1, 5]))
    with pytest.raises(TypeError, match="ids: expected an integer array, got dtype float64"):
        emb(np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="weight: expected a non-empty"):
        nn.Embedding.from_pretrained(np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="weight: expected dtype float32 or float64"):
        nn.Embedding.from_pretrained(np.zeros((4, 2), np.int64))
    emb(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"dy: expected shape \(2, 2\)"):
        emb.backward(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"p: expected a probability in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"p: expected a finite value >= 0, got -0.1"):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match=r"modules\[1\]: LSTM has no 'forward'|wrap a recurrent"):
        nn.Sequential(nn.Linear(2, 2), object())
    with pytest.raises(ValueError, match="output"):
        nn.Recurrent(fastrnn.LSTM(2, 2), output="first")
    with pytest.raises(TypeError, match="layer: expected a fastrnn.RNN, LSTM or GRU"):
        nn.Recurrent(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="call forward"):
        nn.Recurrent(fastrnn.LSTM(2, 2), output="last").backward(np.zeros((1, 2), np.float32))
    rec = nn.Recurrent(fastrnn.GRU(2, 3), output="last")
    rec(np.zeros((4, 5, 2), np.float32))
    with pytest.raises(ValueError, match=r"dy: expected shape \(5, 3\), got \(5, 2\)"):
        rec.backward(np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="state_dict"):
        nn.Linear(3, 2).load_state_dict({"weight": np.zeros((2, 3))})


def test_linear_kernel_bad_input_and_thread_count():
    x = np.random.default_rng(0).standard_normal((300, 7)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((5, 7)).astype(np.float32)
    with pytest.raises(ValueError, match=r"weight: expected shape \(5, 7\), got \(5, 6\)"):
        fastrnn._C.linear_forward(x, w[:, :6].copy(), None)
    with pytest.raises(TypeError, match="bias: expected dtype float32, got float64"):
        fastrnn._C.linear_forward(x, w, np.zeros(5))
    with pytest.raises(ValueError, match="x: expected 2 dimensions"):
        fastrnn._C.linear_forward(x[None], w, None)
    dy = np.ones((300, 5), np.float32)
    with pytest.raises(ValueError, match="grad weight: array is read-only"):
        ro = np.zeros((5, 7), np.float32)
        ro.flags.writeable = False
        fastrnn._C.linear_backward(dy, x, w, ro, None)
    outs = []
    old = fastrnn.get_num_threads()
    try:
        for n in (1, 2):
            fastrnn.set_num_threads(n)
            gw = np.zeros((5, 7), np.float32)
            dx = fastrnn._C.linear_backward(dy, x, w, gw, None)
            outs.append((fastrnn._C.linear_forward(x, w, None), dx, gw))
    finally:
        fastrnn.set_num_threads(old)
    for a, b in zip(*outs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_linear_matches_numpy_reference_and_finite_differences_float64():
    rng = np.random.default_rng(7)
    lin = nn.Linear(4, 3, dtype=np.float64, seed=1)
    x = rng.standard_normal((2, 5, 4))
    targets = rng.integers(0, 3, (2, 5))
    W, b = lin.params["weight"], lin.params["bias"]
    np.testing.assert_allclose(lin(x), x @ W.T + b, rtol=1e-14)
    loss_fn = nn.SoftmaxCrossEntropy()

    def loss_at():
        return loss_fn(lin.forward(x), targets)

    loss_at()
    dx = lin.backward(loss_fn.backward())
    eps = 1e-6
    for array, grad in ((W, lin.grads["weight"]), (b, lin.grads["bias"]), (x, dx)):
        num = np.zeros_like(array)
        for i in np.ndindex(array.shape):
            keep = array[i]
            array[i] = keep + eps
            plus = loss_at()
            array[i] = keep - eps
            minus = loss_at()
            array[i] = keep
            num[i] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


def test_linear_kernel_errors_name_the_argument_and_actual_shape():
    from fastrnn import _C

    x = np.zeros((2, 3), np.float32)
    w = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"weight: expected 2 dimensions \[O, I\], got shape"):
        _C.linear_forward(x, w[0], None)
    with pytest.raises(
        TypeError, match=r"weight: expected a 2-dimensional array \[O, I\], got list"
    ):
        _C.linear_forward(x, [[1.0]], None)
    with pytest.raises(
        ValueError, match=r"dy: expected 2 dimensions \[M, O\], got shape \(2, 4, 1\)"
    ):
        _C.linear_backward(np.zeros((2, 4, 1), np.float32), x, w, np.zeros_like(w), None)
    with pytest.raises(TypeError, match="dy: expected dtype float32 or float64, got float16"):
        _C.linear_backward(np.zeros((2, 4), np.float16), x, w, np.zeros_like(w), None)
    with pytest.raises(TypeError, match="logits: expected dtype float32 or float64, got int64"):
        _C.softmax_xent_forward(np.zeros((2, 3), np.int64), np.zeros(2, np.int64), None, -100)


def test_backward_and_metric_errors_are_clear():
    x = np.ones((4, 5, 2), np.float32)
    rec = nn.Recurrent(fastrnn.LSTM(2, 3), output="last")
    rec(x, training=False)
    with pytest.raises(RuntimeError, match=r"backward: call forward\(\.\.\., training=True\)"):
        rec.backward(np.zeros((5, 3), np.float32))
    out = rec(x)
    rec.reset_state()  # the state a truncated-BPTT run forgets is not what backward needs
    assert rec.backward(np.ones_like(out)).shape == x.shape
    with pytest.raises(TypeError, match="dy: expected dtype float32, got float64"):
        rec.backward(np.ones((5, 3)))
    drop = nn.Dropout(0.5, seed=0)
    drop(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="dy: expected dtype float32 or float64, got <U1"):
        drop.backward(np.full((2, 2), "a"))
    assert nn.Dropout().params is not nn.Dropout().params  # per-instance, never shared
    assert nn.SoftmaxCrossEntropy().grads is not nn.SoftmaxCrossEntropy().grads
    targets = np.array([1, 0])
    with pytest.raises(TypeError, match="mask: expected dtype bool, got int64"):
        nn.accuracy(np.array([1, 0]), targets, mask=np.array([1, 0]))
    with pytest.raises(ValueError, match=r"mask: expected shape \(2,\), got \(3,\)"):
        nn.accuracy(np.array([1, 0]), targets, mask=np.ones(3, bool))
    assert nn.perplexity(800.0) == math.inf
    assert math.isnan(nn.perplexity(float("nan")))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_layers": 2, "bidirectional": True},
        {"num_layers": 2, "dropout": 0.3},
        {"num_layers": 1},
    ],
)
@pytest.mark.parametrize("cls", [fastrnn.LSTM, fastrnn.GRU])
def test_backward_without_the_input_gradient_gives_the_same_parameter_gradients(cls, kwargs):
    """input_grad=False (the input is data) skips dx and changes no parameter gradient, in the
    layer, nn.Recurrent and nn.Sequential."""
    x = np.random.default_rng(0).standard_normal((6, 3, 5)).astype(np.float32)
    results = []
    for input_grad in (True, False):
        model = nn.Sequential(
            nn.Recurrent(cls(5, 4, seed=1, **kwargs)),
            nn.Linear(8 if kwargs.get("bidirectional") else 4, 2, seed=2),
        )
        y = model.forward(x, training=True)
        dx = model.backward(np.ones_like(y), input_grad=input_grad)
        results.append((dx, model.grads))
    (dx, grads), (no_dx, grads_b) = results
    assert no_dx is None and dx.shape == x.shape
    assert grads.keys() == grads_b.keys()
    for k in grads:
        np.testing.assert_array_equal(grads_b[k], grads[k], err_msg=k)


def test_layer_backward_without_input_gradient_returns_the_state_gradient():
    layer = fastrnn.LSTM(5, 4, seed=1)
    x = np.ones(5 * 7, np.float32).reshape(7, 5)  # unbatched
    y, _ = layer.forward(x, training=True)
    dx, (dh0, dc0) = layer.backward(np.ones_like(y), input_grad=False)
    assert dx is None and dh0.shape == dc0.shape == (1, 4)
    batch_first = fastrnn.GRU(5, 4, 2, batch_first=True, seed=1)
    y, _ = batch_first.forward(np.ones((3, 7, 5), np.float32), training=True)
    dx, dh0 = batch_first.backward(np.ones_like(y), input_grad=False)
    assert dx is None and dh0.shape == (2, 3, 4)
    y, _ = layer.forward(x, training=True)
    with pytest.raises(TypeError, match="input_grad: expected a bool, got int"):
        layer.backward(np.ones_like(y), input_grad=0)
    with pytest.raises(TypeError, match="input_grad: expected a bool"):
        nn.Sequential(nn.Linear(2, 2, seed=0)).backward(np.ones((1, 2), np.float32), input_grad=1)


def test_a_first_linear_skips_its_input_gradient_when_asked():
    """Linear.backward(input_grad=False) returns None without dx's GEMM and the same weight
    gradients; Sequential passes input_grad=False to its first module (Linear here)."""
    x = np.random.default_rng(1).standard_normal((6, 3, 5)).astype(np.float32)
    results = []
    for input_grad in (True, False):
        model = nn.Sequential(nn.Linear(5, 4, seed=0), nn.Recurrent(fastrnn.GRU(4, 3, seed=1)))
        y = model.forward(x)
        results.append((model.backward(np.ones_like(y), input_grad=input_grad), model.grads))
    (dx, grads), (no_dx, grads_b) = results
    assert no_dx is None and dx.shape == x.shape
    for k in grads:
        np.testing.assert_array_equal(grads_b[k], grads[k], err_msg=k)
    lin = nn.Linear(5, 4, seed=0)
    lin(x)
    with pytest.raises(TypeError, match="input_grad: expected a bool, got str"):
        lin.backward(np.ones((6, 3, 4), np.float32), input_grad="no")


def test_sequential_load_state_dict_strict_false_reports_keys_as_torch():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.Dropout(0.1), nn.Linear(4, 2, seed=1))
    state = model.state_dict()
    assert model.load_state_dict(state) == ([], [])
    del state["2.bias"]
    state["5.weight"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert (result.missing_keys, result.unexpected_keys) == (["2.bias"], ["5.weight"])
    with pytest.raises(ValueError, match="unexpected key '5.weight'"):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="strict: expected a bool"):
        model.load_state_dict(model.state_dict(), strict="no")
    assert nn.Dropout(0.1).load_state_dict({"x": 1}, strict=False) == ([], ["x"])


def test_sequential_loads_a_user_module_whose_load_state_dict_takes_no_strict():
    # the documented module protocol: load_state_dict(sd) returning None. After strict= was
    # added, Sequential passed it strict and read .missing_keys of its result (TypeError)
    class Scale:
        def __init__(self):
            self.params, self.grads = {"s": np.ones(1)}, {"s": np.zeros(1)}

        def forward(self, x):
            return x * self.params["s"]

        def backward(self, dy):
            return dy * self.params["s"]

        def zero_grad(self):
            pass

        def state_dict(self):
            return dict(self.params)

        def load_state_dict(self, sd):
            self.params = {"s": np.asarray(sd["s"])}

    model = nn.Sequential(nn.Linear(3, 2, seed=0), Scale())
    state = model.state_dict()
    state["1.s"] = np.array([3.0])
    assert model.load_state_dict(state) == ([], [])
    assert model.modules[1].params["s"][0] == 3.0
    with pytest.raises(TypeError, match="strict=False: module 1 \\(Scale\\)"):
        model.load_state_dict(state, strict=False)


def test_sequential_strict_false_refuses_before_loading_and_reads_any_keys_report():
    class Identity:
        params, grads = {}, {}

        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

        def state_dict(self):
            return {}

    class Plain(Identity):  # load_state_dict(sd): no strict
        def load_state_dict(self, sd):
            pass

    class Reporting(Identity):  # takes strict through **kwargs, reports with its own tuple
        def load_state_dict(self, sd, **kwargs):
            import collections

            return collections.namedtuple("Keys", "missing_keys unexpected_keys")(["s"], ["t"])

    linear = nn.Linear(3, 2, seed=0)
    model = nn.Sequential(linear, Plain())
    state = {k: np.full_like(v, 7.0) for k, v in model.state_dict().items()}
    before = linear.params["weight"].copy()
    with pytest.raises(TypeError, match="module 1 \\(Plain\\)"):
        model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(linear.params["weight"], before)  # nothing loaded
    result = nn.Sequential(Reporting()).load_state_dict({"0.t": 1}, strict=False)
    assert (result.missing_keys, result.unexpected_keys) == (["0.s"], ["0.t"])
