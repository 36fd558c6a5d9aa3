"""Learning-rate schedules as pure functions of the global iteration.

Every schedule is a factor of the base lr, written as a function of the 0-based global
iteration `it` that is about to run. One function per schedule serves two masters: the
trainer's `LambdaLR` (stepped once per iteration, after `optimizer.step()`), and the tests,
which compare it with the write-ups' own formulas at chosen epochs and iterations. Because
the factor depends on `it` alone, a resumed run that restores the scheduler's `last_epoch`
(and the optimiser's state) continues on exactly the same curve.

Per-epoch schedules (step, multistep, cosine with `per: epoch`) are constant within an
epoch: the epoch is `it // iters_per_epoch`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from kdsweep.errors import UserError
from kdsweep.spec.entries import SCHEDULES, ScheduleEntry
from kdsweep.spec.options import Options, check_number, option

# --- the schedules' options and entries (the spec block: read by `kdsweep plan` without torch) ---


@dataclass
class ConstantOptions(Options):
    label = "schedule 'constant'"


@dataclass
class StepOptions(Options):
    label = "schedule 'step'"
    step_size: int = option(30, low=1, integer=True)
    gamma: float = option(0.1, low=0)


@dataclass
class MultistepOptions(Options):
    label = "schedule 'multistep'"
    milestones: list = option()  # 0-based epochs
    gamma: float = option(0.1, low=0)

    def check(self, where: str) -> None:
        raw = self.milestones
        if not isinstance(raw, list | tuple) or not raw:
            raise UserError(f"expected a non-empty list of epochs, got {raw!r}", where=f"{where}.milestones")
        for i, m in enumerate(raw):
            check_number(m, f"{where}.milestones[{i}]", low=0, integer=True)
        if list(raw) != sorted(raw):
            raise UserError(f"milestones must increase, got {raw!r}", where=f"{where}.milestones")


@dataclass
class CosineOptions(Options):
    # 004: per-epoch cosine after `warmup_epochs` of per-iteration linear warm-up from
    # warmup_start; 002: per-iteration cosine with floor 0.1 (per: iter).
    label = "schedule 'cosine'"
    warmup_epochs: int = option(0, low=0, integer=True)
    warmup_start: float = option(0.001, low=0, high=1)
    floor: float = option(0.0, low=0, high=1)
    per: str = option("epoch", choices=("epoch", "iter"))


@dataclass
class WarmRestartsOptions(Options):
    label = "schedule 'warm_restarts'"
    T_0: float = option(types=(int, float), low=0, low_open=True)  # in epochs
    T_mult: int = option(1, low=1, integer=True)
    eta_min: float = option(0.0, low=0)


ENTRIES = [
    ScheduleEntry("constant", ConstantOptions, impl="_constant"),
    ScheduleEntry("step", StepOptions, impl="_step"),
    ScheduleEntry("multistep", MultistepOptions, impl="_multistep"),
    ScheduleEntry("cosine", CosineOptions, impl="_cosine"),
    ScheduleEntry("warm_restarts", WarmRestartsOptions, impl="_warm_restarts"),
]

# --- the schedules ---

# A built schedule: (iteration, base lr of the param group) -> factor. The base lr is only
# needed where the config holds an absolute lr (warm_restarts' eta_min).
Factor = Callable[[int, float | None], float]


def lr_factor(
    cfg: Mapping[str, Any],
    it: int,
    *,
    epochs: int,
    iters_per_epoch: int,
    base_lr: float | None = None,
    where: str = "schedule",
) -> float:
    """The lr factor for iteration `it` (0-based, about to run).

    `base_lr` is needed only by `warm_restarts` with a non-zero `eta_min` (an absolute lr).
    """
    return make_factor(cfg, epochs=epochs, iters_per_epoch=iters_per_epoch, where=where)(it, base_lr)


def build_schedule(
    cfg: Mapping[str, Any],
    optimizer: Optimizer,
    *,
    epochs: int,
    iters_per_epoch: int,
    where: str = "schedule",
) -> LambdaLR:
    """A `LambdaLR` to step once per iteration, after `optimizer.step()`.

    Resume: restore the optimiser's state dict (it holds each group's lr and initial_lr) and
    this scheduler's state dict (its `last_epoch` is the iteration count); the lambdas are
    plain functions, so the state dict holds no code and loads with `weights_only=True`.
    """
    factor = make_factor(cfg, epochs=epochs, iters_per_epoch=iters_per_epoch, where=where)
    lambdas = []
    for group in optimizer.param_groups:
        base = float(group.get("initial_lr", group["lr"]))

        def fn(it: int, base: float = base) -> float:
            return factor(it, base)

        lambdas.append(fn)
    return LambdaLR(optimizer, lambdas)


def make_factor(
    cfg: Mapping[str, Any], *, epochs: int, iters_per_epoch: int, where: str = "schedule"
) -> Factor:
    """Validate the schedule config once and return its factor function."""
    if not isinstance(epochs, int) or epochs < 1:
        raise UserError(f"epochs must be a positive integer, got {epochs!r}", where="epochs")
    if not isinstance(iters_per_epoch, int) or iters_per_epoch < 1:
        raise UserError(
            f"an epoch has {iters_per_epoch!r} iterations; the training set must give at least one batch",
            where="data",
        )
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        raise UserError(f"expected a mapping with a 'name' ({', '.join(SCHEDULES.known())})", where=where)
    entry = SCHEDULES.get(cfg["name"], where=f"{where}.name")
    opts = entry.parse({k: v for k, v in cfg.items() if k != "name"}, where)
    return entry.load()(opts, epochs=epochs, iters_per_epoch=iters_per_epoch, where=where)


def _constant(opts: ConstantOptions, *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    return lambda it, base_lr=None: 1.0


def _step(opts: StepOptions, *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """torchvision's reference recipe (lr x gamma every `step_size` epochs): 004's 'steplr' row."""
    step_size, gamma = int(opts.step_size), float(opts.gamma)
    return lambda it, base_lr=None: gamma ** ((it // iters_per_epoch) // step_size)


def _multistep(opts: MultistepOptions, *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """lr x gamma at each milestone epoch (0-based): 000's table is milestones [25, 50, 65].

    A milestone m means epochs m, m+1, ... (0-based) run at the lower lr, i.e. the 1-based
    epoch m+1 is the first one: 000's 0.07 for epochs 1-25 then 0.007 from epoch 26.
    """
    milestones, gamma = [int(m) for m in opts.milestones], float(opts.gamma)
    return lambda it, base_lr=None: gamma ** bisect.bisect_right(milestones, it // iters_per_epoch)


def _cosine(opts: CosineOptions, *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """004's cosine after a per-iteration linear warm-up, or 002's per-iteration cosine.

    Warm-up (004's `warmup_lr_scheduler`): for the first `warmup_epochs` W epochs, per
    iteration, linear from `warmup_start` at iteration 0 to 1 at iteration N*W - 1 (N
    iterations per epoch): factor = start + (1 - start) * it / (N*W - 1). So the last
    warm-up iteration already runs at the full lr, as in 004 (it sets warmup_iters =
    len(loader) * W - 1); a warm-up of a single iteration is no warm-up at all.

    `per: epoch` (004): for epoch e >= W (0-based),
        factor = ((1 + cos((e - W) * pi / (epochs - W))) / 2) * (1 - floor) + floor,
    constant within the epoch. REFERENCE.md writes cos(e * pi / (epochs - W)) where e is
    the LambdaLR's own counter, which starts when the warm-up ends; the denominator
    (epochs - W, the length of the cosine part) only makes sense with that reading, and it
    makes the curve continuous: the first post-warm-up epoch runs at the full lr. So the
    cosine's index is e - W in kdsweep's global epoch count. With W = 0 both readings agree.

    `per: iter` (002): factor = ((1 + cos(k * pi / K)) / 2) * (1 - floor) + floor with
    k = it - W * iters_per_epoch and K = (epochs - W) * iters_per_epoch; with W = 0 it is
    exactly 002's ((1 + cos(it * pi / total_its)) / 2) * 0.9 + 0.1 for floor 0.1.
    """
    warmup, start, floor, per = int(opts.warmup_epochs), float(opts.warmup_start), float(opts.floor), opts.per
    # A run shorter than its warm-up (a smoke run: `-o epochs=1` on a W = 1 sweep) warms up
    # over all its epochs and never reaches the cosine; refusing it would make smoke runs of
    # full-scale sweeps impossible.
    warmup = min(warmup, epochs)
    warm_its = warmup * iters_per_epoch
    cos_len = max(epochs - warmup if per == "epoch" else (epochs - warmup) * iters_per_epoch, 1)

    def factor(it: int, base_lr: float | None = None) -> float:
        if it < warm_its - 1:
            return start + (1.0 - start) * it / (warm_its - 1)
        if it < warm_its:
            return 1.0
        k = it // iters_per_epoch - warmup if per == "epoch" else it - warm_its
        return ((1.0 + math.cos(k * math.pi / cos_len)) / 2.0) * (1.0 - floor) + floor

    return factor


def _warm_restarts(opts: WarmRestartsOptions, *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """torch's CosineAnnealingWarmRestarts stepped per iteration (002's teacher), T_0 in epochs.

    002 passed T_0 = 20 epochs' worth of iterations; kdsweep takes T_0 in epochs (it may be
    fractional) and converts it. `eta_min` is an absolute lr, as in torch, so the factor is
    lr_t / base_lr and depends on the param group's base lr.
    """
    t0_epochs = float(opts.T_0)
    t0 = round(t0_epochs * iters_per_epoch)
    if t0 < 1:
        raise UserError(f"T_0 = {t0_epochs} epochs is less than one iteration", where=f"{where}.T_0")
    t_mult, eta_min = int(opts.T_mult), float(opts.eta_min)

    def factor(it: int, base_lr: float | None = None) -> float:
        if t_mult == 1:
            t_cur, t_i = it % t0, t0
        else:  # cycles grow geometrically, so this loop runs O(log it) times
            t_cur, t_i = it, t0
            while t_cur >= t_i:
                t_cur -= t_i
                t_i *= t_mult
        cos = (1.0 + math.cos(math.pi * t_cur / t_i)) / 2.0
        if eta_min == 0.0:
            return cos
        if base_lr is None:
            raise ValueError("warm_restarts with eta_min > 0 needs the param group's base lr")
        if base_lr == 0.0:
            return 1.0
        return (eta_min + (base_lr - eta_min) * cos) / base_lr

    return factor
