"""Benchmark 4, scheduling: what `kdsweep run` costs per job, and what a second CPU worker gives.

(a) Per-job overhead: a sweep of N tiny jobs (digits_student, one batch of 64 images, one
    epoch, 64 val images; one seed each, so N jobs) run by the real CLI in a fresh process and
    a fresh MLflow store, through Ray (the default slots) and with `--inline`; per job after the
    first = (last run's end - first run's end) / (N - 1), from the runs' kdsweep.ended tags.
    That is everything a job costs besides one batch of training: data loading, MLflow runs,
    params, tags, artifacts, checkpoints, the summary plot, the live view, Ray task start.
(b) Throughput of CPU workers: a sweep of 4 real jobs (digits_student on 300 images, several
    epochs), once as 1 job at a time with 2 threads (`--cpu-workers 1`) and once as 2 jobs at a
    time with 1 thread each (`--cpu-workers 2`); the ratio of wall times, in rounds, alternating.

    python benchmarks/bench_sched.py [--jobs 50] [--rounds 2] [--epochs 6]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sidebyside import Ratio, machine

TINY = """\
name: sched_tiny
base:
  epochs: 1
  device: cpu
  data: {{name: digits, batch_size: 64, workers: 0, limit: 64, val_limit: 64}}
  student: {{arch: digits_student}}
  optim: {{lr: 0.05}}
seeds: [{seeds}]
"""

REAL = """\
name: sched_real
base:
  epochs: {epochs}
  device: cpu
  data: {{name: digits, batch_size: 64, workers: 0, limit: 300}}
  student: {{arch: digits_student}}
  optim: {{lr: 0.05, momentum: 0.9}}
  schedule: {{name: cosine}}
seeds: [0, 1, 2, 3]
"""


def kdsweep(sweep: Path, store: Path, *extra: str) -> float:
    """Wall seconds of `kdsweep run` in a fresh process and a fresh store; fails loudly."""
    cmd = [sys.executable, "-m", "kdsweep.cli", "run", str(sweep), "--tracking-uri", f"sqlite:///{store}",
           "--checkpoint-dir", str(store.parent / (store.stem + "-ckpt")), "--no-system-metrics", *extra]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=store.parent,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return seconds


def ended_times(store: Path) -> list[float]:
    """When each run of the store ended (the worker's ISO 8601 kdsweep.ended tag, as epoch seconds), sorted."""
    import sqlite3
    from datetime import datetime

    with sqlite3.connect(store) as db:
        rows = db.execute("select value from tags where key = 'kdsweep.ended'").fetchall()
    return sorted(datetime.fromisoformat(v).timestamp() for (v,) in rows)


def per_job(root: Path, jobs: int, *extra: str) -> tuple[float, float, float]:
    """(wall of the whole command, seconds until the first job ended, seconds per job after it).

    Per job after the first is read from the runs' own end times, (last end - first end) /
    (jobs - 1): the cluster start, which on a busy machine varies by minutes, is left out.
    """
    sweep = root / f"many{len(extra)}.yaml"
    sweep.write_text(TINY.format(seeds=", ".join(str(s) for s in range(jobs))))
    store = root / f"{'inline' if extra else 'ray'}-{jobs}.db"
    t0 = time.time()
    wall = kdsweep(sweep, store, *extra)
    ends = ended_times(store)
    if len(ends) != jobs:
        raise SystemExit(f"{store}: {len(ends)} of {jobs} runs ended")
    return wall, ends[0] - t0, (ends[-1] - ends[0]) / (jobs - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=6, help="epochs of each job in (b)")
    ap.add_argument("--skip-workers", action="store_true", help="only (a)")
    args = ap.parse_args()
    print(f"# 4. scheduling ({machine()})")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ray_wall, ray_first, ray_each = per_job(root, args.jobs)
        inline_wall, inline_first, inline_each = per_job(root, args.jobs, "--inline")
        print(f"{args.jobs} tiny jobs (one batch each), seconds per job after the first (from the runs' end "
              f"times): Ray {ray_each:.2f} s (2 workers), --inline {inline_each:.2f} s; first job ended after "
              f"{ray_first:.1f} s / {inline_first:.1f} s; whole command {ray_wall:.1f} s / {inline_wall:.1f} s")
        if args.skip_workers:
            return
        real = root / "real.yaml"
        real.write_text(REAL.format(epochs=args.epochs))
        one, two = [], []
        for r in range(args.rounds):
            order = [("1", one), ("2", two)] if r % 2 == 0 else [("2", two), ("1", one)]
            for workers, times in order:
                times.append(kdsweep(real, root / f"w{workers}-{r}.db", "--cpu-workers", workers))
        ratio = Ratio([a / b for a, b in zip(one, two, strict=True)])
        print(f"4 jobs x {args.epochs} epochs (digits_student, 300 images): 1 worker x 2 threads "
              f"{min(one):.1f} s, 2 workers x 1 thread {min(two):.1f} s (best of {args.rounds}); "
              f"throughput 2 workers / 1: {ratio}")


if __name__ == "__main__":
    main()
