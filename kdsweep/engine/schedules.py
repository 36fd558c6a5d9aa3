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
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from kdsweep.errors import UserError, did_you_mean
from kdsweep.registry import Registry
from kdsweep.spec.defaults import REQUIRED, SCHEDULE_DEFAULTS

# A built schedule: (iteration, base lr of the param group) -> factor. The base lr is only
# needed where the config holds an absolute lr (warm_restarts' eta_min).
Factor = Callable[[int, float | None], float]

SCHEDULES = Registry("schedule")


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
    opts, name = _options(cfg, where)
    return SCHEDULES.get(name, where=f"{where}.name")(
        opts, epochs=epochs, iters_per_epoch=iters_per_epoch, where=where
    )


def _options(cfg: Mapping[str, Any], where: str) -> tuple[dict[str, Any], str]:
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        raise UserError(f"expected a mapping with a 'name' ({', '.join(SCHEDULES.known())})", where=where)
    name = cfg["name"]
    SCHEDULES.get(name, where=f"{where}.name")
    defaults = SCHEDULE_DEFAULTS.get(name, {})
    for key in cfg:
        if key != "name" and key not in defaults:
            hint = did_you_mean(key, defaults) if defaults else "it takes none"
            raise UserError(f"schedule {name!r} has no option {key!r}; {hint}", where=f"{where}.{key}")
    opts = {**defaults, **{k: v for k, v in cfg.items() if k != "name"}}
    for key, value in opts.items():
        if isinstance(value, str) and value == REQUIRED:
            raise UserError(f"schedule {name!r} needs {key!r}", where=f"{where}.{key}")
    return opts, name


def _number(value: Any, where: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, integer: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        bounds = ""
        if low is not None:
            bounds += f" {'>' if low_open else '>='} {low}"
        if high is not None:
            bounds += f"{' and' if bounds else ''} <= {high}"
        raise UserError(f"expected {kind}{bounds}, got {value!r}", where=where)
    return int(value) if integer else float(value)


@SCHEDULES.register("constant")
def _constant(opts: dict[str, Any], *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    return lambda it, base_lr=None: 1.0


@SCHEDULES.register("step")
def _step(opts: dict[str, Any], *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """torchvision's reference recipe (lr x gamma every `step_size` epochs): 004's 'steplr' row."""
    step_size = _number(opts["step_size"], f"{where}.step_size", low=1, integer=True)
    gamma = _number(opts["gamma"], f"{where}.gamma", low=0)
    return lambda it, base_lr=None: gamma ** ((it // iters_per_epoch) // step_size)


@SCHEDULES.register("multistep")
def _multistep(opts: dict[str, Any], *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """lr x gamma at each milestone epoch (0-based): 000's table is milestones [25, 50, 65].

    A milestone m means epochs m, m+1, ... (0-based) run at the lower lr, i.e. the 1-based
    epoch m+1 is the first one: 000's 0.07 for epochs 1-25 then 0.007 from epoch 26.
    """
    raw = opts["milestones"]
    if not isinstance(raw, list | tuple) or not raw:
        raise UserError(f"expected a non-empty list of epochs, got {raw!r}", where=f"{where}.milestones")
    milestones = [_number(m, f"{where}.milestones[{i}]", low=0, integer=True) for i, m in enumerate(raw)]
    if milestones != sorted(milestones):
        raise UserError(f"milestones must increase, got {raw!r}", where=f"{where}.milestones")
    gamma = _number(opts["gamma"], f"{where}.gamma", low=0)
    return lambda it, base_lr=None: gamma ** bisect.bisect_right(milestones, it // iters_per_epoch)


@SCHEDULES.register("cosine")
def _cosine(opts: dict[str, Any], *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """004's cosine after a per-iteration linear warm-up, or 002's per-iteration cosine.

    Warm-up: for the first `warmup_epochs` W epochs, per iteration, linear from
    `warmup_start` at iteration 0 towards 1 (it reaches 1 where the warm-up ends).

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
    warmup = _number(opts["warmup_epochs"], f"{where}.warmup_epochs", low=0, integer=True)
    start = _number(opts["warmup_start"], f"{where}.warmup_start", low=0, high=1)
    floor = _number(opts["floor"], f"{where}.floor", low=0, high=1)
    per = opts["per"]
    if per not in ("epoch", "iter"):
        raise UserError(f"expected 'epoch' or 'iter', got {per!r}", where=f"{where}.per")
    # A run shorter than its warm-up (a smoke run: `-o epochs=1` on a W = 1 sweep) warms up
    # over all its epochs and never reaches the cosine; refusing it would make smoke runs of
    # full-scale sweeps impossible.
    warmup = min(warmup, epochs)
    warm_its = warmup * iters_per_epoch
    cos_len = max(epochs - warmup if per == "epoch" else (epochs - warmup) * iters_per_epoch, 1)

    def factor(it: int, base_lr: float | None = None) -> float:
        if it < warm_its:
            return start + (1.0 - start) * it / warm_its
        k = it // iters_per_epoch - warmup if per == "epoch" else it - warm_its
        return ((1.0 + math.cos(k * math.pi / cos_len)) / 2.0) * (1.0 - floor) + floor

    return factor


@SCHEDULES.register("warm_restarts")
def _warm_restarts(opts: dict[str, Any], *, epochs: int, iters_per_epoch: int, where: str) -> Factor:
    """torch's CosineAnnealingWarmRestarts stepped per iteration (002's teacher), T_0 in epochs.

    002 passed T_0 = 20 epochs' worth of iterations; kdsweep takes T_0 in epochs (it may be
    fractional) and converts it. `eta_min` is an absolute lr, as in torch, so the factor is
    lr_t / base_lr and depends on the param group's base lr.
    """
    t0_epochs = _number(opts["T_0"], f"{where}.T_0", low=0, low_open=True)
    t0 = round(t0_epochs * iters_per_epoch)
    if t0 < 1:
        raise UserError(f"T_0 = {t0_epochs} epochs is less than one iteration", where=f"{where}.T_0")
    t_mult = _number(opts["T_mult"], f"{where}.T_mult", low=1, integer=True)
    eta_min = _number(opts["eta_min"], f"{where}.eta_min", low=0)

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
