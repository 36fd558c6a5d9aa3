"""Schedules against the write-ups' own formulas (REFERENCE.md) and torch's own schedulers."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
import torch

from kdsweep.engine.schedules import build_schedule, lr_factor
from kdsweep.errors import UserError

IPE = 10  # iterations per epoch in these tests


def sgd(lr: float) -> torch.optim.SGD:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)


def lrs_per_iteration(cfg: dict, *, lr: float, epochs: int, ipe: int = IPE, n: int | None = None) -> list[float]:
    """The lr each iteration runs at, stepping the schedule once per iteration as the trainer does."""
    opt = sgd(lr)
    sched = build_schedule(cfg, opt, epochs=epochs, iters_per_epoch=ipe)
    out = []
    for _ in range(n if n is not None else epochs * ipe):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def ref_004(e: int, epochs: int, warmup: int) -> float:
    """004's per-epoch cosine after the warm-up: the cosine counts epochs since the warm-up ended."""
    return ((1 + math.cos((e - warmup) * math.pi / (epochs - warmup))) / 2) * (1 - 1e-4) + 1e-4


COS_004 = {"name": "cosine", "warmup_epochs": 1, "warmup_start": 0.001, "floor": 1e-4, "per": "epoch"}


@pytest.mark.parametrize("epoch", [1, 2, 10, 50, 75, 99])
def test_004_cosine_with_one_warmup_epoch_at_several_epochs(epoch):
    for offset in (0, IPE - 1):  # constant within the epoch
        got = lr_factor(COS_004, epoch * IPE + offset, epochs=100, iters_per_epoch=IPE)
        assert got == pytest.approx(ref_004(epoch, 100, 1), abs=1e-12)


def test_004_cosine_hand_values():
    f = lambda e: lr_factor(COS_004, e * IPE, epochs=100, iters_per_epoch=IPE)  # noqa: E731
    assert f(1) == pytest.approx(1.0, abs=1e-12)  # the first post-warm-up epoch runs at the full lr
    # epoch 50: (1 + cos(49 pi / 99)) / 2 = (1 + sin(pi / 198)) / 2 = 0.5079330...
    assert f(50) == pytest.approx(0.5079330 * 0.9999 + 1e-4, abs=1e-6)
    # last epoch 99: (1 + cos(98 pi / 99)) / 2 = 0.000251..., never quite the floor
    assert f(99) == pytest.approx(0.00025173 * 0.9999 + 1e-4, abs=1e-7)


def test_004_warmup_is_linear_per_iteration_from_0001():
    # 004: warmup_iters = N * W - 1, so the factor reaches 1 at the warm-up's last iteration
    f = lambda it: lr_factor(COS_004, it, epochs=100, iters_per_epoch=IPE)  # noqa: E731
    assert f(0) == pytest.approx(0.001)
    assert f(3) == pytest.approx(0.001 + 0.999 * 3 / 9)
    assert f(8) == pytest.approx(0.001 + 0.999 * 8 / 9)
    assert f(9) == 1.0
    assert [f(i) for i in range(IPE)] == sorted(f(i) for i in range(IPE))


def test_004_three_warmup_epochs():
    cfg = {**COS_004, "warmup_epochs": 3}
    f = lambda it: lr_factor(cfg, it, epochs=100, iters_per_epoch=IPE)  # noqa: E731
    assert f(15) == pytest.approx(0.001 + 0.999 * 15 / 29)
    assert f(3 * IPE - 1) == 1.0
    assert f(3 * IPE) == pytest.approx(1.0)
    assert f(40 * IPE) == pytest.approx(ref_004(40, 100, 3))


def test_004_cosine_without_warmup():
    cfg = {**COS_004, "warmup_epochs": 0}
    assert lr_factor(cfg, 0, epochs=100, iters_per_epoch=IPE) == pytest.approx(1.0)
    assert lr_factor(cfg, 50 * IPE + 3, epochs=100, iters_per_epoch=IPE) == pytest.approx(0.5 * 0.9999 + 1e-4)


def test_000_multistep_table():
    """000: 0.07 for epochs 1-25, 0.007 26-50, 0.0007 51-65, 0.00007 66-70 (1-based)."""
    cfg = {"name": "multistep", "milestones": [25, 50, 65], "gamma": 0.1}
    lrs = lrs_per_iteration(cfg, lr=0.07, epochs=70, ipe=3)
    by_epoch = {e + 1: lrs[e * 3: e * 3 + 3] for e in range(70)}  # 1-based epoch -> its lrs
    expected = {1: 0.07, 25: 0.07, 26: 0.007, 50: 0.007, 51: 0.0007, 65: 0.0007, 66: 0.00007, 70: 0.00007}
    for epoch, lr in expected.items():
        assert by_epoch[epoch] == pytest.approx([lr] * 3, rel=1e-9), epoch


def test_step_schedule_per_epoch():
    cfg = {"name": "step", "step_size": 30, "gamma": 0.1}
    f = lambda e: lr_factor(cfg, e * IPE + 7, epochs=100, iters_per_epoch=IPE)  # noqa: E731
    assert [f(0), f(29), f(30), f(59), f(60), f(90)] == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.001])


def test_constant():
    assert lrs_per_iteration({"name": "constant"}, lr=0.3, epochs=2) == [0.3] * 20


def test_002_per_iteration_cosine_with_floor():
    cfg = {"name": "cosine", "floor": 0.1, "per": "iter"}
    epochs, ipe = 120, 7
    total = epochs * ipe
    f = lambda it: lr_factor(cfg, it, epochs=epochs, iters_per_epoch=ipe)  # noqa: E731
    assert f(0) == pytest.approx(1.0)
    assert f(total // 2) == pytest.approx(0.55)  # halfway: 0.5 * 0.9 + 0.1
    assert f(total) == pytest.approx(0.1)  # the floor
    for it in (1, 6, 7, 333, total - 1):  # varies within an epoch
        assert f(it) == pytest.approx(((1 + math.cos(it * math.pi / total)) / 2) * 0.9 + 0.1, abs=1e-12)
    lrs = lrs_per_iteration(cfg, lr=2e-4, epochs=epochs, ipe=ipe)
    assert lrs[500] == pytest.approx(2e-4 * f(500), rel=1e-12)


@pytest.mark.parametrize("t_mult", [1, 2])
def test_warm_restarts_match_torch_stepped_per_iteration(t_mult):
    """002's teacher: CosineAnnealingWarmRestarts(T_0 = 2 epochs in iterations, T_mult, eta_min 9e-6)."""
    ipe, base = 5, 1e-4
    cfg = {"name": "warm_restarts", "T_0": 2, "T_mult": t_mult, "eta_min": 9e-6}
    ours = lrs_per_iteration(cfg, lr=base, epochs=40, ipe=ipe, n=160)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=base)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2 * ipe, T_mult=t_mult, eta_min=9e-6)
    theirs = []
    for _ in range(160):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-15)
    restarts = [10, 20, 30] if t_mult == 1 else [10, 30, 70, 150]
    assert [theirs[i] for i in restarts] == pytest.approx([base] * len(restarts))  # spans the restarts
    assert min(theirs) < 1.5e-5
    it = 77
    assert lr_factor(cfg, it, epochs=40, iters_per_epoch=ipe, base_lr=base) * base == pytest.approx(theirs[it])


def test_warm_restarts_factor_needs_base_lr_only_with_eta_min():
    cfg = {"name": "warm_restarts", "T_0": 1, "T_mult": 1, "eta_min": 0.0}
    assert lr_factor(cfg, 5, epochs=3, iters_per_epoch=IPE) == pytest.approx(0.5)  # half a cycle
    with pytest.raises(ValueError, match="base lr"):
        lr_factor({**cfg, "eta_min": 1e-5}, 5, epochs=3, iters_per_epoch=IPE)


def test_initial_lr_is_the_factor_at_iteration_zero():
    opt = sgd(0.1)
    build_schedule(COS_004, opt, epochs=100, iters_per_epoch=IPE)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.001)


def test_every_param_group_scales_its_own_base_lr():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}])
    sched = build_schedule({"name": "step", "step_size": 1, "gamma": 0.5}, opt, epochs=3, iters_per_epoch=2)
    for _ in range(2):
        opt.step()
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])


def test_state_dict_round_trip_resumes_exactly():
    cfg = {"name": "warm_restarts", "T_0": 1, "T_mult": 2, "eta_min": 1e-3}
    cfg_cos = COS_004
    for c in (cfg, cfg_cos):
        full = lrs_per_iteration(c, lr=0.1, epochs=10, n=53)
        opt = sgd(0.1)
        sched = build_schedule(c, opt, epochs=10, iters_per_epoch=IPE)
        for _ in range(23):
            opt.step()
            sched.step()
        buf = io.BytesIO()
        torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        buf.seek(0)
        state = torch.load(buf, weights_only=True)
        opt2 = sgd(0.1)
        sched2 = build_schedule(c, opt2, epochs=10, iters_per_epoch=IPE)
        opt2.load_state_dict(state["opt"])
        sched2.load_state_dict(state["sched"])
        resumed = []
        for _ in range(30):
            resumed.append(opt2.param_groups[0]["lr"])
            opt2.step()
            sched2.step()
        assert resumed == pytest.approx(full[23:], rel=1e-12)


@pytest.mark.parametrize(
    ("cfg", "where", "text"),
    [
        ({"name": "cosin"}, "schedule.name", "did you mean 'cosine'"),
        ({"name": "multistep", "milestones": "<required>", "gamma": 0.1}, "schedule.milestones", "needs"),
        ({"name": "multistep", "gamma": 0.1}, "schedule.milestones", "needs"),
        ({"name": "multistep", "milestones": [50, 25]}, "schedule.milestones", "increase"),
        ({"name": "cosine", "per": "batch"}, "schedule.per", "'epoch' or 'iter'"),
        ({"name": "cosine", "flor": 0.1}, "schedule.flor", "did you mean 'floor'"),
        ({"name": "step", "step_size": 0}, "schedule.step_size", "integer >= 1"),
        ({"name": "warm_restarts", "T_0": 1, "T_mult": 1.5}, "schedule.T_mult", "integer"),
        ({"step_size": 3}, "schedule", "'name'"),
    ],
)
def test_config_mistakes_name_the_key(cfg, where, text):
    with pytest.raises(UserError, match=text) as err:
        lr_factor(cfg, 0, epochs=5, iters_per_epoch=IPE)
    assert err.value.where == where


def test_a_run_shorter_than_its_warm_up_warms_up_throughout():
    """Smoke runs (`-o epochs=1` on a sweep with warm-up 3) train: the warm-up spans the run."""
    cfg = {"name": "cosine", "warmup_epochs": 3, "warmup_start": 0.001, "floor": 0.0, "per": "epoch"}
    factors = [lr_factor(cfg, it, epochs=1, iters_per_epoch=10) for it in range(10)]
    assert factors[0] == pytest.approx(0.001)
    assert factors == sorted(factors) and factors[-2] == pytest.approx(0.001 + 0.999 * 8 / 9)
    assert factors[-1] == 1.0


GOLDEN_004 = Path(__file__).parent / "golden" / "lr_004_warmup_cosine.json"


@pytest.mark.parametrize("curve", json.loads(GOLDEN_004.read_text())["curves"],
                         ids=lambda c: f"N{c['iters_per_epoch']}-W{c['warmup_epochs']}-E{c['epochs']}")
def test_004_lr_curve_equals_the_original_scheduler_per_iteration(curve):
    """Golden file made once, outside the project, by running 004's own code
    (wangziren1/knowledge_distill_on_mini-imagenet @ f3abf1a, kd.py: its `warmup_lr_scheduler`
    and its cosine `LambdaLR`, built in kd.py's order on one SGD optimiser with lr 0.1,
    lrf 1e-4, warm-up factor 1/1000) inside kd.py's loop structure: the warm-up stepped
    after every iteration of the first W epochs, the cosine after every later epoch. It
    records the lr each `optimizer.step()` used, for N iterations per epoch."""
    golden = json.loads(GOLDEN_004.read_text())
    n, w, epochs = curve["iters_per_epoch"], curve["warmup_epochs"], curve["epochs"]
    cfg = {"name": "cosine", "warmup_epochs": w, "warmup_start": golden["warmup_start"],
           "floor": golden["floor"], "per": "epoch"}
    ours = lrs_per_iteration(cfg, lr=golden["base_lr"], epochs=epochs, ipe=n)
    assert len(ours) == len(curve["lr"])
    assert max(abs(a - b) for a, b in zip(ours, curve["lr"], strict=True)) < 1e-12
