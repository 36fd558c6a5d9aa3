"""`kdsweep plan --estimate`: measure a sweep's groups on this machine and print its cost.

The plan layer sums (`plan.estimate`, no torch); this module supplies what only a machine
can tell: its slots (as `kdsweep run` would make them), each group's seconds per epoch on
the device its job would get (`engine.timing.group_epoch`), and what logging one epoch of
one run to an MLflow store costs here (`tracking.cost`). Imported only with --estimate.
"""

from __future__ import annotations

import os
import time
from typing import Any

from kdsweep.execute.resources import plan_slots
from kdsweep.plan import Plan
from kdsweep.plan.estimate import estimate_plan, render_estimate


def local_resources() -> dict[str, float]:
    import torch

    return {"CPU": float(os.cpu_count() or 1), "GPU": float(torch.cuda.device_count())}


def print_estimate(plan: Plan, *, cpu_workers: int | None = None, jobs_per_gpu: int = 1, cpu: bool = False,
                   steps: int = 4) -> int:
    from kdsweep.engine.timing import group_epoch
    from kdsweep.tracking.cost import log_epoch_seconds

    resources = local_resources()
    slots = plan_slots(resources, jobs_per_gpu=jobs_per_gpu, cpu_workers=cpu_workers, force_cpu=cpu)
    device = "cuda" if slots.use_gpu else "cpu"
    measured: list[str] = []

    def measure(configs: list[dict[str, Any]]) -> Any:
        t0 = time.perf_counter()
        prepared = []
        for cfg in configs:
            cfg = {**cfg, "train": {**cfg["train"], "threads": slots.threads}, "device": device}
            prepared.append(cfg)
        cost = group_epoch(prepared, steps=steps, device=device)
        measured.append(f"{len(configs)}-run group in {time.perf_counter() - t0:.1f} s")
        return cost

    t0 = time.perf_counter()
    log_s = log_epoch_seconds()
    est = estimate_plan(plan, measure, slots=slots.concurrency,
                        slot_share=slots.per_job_gpu if slots.use_gpu else 1.0,
                        slot_kind="GPU" if slots.use_gpu else "CPU slot", run_epoch_log_s=log_s)
    where = f"this machine ({slots.description}; measured {len(measured)} group shape(s) in " \
            f"{time.perf_counter() - t0:.0f} s, logging {log_s * 1e3:.0f} ms per run-epoch)"
    print(render_estimate(est, plan.sweep.name, where))
    return 0
