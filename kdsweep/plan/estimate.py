"""What a sweep will cost before it runs: `kdsweep plan --estimate`.

Each job (a fused group, as the executor will run it) costs its measured setup plus epochs
times its measured seconds per epoch, plus what the executor adds: per logged epoch of each
run (MLflow metrics, measured on this machine by the caller) and per job (Ray task start,
MLflow run set-up and artifacts: `JOB_OVERHEAD_S`, from benchmarks/README.md, benchmark 4).
The measuring is the engine's (`engine.timing.group_epoch`: a few real training steps of the
group at its batch and input size); this module only sums, so it imports no torch and is
handed the measuring function by the CLI. Groups whose runs differ only in what does not
change speed (seed, loss weights, temperature, lr, schedule) are measured once.

Wall time replays the executor: jobs start in plan order as soon as their stages have
finished and a slot is free.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kdsweep.plan.build import Plan

# What `kdsweep run` adds per job besides what the measuring run sees (Ray task start, MLflow
# run set-up, params, tags, artifacts). benchmarks/bench_sched.py measured a Ray job at 0.6 s
# more than the same job --inline on the shared 2-core machine; rounded up.
JOB_OVERHEAD_S = 1.0


@dataclass
class JobCost:
    group: str
    label: str  # stage name or "K runs"
    runs: int
    epochs: int
    epoch_s: float
    setup_s: float
    depends_on: list[str]  # groups that must finish first
    run_epoch_log_s: float = 0.0  # logging one epoch of one run

    @property
    def seconds(self) -> float:
        return self.setup_s + JOB_OVERHEAD_S + self.epochs * (self.epoch_s + self.runs * self.run_epoch_log_s)


@dataclass
class Estimate:
    jobs: list[JobCost]
    slots: int
    slot_share: float  # devices per slot: 1 / jobs_per_gpu, or 1 CPU slot
    slot_kind: str  # "GPU" or "CPU slot"
    wall_s: float

    @property
    def busy_s(self) -> float:
        return sum(j.seconds for j in self.jobs)

    @property
    def device_hours(self) -> float:
        return self.busy_s * self.slot_share / 3600


def speed_signature(configs: list[dict[str, Any]]) -> str:
    """What decides a group's speed: everything but the seed, loss weights and optimiser values."""
    def strip(cfg: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in cfg.items() if k not in ("seed", "optim", "schedule", "loss", "teacher")}
        out["loss"] = sorted(cfg.get("loss") or {})
        teacher = cfg.get("teacher") or {}
        out["teacher"] = {k: v for k, v in teacher.items() if k not in ("key", "run", "checkpoint")}
        out["optim"] = (cfg.get("optim") or {}).get("name")
        return out

    return json.dumps([strip(c) for c in configs], sort_keys=True, default=str)


def estimate_plan(plan: Plan, measure: Callable[[list[dict[str, Any]]], Any], *, slots: int,
                  slot_share: float, slot_kind: str, run_epoch_log_s: float = 0.0) -> Estimate:
    """`measure(configs)` returns an object with `epoch_s` and `setup_s` (engine.timing.GroupCost)."""
    group_of = {run.key: run.group for run in plan.runs}
    measured: dict[str, Any] = {}
    jobs = []
    for group, runs in plan.groups.items():
        configs = [r.config for r in runs]
        sig = speed_signature(configs)
        if sig not in measured:
            measured[sig] = measure(configs)
        cost = measured[sig]
        deps = sorted({group_of[k] for r in runs for k in r.depends_on if k in group_of} - {group})
        label = f"stage {runs[0].stage}" if runs[0].stage else f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        jobs.append(JobCost(group, label, len(runs), int(runs[0].config["epochs"]), cost.epoch_s, cost.setup_s,
                            deps, run_epoch_log_s))
    return Estimate(jobs, slots, slot_share, slot_kind, replay(jobs, slots))


def replay(jobs: list[JobCost], slots: int) -> float:
    """Wall seconds when jobs start in list order once their dependencies are done and a slot is free."""
    done: dict[str, float] = {}
    free = [0.0] * max(1, slots)
    pending = list(jobs)
    while pending:
        job = next((j for j in pending if all(d in done for d in j.depends_on)), None)
        if job is None:  # a dependency outside the plan never finishes: count the rest as ready
            job = pending[0]
        pending.remove(job)
        slot_free = heapq.heappop(free)
        start = max([slot_free, *(done.get(d, 0.0) for d in job.depends_on)])
        done[job.group] = start + job.seconds
        heapq.heappush(free, done[job.group])
    return max(done.values(), default=0.0)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def render_estimate(est: Estimate, sweep: str, where: str) -> str:
    lines = [f"{sweep}: estimated cost on {where}",
             f"{'group':<7}{'runs':<12}{'epochs':>7}{'s/epoch':>10}{'setup s':>9}{'job':>11}"]
    for j in est.jobs:
        lines.append(f"{j.group:<7}{j.label:<12}{j.epochs:>7}{j.epoch_s:>10.2f}{j.setup_s:>9.1f}"
                     f"{format_duration(j.seconds):>11}")
    lines.append(f"total: {est.busy_s / 3600:.3f} {est.slot_kind}-hours of work "
                 f"({est.device_hours:.3f} device-hours); wall {format_duration(est.wall_s)} on "
                 f"{est.slots} {est.slot_kind}{'s' if est.slots != 1 else ''} at once")
    log_s = est.jobs[0].run_epoch_log_s if est.jobs else 0.0
    lines.append(f"(job includes +{JOB_OVERHEAD_S:g} s for Ray and MLflow set-up and +{log_s:.2f} s per run and "
                 "epoch for logging; early stops are not foreseen)")
    return "\n".join(lines)
