"""Part e: `kdsweep run` itself: Ray placement (`--gpus 0 --jobs-per-gpu 2` on CUDA,
`--cpu-workers 2` on the CPU) and `--inline`, each into its own MLflow store.

Only where Ray and MLflow import (the device machine has neither unless their wheels travel:
benchmarks/README.md). A five-job sweep written here (a teacher stage, then four KD students,
`--no-fuse` so each is a job of its own) on `fake` data; the check reads the store: every run
FINISHED, the slots the jobs ran on (`kdsweep.slot`), and how many ran at once (from the runs'
`kdsweep.started` / `kdsweep.ended` tags).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

from gpu_parts.common import FAILED, PASSED, SKIPPED, Context, PartResult, importable, run_child

TITLE = "e. scheduling: kdsweep run with Ray placement, and --inline, into MLflow"
CORRECTNESS = True
SWEEP = """\
name: gpu_check_placement
base:
  epochs: 1
  data: {name: fake, batch_size: 16, workers: 0, limit: 256, val_limit: 64}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}}
grid:
  optim.lr: [0.01, 0.02, 0.03, 0.04]
"""
JOBS = 5


def run(ctx: Context, result: PartResult) -> None:
    """`--inline` needs MLflow; Ray placement needs Ray too (its wheel alone is over the 64 MiB a
    device call carries: benchmarks/README.md), so each runs where what it needs imports."""
    no_mlflow, no_ray = importable("mlflow"), importable("ray")
    if no_mlflow:
        result.status, result.reason = SKIPPED, f"mlflow does not import here ({no_mlflow})"
        return
    folder = ctx.work / "scheduling"
    folder.mkdir(parents=True, exist_ok=True)
    sweep = folder / "placement.yaml"
    sweep.write_text(SWEEP)
    placement = ["--gpus", "0", "--jobs-per-gpu", "2"] if ctx.cuda else ["--cpu-workers", "2"]
    ways = [("--inline", ["--inline"])]
    if no_ray:
        result.rows.append(
            {"how": "Ray, " + " ".join(placement), "status": f"{SKIPPED}: ray does not import ({no_ray})"}
        )
    else:
        ways.insert(0, ("Ray, " + " ".join(placement), placement))
    failed = []
    for label, flags in ways:
        row = _run_cli(label, flags, sweep, folder / label.split(",")[0].strip("-"), ctx)
        result.rows.append(row)
        if row["status"] != PASSED:
            failed.append(f"{label}: {row['status']}")
    result.notes.append(
        "'most at once' is read from the runs' start and end tags: jobs this small may end "
        "before the next one starts; 'slots planned' is the sweep's hardware tag: what "
        "kdsweep run planned to run on."
    )
    result.status = FAILED if failed else PASSED
    result.reason = (
        "; ".join(failed) or f"{JOBS} jobs {'each way' if len(ways) > 1 else 'inline'}, every run FINISHED"
    )
    if no_ray:
        result.reason += "; Ray placement not run (ray does not import)"


def _run_cli(label: str, flags: list[str], sweep: Path, folder: Path, ctx: Context) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(folder / 'mlflow.db').resolve()}"
    t0 = time.perf_counter()
    proc = run_child(
        ["-m", "kdsweep.cli", "run", str(sweep), "--tracking-uri", uri, "--no-fuse", *flags],
        cwd=folder,
        timeout=ctx.sizes.caps["scheduling"],
    )
    row: dict[str, Any] = {
        "how": label,
        "exit code": proc.returncode,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    runs = _children(uri, "gpu_check_placement")
    statuses = sorted(r.info.status for r in runs)
    row["runs"] = f"{statuses.count('FINISHED')} of {len(runs)} FINISHED"
    slots = Counter(r.data.tags.get("kdsweep.slot", "?") for r in runs)  # `gpu 0`, or `cpu <worker pid>`
    row["slots"] = ", ".join(f"{slot} x{n}" for slot, n in sorted(slots.items()))
    row["most at once"] = _most_at_once(runs)
    row["slots planned"] = _hardware(uri, "gpu_check_placement")
    ok = proc.returncode == 0 and len(runs) == JOBS and statuses == ["FINISHED"] * JOBS
    row["status"] = PASSED if ok else f"{FAILED}: {(proc.stderr.strip().splitlines() or ['?'])[-1][:200]}"
    return row


def _children(uri: str, experiment: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    from kdsweep.tracking.names import TAG_ROLE

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`{TAG_ROLE}` = 'run'", max_results=100
    )


def _hardware(uri: str, experiment: str) -> str:
    """What `kdsweep run` recorded on the sweep's parent run: nodes, CPUs, GPUs and its slots."""
    from mlflow.tracking import MlflowClient

    from kdsweep.tracking.names import TAG_HARDWARE, TAG_ROLE

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    parents = (
        client.search_runs([exp.experiment_id], filter_string=f"tags.`{TAG_ROLE}` = 'sweep'") if exp else []
    )
    return parents[0].data.tags.get(TAG_HARDWARE, "?") if parents else "?"


def _most_at_once(runs: list[Any]) -> int:
    from kdsweep.tracking.names import TAG_ENDED, TAG_STARTED

    spans = []
    for r in runs:
        start, end = r.data.tags.get(TAG_STARTED), r.data.tags.get(TAG_ENDED)
        if start and end:
            spans.append((dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)))
    return max((sum(1 for s, e in spans if s <= start < e) for start, _ in spans), default=0)
