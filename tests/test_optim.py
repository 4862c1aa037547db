"""Tests of fastrnn.optim against torch.optim on the same parameters and gradients: SGD (plain,
momentum, Nesterov, weight decay), Adam (with weight decay), updates from sparse embedding
gradients (against torch.optim.SparseAdam / torch.optim.SGD on the dense gradient),
clip_grad_norm against torch.nn.utils.clip_grad_norm_, StepLR and CosineLR against torch's
schedulers, state_dict round trips, and bad input."""

import math

import fastrnn
import numpy as np
import pytest
import torch
from fastrnn import nn, optim

STEPS = 4


def grads_for(step, shapes, dtype):
    rng = np.random.default_rng(100 + step)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}


def run_pair(make_ours, make_torch, dtype=np.float64, steps=STEPS):
    """Runs `steps` updates of a Linear in fastrnn and in torch with the same gradients."""
    lin = nn.Linear(4, 3, dtype=dtype, seed=0)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in lin.params.items()}
    ours, theirs = make_ours([lin]), make_torch(list(params.values()))
    shapes = {k: v.shape for k, v in lin.params.items()}
    for s in range(steps):
        g = grads_for(s, shapes, dtype)
        lin.zero_grad()
        for k in g:
            lin.grads[k] += g[k]
            params[k].grad = torch.from_numpy(g[k].copy())
        ours.step()
        theirs.step()
    return lin, params


CONFIGS = {
    "sgd": (lambda m: optim.SGD(m, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_momentum_wd": (
        lambda m: optim.SGD(m, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ),
    "sgd_nesterov": (
        lambda m: optim.SGD(m, lr=0.05, momentum=0.8, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "adam": (lambda m: optim.Adam(m, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_wd": (
        lambda m: optim.Adam(m, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (lambda m: optim.AdamW(m, lr=0.01), lambda p: torch.optim.AdamW(p, lr=0.01)),
    "adamw_wd": (
        lambda m: optim.AdamW(m, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3),
        lambda p: torch.optim.AdamW(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.3),
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_optimisers_match_torch(name, dtype):
    lin, params = run_pair(*CONFIGS[name], dtype=dtype)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for k, p in params.items():
        assert lin.params[k].dtype == dtype
        np.testing.assert_allclose(lin.params[k], p.detach().numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", ["sgd_momentum_wd", "adam_wd", "adamw_wd"])
def test_a_parameter_whose_grad_is_none_is_skipped_as_torch(name):
    """torch.optim and clip_grad_norm_ skip a parameter whose .grad is None (no update, no state,
    no step count); so do ours for a grads entry that is None, and their state round-trips."""
    make_ours, make_torch = CONFIGS[name]
    lin = nn.Linear(4, 3, dtype=np.float64, seed=0)
    params = {k: torch.tensor(v, requires_grad=True) for k, v in lin.params.items()}
    ours, theirs = make_ours([lin]), make_torch(list(params.values()))
    bias_before = lin.params["bias"].copy()
    for s in range(STEPS):
        g = grads_for(s, {"weight": (3, 4)}, np.float64)["weight"]
        lin.grads["weight"] = g.copy()
        lin.grads["bias"] = None if s < 2 else g[:, 0].copy()
        params["weight"].grad = torch.from_numpy(g.copy())
        params["bias"].grad = None if s < 2 else torch.from_numpy(g[:, 0].copy())
        norm = optim.clip_grad_norm([lin], 0.5)
        ref_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), 0.5)
        assert norm == pytest.approx(float(ref_norm), rel=1e-12)
        ours.step()
        theirs.step()
        if s == 1:
            np.testing.assert_array_equal(lin.params["bias"], bias_before)
            assert "0.bias" not in ours.state
            ours.load_state_dict(ours.state_dict())
    for k, p in params.items():
        np.testing.assert_allclose(lin.params[k], p.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_sparse_adam_matches_torch_sparse_adam():
    emb = nn.Embedding(8, 3, dtype=np.float64, seed=0)
    ref = torch.nn.Embedding(8, 3, sparse=True, dtype=torch.float64)
    ref.weight.data = torch.from_numpy(emb.params["weight"].copy())
    # eps=0: SparseAdam adds eps to sqrt(v) before the bias correction, dense Adam (and fastrnn's
    # row-wise Adam) after it; the rules agree with a negligible eps (torch refuses eps=0).
    ours = optim.Adam([emb], lr=0.05, eps=1e-300)
    theirs = torch.optim.SparseAdam(ref.parameters(), lr=0.05, eps=1e-300)
    for s, ids in enumerate([[1, 2, 2], [2, 5], [7, 1, 1, 1]]):
        dy = np.random.default_rng(s).standard_normal((len(ids), 3))
        ours.zero_grad()
        theirs.zero_grad()
        emb(np.array(ids))
        emb.backward(dy)
        ref(torch.tensor(ids)).backward(torch.from_numpy(dy))
        ours.step()
        theirs.step()
    np.testing.assert_allclose(emb.params["weight"], ref.weight.detach().numpy(), rtol=1e-12)
    assert emb.params["weight"][0].tolist() == ref.weight[0].tolist()  # untouched row


SPARSE_SGD = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "nesterov": {"momentum": 0.8, "nesterov": True},
    "weight_decay": {"weight_decay": 0.1},
    "momentum_weight_decay": {"momentum": 0.9, "weight_decay": 0.05},
}


@pytest.mark.parametrize("name", list(SPARSE_SGD))
def test_sparse_sgd_matches_torch_sgd_on_the_dense_gradient(name):
    # Rows leave the batch (1, 2 then 3 only), so momentum must keep moving rows 1 and 2 and
    # weight decay must shrink rows that never appear (0, 4, 5), as torch.optim.SGD does.
    emb = nn.Embedding(6, 2, dtype=np.float64, seed=0)
    ref = torch.tensor(emb.params["weight"].copy(), requires_grad=True)
    ours = optim.SGD([emb], lr=0.3, **SPARSE_SGD[name])
    theirs = torch.optim.SGD([ref], lr=0.3, **SPARSE_SGD[name])
    for s, ids in enumerate([[1, 2], [3], [3], [2, 2]]):
        dy = np.random.default_rng(s).standard_normal((len(ids), 2))
        emb.zero_grad()
        emb(np.array(ids))
        emb.backward(dy)
        ref.grad = torch.from_numpy(emb.grads["weight"].to_dense(6))
        ours.step()
        theirs.step()
        np.testing.assert_allclose(emb.params["weight"], ref.detach().numpy(), rtol=1e-13)


def test_sparse_adam_weight_decay_is_lazy_as_documented():
    # Row-wise Adam with weight decay adds weight_decay * p to the touched rows' gradients only
    # (untouched rows neither decay nor move): the same as SparseAdam given those gradients.
    emb = nn.Embedding(6, 3, dtype=np.float64, seed=0)
    ref = torch.tensor(emb.params["weight"].copy(), requires_grad=True)
    ours = optim.Adam([emb], lr=0.05, eps=1e-300, weight_decay=0.2)
    theirs = torch.optim.SparseAdam([ref], lr=0.05, eps=1e-300)
    for s, ids in enumerate([[1, 2, 2], [2, 5], [5, 1]]):
        dy = np.random.default_rng(s).standard_normal((len(ids), 3))
        emb.zero_grad()
        emb(np.array(ids))
        emb.backward(dy)
        rows = emb.grads["weight"]
        decayed = rows.values + 0.2 * ref.detach().numpy()[rows.indices]
        ref.grad = torch.sparse_coo_tensor(
            torch.from_numpy(rows.indices)[None],
            torch.from_numpy(decayed),
            (6, 3),
            check_invariants=True,
        )
        ours.step()
        theirs.step()
        np.testing.assert_allclose(emb.params["weight"], ref.detach().numpy(), rtol=1e-12)
    untouched = [0, 3, 4]
    assert emb.params["weight"][untouched].tolist() == ref.detach()[untouched].tolist()
    np.testing.assert_array_equal(
        emb.params["weight"][untouched],
        nn.Embedding(6, 3, dtype=np.float64, seed=0).params["weight"][untouched],
    )


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    lin = nn.Linear(4, 3, seed=0)
    emb = nn.Embedding(5, 3, seed=1)
    rng = np.random.default_rng(0)
    for g in lin.grads.values():
        g += rng.standard_normal(g.shape).astype(np.float32)
    emb(np.array([0, 3, 3]))
    emb.backward(rng.standard_normal((3, 3)).astype(np.float32))
    tensors = [torch.tensor(p, requires_grad=True) for p in lin.params.values()]
    tensors.append(torch.tensor(emb.params["weight"], requires_grad=True))
    for tp, g in zip(tensors, [*lin.grads.values(), emb.grads["weight"].to_dense(5)], strict=True):
        tp.grad = torch.from_numpy(g.copy())
    norm = optim.clip_grad_norm([lin, emb], max_norm)
    t_norm = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert norm == pytest.approx(t_norm.item(), rel=1e-6)
    ours = [*lin.grads.values(), emb.grads["weight"].to_dense(5)]
    for g, tp in zip(ours, tensors, strict=True):
        np.testing.assert_allclose(g, tp.grad.numpy(), rtol=1e-6, atol=1e-7)
    after = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in ours))
    assert after <= max_norm * (1 + 1e-5)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_of_a_nonfinite_gradient_is_torchs(bad):
    """A nan norm makes torch's clip coefficient nan (clamp keeps nan), so every gradient becomes
    nan; an inf norm makes it 0. Ours returns the same norm and leaves the same gradients."""
    lin = nn.Linear(3, 2, dtype=np.float64, seed=0)
    rng = np.random.default_rng(0)
    for g in lin.grads.values():
        g += rng.standard_normal(g.shape)
    lin.grads["bias"][1] = bad
    tensors = [torch.tensor(p, requires_grad=True) for p in lin.params.values()]
    for tp, g in zip(tensors, lin.grads.values(), strict=True):
        tp.grad = torch.from_numpy(g.copy())
    with np.errstate(invalid="ignore"):
        norm = optim.clip_grad_norm([lin], 1.0)
    t_norm = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    np.testing.assert_array_equal(norm, t_norm.item())
    for g, tp in zip(lin.grads.values(), tensors, strict=True):
        np.testing.assert_array_equal(g, tp.grad.numpy())


def test_clip_grad_norm_to_zero_zeroes_the_gradients_as_torch():
    lin = nn.Linear(3, 2, dtype=np.float64, seed=0)
    for g in lin.grads.values():
        g += 1.5
    tensors = [torch.tensor(p, requires_grad=True) for p in lin.params.values()]
    for tp, g in zip(tensors, lin.grads.values(), strict=True):
        tp.grad = torch.from_numpy(g.copy())
    norm = optim.clip_grad_norm([lin], 0.0)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(tensors, 0.0).item(), rel=1e-15)
    for g, tp in zip(lin.grads.values(), tensors, strict=True):
        np.testing.assert_array_equal(g, tp.grad.numpy())
        assert not g.any()


def test_step_lr_matches_torch():
    opt = optim.SGD([nn.Linear(2, 2)], lr=0.5)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    ref = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.5)
    for _ in range(10):
        assert sched.lr == pytest.approx(ref.get_last_lr()[0], rel=1e-15)
        assert opt.lr == sched.lr
        ref_opt.step()
        sched.step()
        ref.step()


def test_cosine_lr_matches_torch_and_warms_up():
    opt = optim.Adam([nn.Linear(2, 2)], lr=0.1)
    sched = optim.CosineLR(opt, total_steps=10, min_lr=0.01)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ref = torch.optim.lr_scheduler.CosineAnnealingLR(ref_opt, T_max=10, eta_min=0.01)
    for _ in range(10):
        assert sched.lr == pytest.approx(ref.get_last_lr()[0], rel=1e-9)
        ref_opt.step()
        sched.step()
        ref.step()
    sched.step()
    assert sched.lr == pytest.approx(0.01)  # held after total_steps
    warm = optim.CosineLR(optim.SGD([nn.Linear(2, 2)], lr=1.0), total_steps=6, warmup_steps=2)
    lrs = []
    for _ in range(7):
        lrs.append(warm.lr)
        warm.step()
    np.testing.assert_allclose(lrs[:3], [0.5, 1.0, 1.0])
    assert lrs[3] == pytest.approx((1 + math.cos(math.pi * 0.25)) / 2)
    assert lrs[6] == pytest.approx(0.0, abs=1e-15)


def test_optimiser_state_dict_round_trip_resumes_exactly():
    def build():
        lin = nn.Linear(3, 2, seed=0)
        return lin, optim.Adam([lin], lr=0.01)

    lin, opt = build()
    lin.grads["weight"] += 1.0
    opt.step()
    lin2, opt2 = build()
    lin2.load_state_dict(lin.state_dict())
    opt2.load_state_dict(opt.state_dict())
    for m, o in ((lin, opt), (lin2, opt2)):
        m.zero_grad()
        m.grads["bias"] += 0.5
        o.step()
    for k in lin.params:
        np.testing.assert_array_equal(lin.params[k], lin2.params[k])


def test_optimises_numpy_layers_too():
    lstm = fastrnn.LSTM(3, 4, seed=0)
    before = lstm.params["weight_hh_l0"].copy()
    y, _ = lstm.forward(np.ones((2, 1, 3), np.float32))
    lstm.backward(np.ones_like(y))
    grad = lstm.grads["weight_hh_l0"].copy()
    assert np.abs(grad).max() > 0
    optim.SGD([lstm], lr=0.1).step()
    np.testing.assert_allclose(lstm.params["weight_hh_l0"], before - 0.1 * grad, rtol=1e-6)


def test_bad_input():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="lr: expected a finite value >= 0"):
        optim.SGD([lin], lr=-1)
    with pytest.raises(TypeError, match="lr: expected a float"):
        optim.Adam([lin], lr="fast")
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([lin], lr=0.1, nesterov=True)
    with pytest.raises(
        ValueError, match=r"betas\[1\]: expected a finite value in \[0, 1\), got 1.0"
    ):
        optim.Adam([lin], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match=r"modules\[1\]: object has no .params/.grads"):
        optim.SGD([lin, object()], lr=0.1)
    with pytest.raises(ValueError, match="modules: expected at least one module, got an empty"):
        optim.Adam([], lr=0.1)
    with pytest.raises(ValueError, match=r"modules\[1\]: the same module as modules\[0\]"):
        optim.SGD([lin, lin], lr=0.1)
    tied = nn.Linear(2, 2)
    tied.params["weight"] = lin.params["weight"]
    with pytest.raises(
        ValueError, match=r"modules\[1\].params\['weight'\]: the same array as modules\[0\]"
    ):
        optim.Adam([lin, tied])
    with pytest.raises(ValueError, match="tied parameters are not supported"):
        optim.clip_grad_norm([lin, tied], 1.0)
    with pytest.raises(ValueError, match="max_norm: expected a value >= 0, got -1"):
        optim.clip_grad_norm([lin], -1.0)
    lin.grads["weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match=r"grads\['0.weight'\]: expected shape \(2, 2\)"):
        optim.SGD([lin], lr=0.1).step()
    opt = optim.SGD([nn.Linear(2, 2)], lr=0.1)
    with pytest.raises(ValueError, match="state_dict: expected keys"):
        opt.load_state_dict({"lr": 0.1})
    with pytest.raises(ValueError, match="step_size: expected an int >= 1"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="warmup_steps: expected fewer than total_steps"):
        optim.CosineLR(opt, total_steps=5, warmup_steps=5)
    with pytest.raises(TypeError, match="gamma: expected a float, got str"):
        optim.StepLR(opt, step_size=2, gamma="0.5")
    with pytest.raises(ValueError, match="gamma: expected a finite float > 0"):
        optim.StepLR(opt, step_size=2, gamma=0.0)
    with pytest.raises(TypeError, match="min_lr: expected a float, got NoneType"):
        optim.CosineLR(opt, total_steps=5, min_lr=None)
    # non-finite hyper-parameters would turn every parameter into NaN at the first step
    with pytest.raises(ValueError, match="lr: expected a finite value >= 0, got inf"):
        optim.SGD([lin], lr=np.inf)
    with pytest.raises(ValueError, match="eps: expected a finite value >= 0, got nan"):
        optim.Adam([lin], eps=np.nan)
    with pytest.raises(ValueError, match="gamma: expected a finite float > 0"):
        optim.StepLR(opt, step_size=2, gamma=np.inf)
    with pytest.raises(ValueError, match="min_lr: expected a finite value >= 0, got inf"):
        optim.CosineLR(opt, total_steps=5, min_lr=np.inf)


def test_step_schedule_past_the_float_range_raises():
    opt = optim.SGD([nn.Linear(2, 2)], lr=0.1)
    schedule = optim.StepLR(opt, step_size=1, gamma=2.0)
    for _ in range(1000):
        schedule.step()
    with pytest.raises(OverflowError, match=r"StepLR: lr = base_lr \* gamma \*\* 10[0-9]{2}"):
        for _ in range(100):
            schedule.step()


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam])
def test_load_state_dict_checks_every_entry_and_changes_nothing_on_error(make):
    kwargs = {"lr": 0.1, "momentum": 0.9} if make is optim.SGD else {"lr": 0.1}
    lin = nn.Linear(2, 3, seed=0)
    opt = make([lin], **kwargs)
    lin.grads["weight"][:] = 1.0
    opt.step()
    good = opt.state_dict()
    buffer = "exp_avg" if make is optim.Adam else "momentum_buffer"

    def edited(**changes):
        state = opt.state_dict()
        state.update(changes)
        return state

    def with_buffer(name, value):
        state = opt.state_dict()
        state["state"]["0.weight"][name] = value
        return state

    hyper = "eps" if make is optim.Adam else "momentum"
    bad = [
        (edited(lr="x"), TypeError, r"state_dict\['lr'\]: expected a float"),
        (edited(**{hyper: -5.0}), ValueError, rf"state_dict\['{hyper}'\]: expected a finite"),
        (edited(state=[1]), TypeError, r"state_dict\['state'\]: expected a dict"),
        (with_buffer(buffer, np.zeros((2, 3), np.float32)), ValueError, "expected shape"),
        (with_buffer(buffer, np.zeros((3, 2), np.int8)), TypeError, "expected a float array"),
        (with_buffer("extra", np.zeros((3, 2))), ValueError, "expected buffers"),
    ]
    if make is optim.Adam:
        bad += [
            (edited(betas=[2, 3]), ValueError, r"state_dict\['betas'\]\[0\]: expected a finite"),
            (with_buffer("step", "x"), TypeError, r"\['step'\]: expected an int"),
            (with_buffer("step", -1), ValueError, r"\['step'\]: expected an int >= 0"),
        ]
    else:
        bad.append(
            (edited(nesterov="yes"), TypeError, r"state_dict\['nesterov'\]: expected a bool")
        )
    for state, error, message in bad:
        with pytest.raises(error, match=message):
            opt.load_state_dict(state)
        after = opt.state_dict()
        assert after["lr"] == good["lr"]
        for key, value in good["state"]["0.weight"].items():
            np.testing.assert_array_equal(after["state"]["0.weight"][key], value)
    opt.load_state_dict(good)  # the saved state itself loads


@pytest.mark.parametrize(
    "make, other",
    [
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), {"step_size": 4}),
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5), {"gamma": 0.1}),
        (lambda o: optim.CosineLR(o, total_steps=9, min_lr=0.01), {"total_steps": 10}),
        (lambda o: optim.CosineLR(o, total_steps=9, min_lr=0.01), {"min_lr": 0.0}),
        (lambda o: optim.CosineLR(o, total_steps=9, warmup_steps=2), {"warmup_steps": 1}),
    ],
)
def test_schedule_state_dict_keeps_and_checks_its_settings(make, other):
    sched = make(optim.SGD([nn.Linear(2, 2)], lr=0.5))
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    resumed = make(optim.SGD([nn.Linear(2, 2)], lr=0.5))
    resumed.load_state_dict(state)
    assert (resumed.lr, resumed.last_step) == (sched.lr, 4)
    changed = {**state, **other}
    (name,) = other
    fresh = make(optim.SGD([nn.Linear(2, 2)], lr=0.5))
    with pytest.raises(ValueError, match=rf"state_dict\['{name}'\]: saved by a \w+ with {name}="):
        fresh.load_state_dict(changed)
    assert (fresh.last_step, fresh.lr) == (0, make(optim.SGD([nn.Linear(2, 2)], lr=0.5)).lr)


def test_sparse_adamw_decays_and_moves_only_the_touched_rows():
    """AdamW on a sparse embedding gradient: the rows in the batch take torch.optim.AdamW's dense
    step (first step: the moments start at zero for them too); the other rows stay as they are."""
    emb = nn.Embedding(6, 3, dtype=np.float64, seed=0)
    start = emb.params["weight"].copy()
    opt = optim.AdamW([emb], lr=0.05, weight_decay=0.3)
    emb(np.array([1, 4, 4]))
    emb.backward(np.random.default_rng(0).standard_normal((3, 3)))
    rows = emb.grads["weight"]
    ref = torch.tensor(start[rows.indices], requires_grad=True)
    ref.grad = torch.from_numpy(rows.values.copy())
    torch.optim.AdamW([ref], lr=0.05, weight_decay=0.3).step()
    opt.step()
    np.testing.assert_allclose(emb.params["weight"][rows.indices], ref.detach().numpy(), rtol=1e-12)
    untouched = [0, 2, 3, 5]
    np.testing.assert_array_equal(emb.params["weight"][untouched], start[untouched])


PLATEAU_SETTINGS = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2, "threshold": 0.1, "cooldown": 1},
    {"patience": 1, "threshold_mode": "abs", "threshold": 0.05, "min_lr": 0.02, "cooldown": 2},
    {"factor": 0.9, "patience": 0, "eps": 0.05},
]


@pytest.mark.parametrize("settings", PLATEAU_SETTINGS)
def test_reduce_lr_on_plateau_matches_torch(settings):
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1, 0.5, 8), 0.5 + 0.05 * rng.standard_normal(40)])
    ours_opt = optim.SGD([nn.Linear(2, 2, seed=0)], lr=0.1)
    ours = optim.ReduceLROnPlateau(ours_opt, **settings)
    param = torch.zeros(1, requires_grad=True)
    theirs_opt = torch.optim.SGD([param], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **settings)
    for m in metrics:
        ours.step(float(m))
        theirs.step(float(m))
        assert ours.lr == theirs_opt.param_groups[0]["lr"]
        assert ours.num_bad_epochs == theirs.num_bad_epochs
        assert ours.cooldown_counter == theirs.cooldown_counter
    # it did reduce, but for eps=0.05: a change of 0.01 is below it, so lr stays (as torch's)
    assert ours.lr == 0.1 if "eps" in settings else ours.lr < 0.1


def test_reduce_lr_on_plateau_state_dict_resumes_and_checks():
    opt = optim.SGD([nn.Linear(2, 2, seed=0)], lr=1.0)
    sched = optim.ReduceLROnPlateau(opt, patience=1)
    for m in (3.0, 2.0, 2.5):
        sched.step(m)
    saved = sched.state_dict()
    twin = optim.ReduceLROnPlateau(optim.SGD([nn.Linear(2, 2, seed=0)], lr=1.0), patience=1)
    twin.load_state_dict(saved)
    for s in (sched, twin):
        s.step(2.6)
    assert sched.lr == 0.1 and twin.state_dict() == sched.state_dict()
    with pytest.raises(
        ValueError, match="state_dict\\['patience'\\]: saved by a ReduceLROnPlateau with patience=1"
    ):
        optim.ReduceLROnPlateau(opt, patience=3).load_state_dict(saved)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"factor": 1.0}, ValueError, "factor: expected a float < 1"),
        ({"mode": "lowest"}, ValueError, "mode: expected 'min' or 'max'"),
        ({"threshold_mode": "pct"}, ValueError, "threshold_mode: expected 'rel' or 'abs'"),
        ({"patience": -1}, ValueError, "patience: expected an int >= 0"),
        ({"cooldown": 1.5}, TypeError, "cooldown: expected an int"),
    ],
)
def test_reduce_lr_on_plateau_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        optim.ReduceLROnPlateau(optim.SGD([nn.Linear(2, 2, seed=0)], lr=0.1), **kwargs)
    sched = optim.ReduceLROnPlateau(optim.SGD([nn.Linear(2, 2, seed=0)], lr=0.1))
    with pytest.raises(TypeError, match="metric"):
        sched.step("0.5")


def test_adamw_state_carries_its_decoupled_decay_as_torch():
    """torch.optim.Adam(decoupled_weight_decay=True) is AdamW, and a state dict carries the flag:
    an Adam that loads an AdamW's state decays as AdamW (as torch's does); older state dicts
    without the flag load with the class's own rule."""
    lin = nn.Linear(2, 2, seed=0)
    adamw = optim.AdamW([lin], lr=0.1, weight_decay=0.5)
    adam = optim.Adam([nn.Linear(2, 2, seed=0)], lr=0.1)
    adam.load_state_dict(adamw.state_dict())
    assert adam.decoupled_weight_decay and adam.weight_decay == 0.5
    old = adamw.state_dict()
    del old["decoupled_weight_decay"]
    fresh = optim.AdamW([nn.Linear(2, 2, seed=0)], lr=0.1)
    fresh.load_state_dict(old)
    assert fresh.decoupled_weight_decay
    twin, ref = run_pair(
        lambda m: optim.Adam(m, lr=0.01, weight_decay=0.2, decoupled_weight_decay=True),
        lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.2, decoupled_weight_decay=True),
        dtype=np.float64,
    )
    for k, p in ref.items():
        np.testing.assert_allclose(twin.params[k], p.detach().numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="decoupled_weight_decay: expected a bool"):
        optim.Adam([lin], decoupled_weight_decay=1)


def test_reduce_lr_on_plateau_takes_numpy_and_torch_scalars_as_torch():
    sched = optim.ReduceLROnPlateau(optim.SGD([nn.Linear(2, 2, seed=0)], lr=0.1), patience=0)
    for metric in (np.float32(1.0), np.array(0.5), torch.tensor(0.25), 2):
        sched.step(metric)
    assert sched.best == 0.25 and sched.lr == pytest.approx(0.01)
    with pytest.raises(
        TypeError, match=r"metric: expected a real number, got ndarray .* shape \(2,\)"
    ):
        sched.step(np.ones(2))


def test_numpy_bools_are_bools_and_still_checked():
    """np.True_ is taken where a bool is (nesterov, decoupled_weight_decay, drop_last), and a
    saved nesterov=np.True_ without momentum is refused as nesterov=True is."""
    lin = nn.Linear(2, 2, seed=0)
    assert optim.SGD([lin], lr=0.1, momentum=0.9, nesterov=np.True_).nesterov is True
    assert optim.Adam([lin], decoupled_weight_decay=np.True_).decoupled_weight_decay is True
    assert len(nn.tbptt_chunks(10, 4, drop_last=np.True_)) == 2
    sgd = optim.SGD([lin], lr=0.1)
    saved = sgd.state_dict()
    saved["nesterov"] = np.True_
    with pytest.raises(ValueError, match="Nesterov momentum requires momentum > 0"):
        sgd.load_state_dict(saved)


def test_arrays_that_are_never_updated_may_be_shared():
    """The tied-parameter check is about arrays an optimiser updates (an entry in grads): a
    frozen table shared by two embeddings, a module listing one trained array under a second,
    untrained name, and a frozen module listed twice update nothing twice and are accepted."""
    table = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    src = nn.Embedding.from_pretrained(table, freeze=True)
    tgt = nn.Embedding.from_pretrained(table, freeze=True)
    tgt.params["weight"] = src.params["weight"]
    lin = nn.Linear(3, 2, seed=0)
    optim.Adam([src, tgt, lin], lr=0.1).step()
    optim.SGD([src, lin, src], lr=0.1).step()
    assert optim.clip_grad_norm([src, tgt, lin], 1.0) == 0.0

    class Aliased:  # one array trained as "weight", also reachable as "tied"
        def __init__(self):
            w = np.ones((2, 2), np.float32)
            self.params = {"weight": w, "tied": w}
            self.grads = {"weight": np.full((2, 2), 0.5, np.float32)}

    m = Aliased()
    optim.SGD([m], lr=1.0).step()
    np.testing.assert_array_equal(m.params["tied"], np.full((2, 2), 0.5, np.float32))
