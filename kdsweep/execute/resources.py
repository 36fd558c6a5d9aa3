"""How many jobs run at once, and what each asks Ray for.

GPU jobs ask for `1 / jobs_per_gpu` GPU so Ray pins them with CUDA_VISIBLE_DEVICES; CPU
jobs ask for a share of the cores so `--cpu-workers N` jobs run side by side without
oversubscribing threads. The numbers come from Ray's view of the cluster, so the same code
places jobs on one laptop, one 8-GPU box or a multi-node cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kdsweep.errors import UserError

# Without GPUs, jobs run side by side with one thread each, one per core, up to this many:
# small CPU models scale across processes, not across threads (benchmarks/README.md,
# benchmark 4: 2 jobs x 1 thread vs 1 job x 2 threads on 2 cores). The cap bounds memory:
# every worker holds its own torch (~1 GB resident with its data and models).
MAX_DEFAULT_CPU_WORKERS = 8


def default_cpu_workers(cpus: float) -> int:
    return max(1, min(int(cpus), MAX_DEFAULT_CPU_WORKERS))


@dataclass(frozen=True)
class Slots:
    use_gpu: bool
    per_job_gpu: float  # 1 / jobs_per_gpu, or 0
    per_job_cpu: float  # Ray CPUs (= torch threads) per job
    concurrency: int  # how many jobs can run at once on this cluster
    description: str

    def ray_options(self) -> dict:
        if self.use_gpu:
            return {"num_gpus": self.per_job_gpu, "num_cpus": self.per_job_cpu}
        return {"num_cpus": self.per_job_cpu}

    @property
    def threads(self) -> int:
        return max(1, int(self.per_job_cpu))


def plan_slots(cluster: dict[str, float], *, jobs_per_gpu: int = 1, cpu_workers: int | None = None,
               force_cpu: bool = False) -> Slots:
    """Slots from Ray's cluster resources ({"CPU": n, "GPU": m})."""
    if jobs_per_gpu < 1:
        raise UserError(f"--jobs-per-gpu: expected at least 1, got {jobs_per_gpu}")
    if cpu_workers is not None and cpu_workers < 1:
        raise UserError(f"--cpu-workers: expected at least 1, got {cpu_workers}")
    cpus = float(cluster.get("CPU", 0)) or float(os.cpu_count() or 1)
    gpus = 0.0 if force_cpu else float(cluster.get("GPU", 0))
    if gpus >= 1:
        concurrency = int(gpus) * jobs_per_gpu
        per_cpu = max(1.0, float(int(cpus // concurrency))) if cpus >= concurrency else round(cpus / concurrency, 3)
        return Slots(True, 1.0 / jobs_per_gpu, per_cpu, concurrency,
                     f"{int(gpus)} GPU x {jobs_per_gpu} job(s), {per_cpu:g} CPU each")
    workers = cpu_workers or default_cpu_workers(cpus)
    if workers > cpus:
        raise UserError(f"--cpu-workers {workers}: the cluster has only {cpus:g} CPUs")
    per_cpu = float(int(cpus // workers))
    return Slots(False, 0.0, per_cpu, workers, f"CPU only: {workers} job(s) x {per_cpu:g} threads")


def parse_gpu_list(text: str | None) -> list[int] | None:
    """`--gpus 0,2` -> [0, 2]."""
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise UserError(f"--gpus {text!r}: expected device numbers like 0,2") from None
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0:
        raise UserError(f"--gpus {text!r}: expected distinct device numbers like 0,2")
    return ids
