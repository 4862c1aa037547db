"""Tests of truncated BPTT (tbptt_chunks, Recurrent(carry_state=True): the state carries across
chunks, the gradient does not) and of checkpoints (atomic npz + JSON, no pickle; train k steps,
save, load into fresh objects, step once == the uninterrupted run, bit for bit)."""

import json
import os

import fastrnn
import numpy as np
import pytest
from fastrnn import nn, optim


def test_tbptt_chunks():
    assert list(nn.tbptt_chunks(10, 4)) == [(0, 4), (4, 8), (8, 10)]
    assert list(nn.tbptt_chunks(10, 4, drop_last=True)) == [(0, 4), (4, 8)]
    assert list(nn.tbptt_chunks(3, 5)) == [(0, 3)]
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        list(nn.tbptt_chunks(10, 0))


def test_state_carries_and_gradient_is_cut():
    T, N, I, H = 8, 3, 4, 5
    x = np.random.default_rng(0).standard_normal((T, N, I))
    dy = np.random.default_rng(1).standard_normal((T // 2, N, H))
    full = fastrnn.LSTM(I, H, num_layers=2, dtype=np.float64, seed=0)
    y_full, _ = full.forward(x)
    rec = nn.Recurrent(fastrnn.LSTM(I, H, num_layers=2, dtype=np.float64, seed=0), carry_state=True)
    y1 = rec(x[: T // 2])
    carried = (rec.state[0].copy(), rec.state[1].copy())
    y2 = rec(x[T // 2 :])
    # The state carries: the chunks together give the full sequence's output.
    np.testing.assert_allclose(np.concatenate([y1, y2]), y_full, rtol=1e-12, atol=1e-14)
    rec.zero_grad()
    rec.backward(dy)
    # The gradient is cut: the same as a fresh layer run on chunk 2 from the carried state as
    # a constant, and different from backpropagating through the whole sequence.
    alone = fastrnn.LSTM(I, H, num_layers=2, dtype=np.float64, seed=0)
    alone.forward(x[T // 2 :], carried)
    alone.backward(dy)
    for k in alone.grads:
        np.testing.assert_array_equal(rec.grads[k], alone.grads[k])
    full.backward(np.concatenate([np.zeros_like(dy), dy]))
    assert not np.allclose(rec.grads["weight_ih_l0"], full.grads["weight_ih_l0"])
    assert rec.dhx[0].shape == (2, N, H)  # the chunk's dh0 is kept, not passed back
    rec.reset_state()
    np.testing.assert_array_equal(rec(x[: T // 2]), y1)


def build(seed=0):
    """A small character LM: modules, optimiser, schedule and the batch sampler's generator."""
    V, E, H = 11, 6, 8
    model = nn.Sequential(
        nn.Embedding(V, E, seed=seed),
        nn.Recurrent(
            fastrnn.LSTM(E, H, num_layers=2, dropout=0.3, seed=seed + 1), carry_state=True
        ),
        nn.Dropout(0.2, seed=seed + 2),
        nn.Linear(H, V, seed=seed + 3),
    )
    opt = optim.Adam([model], lr=0.01, weight_decay=1e-4)
    sched = optim.CosineLR(opt, total_steps=20, warmup_steps=2)
    return model, opt, sched, np.random.default_rng(seed + 4)


def train_step(model, opt, sched, rng):
    loss_fn = nn.SoftmaxCrossEntropy()
    ids = rng.integers(0, 11, (6, 4))
    targets = rng.integers(0, 11, (6, 4))
    opt.zero_grad()
    loss = loss_fn(model(ids), targets)
    model.backward(loss_fn.backward())
    optim.clip_grad_norm([model], 1.0)
    opt.step()
    sched.step()
    return loss


def test_checkpoint_resume_reproduces_the_next_step(tmp_path):
    k = 3
    model, opt, sched, rng = build()
    for _ in range(k):
        train_step(model, opt, sched, rng)
    path = tmp_path / "lm.ckpt"
    nn.save_checkpoint(
        path,
        modules={"lm": model},
        optimizer=opt,
        scheduler=sched,
        step=k,
        rng=rng,
        extra={"note": "after 3 steps", "history": [1.5, np.float64(2.5)]},
    )
    assert [p.name for p in tmp_path.iterdir()] == ["lm.ckpt"]  # no temporary left behind
    uninterrupted = [train_step(model, opt, sched, rng) for _ in range(2)]

    model2, opt2, sched2, rng2 = build(seed=50)  # different initial values everywhere
    meta = nn.load_checkpoint(
        path, modules={"lm": model2}, optimizer=opt2, scheduler=sched2, rng=rng2
    )
    assert meta == {"step": 3, "extra": {"note": "after 3 steps", "history": [1.5, 2.5]}}
    resumed = [train_step(model2, opt2, sched2, rng2) for _ in range(2)]
    assert resumed == uninterrupted
    for name, p in model.params.items():
        np.testing.assert_array_equal(model2.params[name], p, err_msg=name)
    assert opt2.lr == opt.lr


def test_checkpoint_is_plain_npz_without_pickle(tmp_path):
    model, opt, _, _ = build()
    path = tmp_path / "m.npz"
    nn.save_checkpoint(path, modules={"lm": model}, optimizer=opt)
    with np.load(path, allow_pickle=False) as z:
        assert "modules/lm/3.weight" in z.files
        assert all(z[f].dtype != object for f in z.files)


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch):
    model, _, _, _ = build()
    path = tmp_path / "m.ckpt"
    nn.save_checkpoint(path, modules={"lm": model}, step=1)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        nn.save_checkpoint(path, modules={"lm": model}, step=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.ckpt"]


def test_checkpoint_bad_input(tmp_path):
    model, opt, _, _ = build()
    path = tmp_path / "m.ckpt"
    with pytest.raises(TypeError, match="modules: expected a non-empty dict"):
        nn.save_checkpoint(path, modules=[model])
    with pytest.raises(TypeError, match="cannot store a set"):
        nn.save_checkpoint(path, modules={"lm": model}, extra={"s": {1}})
    with pytest.raises(ValueError, match="extra/x: a dict whose only key is '__array__'"):
        nn.save_checkpoint(path, modules={"lm": model}, extra={"x": {"__array__": "modules"}})
    assert not path.exists()
    nn.save_checkpoint(path, modules={"lm": model})
    with pytest.raises(ValueError, match=r"modules: checkpoint has \['lm'\], got \['net'\]"):
        nn.load_checkpoint(path, modules={"net": model})
    with pytest.raises(ValueError, match="optimizer: the checkpoint holds no optimiser state"):
        nn.load_checkpoint(path, modules={"lm": model}, optimizer=opt)
    small = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"modules\['lm'\]"):
        nn.load_checkpoint(path, modules={"lm": small})
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a fastrnn checkpoint"):
        nn.load_checkpoint(other, modules={"lm": model})


@pytest.mark.parametrize("kind", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_checkpoint_keeps_every_numpy_bit_generator(tmp_path, kind):
    # MT19937, Philox and SFC64 states hold arrays (not JSON-able as they are).
    model, _, _, _ = build()
    model.modules[2]._rng = np.random.Generator(getattr(np.random, kind)(1))
    rng = np.random.Generator(getattr(np.random, kind)(2))
    rng.random(5)
    path = tmp_path / "g.ckpt"
    nn.save_checkpoint(path, modules={"lm": model}, rng=rng)
    expected = rng.random(4), model.modules[2]._rng.random(4)

    model2, _, _, _ = build(seed=9)
    model2.modules[2]._rng = np.random.Generator(getattr(np.random, kind)(7))
    rng2 = np.random.Generator(getattr(np.random, kind)(8))
    nn.load_checkpoint(path, modules={"lm": model2}, rng=rng2)
    np.testing.assert_array_equal(rng2.random(4), expected[0])
    np.testing.assert_array_equal(model2.modules[2]._rng.random(4), expected[1])
    other = "PCG64" if kind == "MT19937" else "MT19937"
    with pytest.raises(ValueError, match=f"rng: expected a {other} state, .* holds '{kind}'"):
        nn.load_checkpoint(
            path, modules={"lm": model2}, rng=np.random.Generator(getattr(np.random, other)(0))
        )


def snapshot(model, opt, sched, rng):
    return (
        {k: v.copy() for k, v in model.params.items()},
        opt.state_dict(),
        sched.state_dict(),
        rng.bit_generator.state,
        model.modules[2]._rng.bit_generator.state,
        model.modules[1].state,
    )


def assert_unchanged(before, after):
    for k, v in before[0].items():
        np.testing.assert_array_equal(after[0][k], v, err_msg=k)
    assert (
        before[1]["lr"] == after[1]["lr"] and before[1]["state"].keys() == after[1]["state"].keys()
    )
    for key, buffers in before[1]["state"].items():
        for b, v in buffers.items():
            np.testing.assert_array_equal(after[1]["state"][key][b], v)
    assert before[2:5] == after[2:5]
    assert before[5] is after[5]


def test_checkpoint_load_is_all_or_nothing(tmp_path):
    model, opt, sched, rng = build()
    for _ in range(2):
        train_step(model, opt, sched, rng)
    path = tmp_path / "m.ckpt"
    nn.save_checkpoint(path, modules={"lm": model}, optimizer=opt, step=2, rng=rng)

    model2, opt2, sched2, rng2 = build(seed=5)
    train_step(model2, opt2, sched2, rng2)
    before = snapshot(model2, opt2, sched2, rng2)
    # the schedule is missing: found before anything is loaded
    with pytest.raises(ValueError, match="scheduler: the checkpoint holds no schedule state"):
        nn.load_checkpoint(path, modules={"lm": model2}, optimizer=opt2, scheduler=sched2, rng=rng2)
    assert_unchanged(before, snapshot(model2, opt2, sched2, rng2))

    # the last layer has another shape: the first layers loaded are put back
    model3 = nn.Sequential(*model2.modules[:3], nn.Linear(8, 12, seed=3))
    opt3 = optim.Adam([model3], lr=0.01, weight_decay=1e-4)
    before3 = {k: v.copy() for k, v in model3.params.items()}
    with pytest.raises(ValueError, match=r"m.ckpt: modules\['lm'\]"):
        nn.load_checkpoint(path, modules={"lm": model3}, optimizer=opt3, rng=rng2)
    for k, v in before3.items():
        np.testing.assert_array_equal(model3.params[k], v, err_msg=k)
    assert rng2.bit_generator.state == before[3]


@pytest.mark.parametrize(
    "damage",
    [
        lambda meta: meta.pop("generators"),
        lambda meta: meta.pop("step"),
        lambda meta: meta.update(modules=[1]),
        lambda meta: meta["modules"]["lm"].update({"0.weight": {"__array__": "nowhere"}}),
        lambda meta: meta.update(rng={"bit_generator": "MT19937", "state": 3}),
        lambda meta: meta.update(optimizer={"lr": 0.1}),
    ],
)
def test_checkpoint_crafted_metadata_is_a_value_error_naming_the_file(tmp_path, damage):
    model, opt, _, rng = build()
    path = tmp_path / "m.ckpt"
    nn.save_checkpoint(path, modules={"lm": model}, optimizer=opt, rng=rng)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    damage(meta)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    model2, opt2, sched2, rng2 = build(seed=5)
    before = snapshot(model2, opt2, sched2, rng2)
    with pytest.raises(ValueError, match="bad.npz"):
        nn.load_checkpoint(bad, modules={"lm": model2}, optimizer=opt2, rng=rng2)
    assert_unchanged(before, snapshot(model2, opt2, sched2, rng2))


def test_checkpoint_extra_arrays_round_trip_whatever_their_keys(tmp_path):
    """Array members are named by their place in the tree; where keys holding '/' make two places
    read alike, the second gets a suffix instead of overwriting the first."""
    model, _, _, _ = build()
    path = tmp_path / "m.ckpt"
    extra = {"a/b": np.array([1, 2]), "a": {"b": np.array([3, 4, 5])}, "l": [np.eye(2)]}
    nn.save_checkpoint(path, modules={"lm": model}, extra=extra)
    got = nn.load_checkpoint(path, modules={"lm": model})["extra"]
    assert set(got) == {"a/b", "a", "l"}
    np.testing.assert_array_equal(got["a/b"], [1, 2])
    np.testing.assert_array_equal(got["a"]["b"], [3, 4, 5])
    np.testing.assert_array_equal(got["l"][0], np.eye(2))


def test_tbptt_chunks_are_checked_at_once_and_iterate_every_epoch():
    chunks = nn.tbptt_chunks(10, 4)
    assert len(chunks) == 3 and len(nn.tbptt_chunks(10, 4, drop_last=True)) == 2
    assert list(chunks) == list(chunks) == [(0, 4), (4, 8), (8, 10)]  # a second epoch too
    assert list(nn.tbptt_chunks(8, 4, drop_last=True)) == [(0, 4), (4, 8)]
    with pytest.raises(ValueError, match="k"):
        nn.tbptt_chunks(10, 0)  # raised by the call, not by the first iteration
    with pytest.raises(TypeError, match="drop_last: expected a bool, got str"):
        nn.tbptt_chunks(10, 3, drop_last="yes")
