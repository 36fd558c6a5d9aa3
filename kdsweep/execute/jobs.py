"""Jobs: what the executor schedules, built from the plan and what MLflow already holds.

A job is one fused group (or one run with --no-fuse) minus its finished runs. Jobs know
which other jobs hold their teacher / init stages, so the runner can hand Ray the
dependency as a task argument and never needs a batch barrier.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kdsweep.plan import Plan, PlannedRun


@dataclass
class RunTicket:
    """One run inside a job: its planned config plus where it logs and checkpoints."""

    key: str
    name: str
    run_id: str
    config: dict
    workdir: str
    epochs: int


@dataclass
class Job:
    id: str  # group id
    runs: list[RunTicket]
    depends_on: list[str] = field(default_factory=list)  # run keys needed first (teacher / init stages)
    # The driver's claim on the sweep (tracking.lock): a job whose driver was taken over stops.
    parent_run_id: str = ""
    generation: int = 0

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.runs]

    def payload(self) -> dict:
        """Plain data for the worker (picklable, any node)."""
        return {"id": self.id, "runs": [dict(t.__dict__) for t in self.runs],
                "parent_run_id": self.parent_run_id, "generation": self.generation}

    @property
    def label(self) -> str:
        names = ", ".join(r.name for r in self.runs)
        return f"{self.id} [{names}]" if len(self.runs) > 1 else f"{self.id} {names}"


def absolutize_paths(config: dict, cwd: Path) -> dict:
    """Relative data / checkpoint paths are relative to where `kdsweep run` was started.

    Ray workers run in their own directories (and maybe on other nodes), so they get absolute
    paths. These keys are outside the run key or already hashed, so keys do not change.
    """
    out = copy.deepcopy(config)

    def fix(section: dict | None, key: str) -> None:
        if isinstance(section, dict) and isinstance(section.get(key), str):
            path = Path(os.path.expanduser(section[key]))
            section[key] = str(path if path.is_absolute() else (cwd / path).resolve())

    fix(out.get("data"), "root")
    fix(out.get("teacher"), "checkpoint")
    fix(out["student"].get("init"), "checkpoint")
    return out


def workdir_for(checkpoint_root: Path, sweep: str, key: str) -> Path:
    return checkpoint_root / sweep / key


def build_jobs(plan: Plan, prepared: dict, checkpoint_root: Path, *, cwd: Path | None = None) -> list[Job]:
    """Jobs for every group with at least one run to train, in plan order.

    `prepared` maps run key -> object with `run_id` and `action` ("skip" / "resume" / "new"),
    as tracking's `SweepTracker.prepare` returns. A "new" run starts from an empty work
    directory, so a stale checkpoint of an earlier attempt never leaks into it.
    """
    cwd = cwd or Path.cwd()
    jobs: dict[str, Job] = {}
    for run in plan.runs:
        prep = prepared[run.key]
        if prep.action == "skip":
            continue
        workdir = workdir_for(checkpoint_root, plan.sweep.name, run.key)
        if prep.action == "new" and workdir.exists():
            shutil.rmtree(workdir)
        ticket = RunTicket(key=run.key, name=_display_name(run), run_id=prep.run_id,
                           config=absolutize_paths(run.config, cwd), workdir=str(workdir),
                           epochs=int(run.config["epochs"]))
        job = jobs.setdefault(run.group, Job(id=run.group, runs=[]))
        job.runs.append(ticket)
        for dep in run.depends_on:
            if dep not in job.depends_on:
                job.depends_on.append(dep)
    return list(jobs.values())


def _display_name(run: PlannedRun) -> str:
    return f"stage {run.stage}" if run.stage else run.name
