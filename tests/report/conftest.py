"""A real MLflow SQLite store, filled the way `kdsweep run` fills it, for the report tests.

One store per test session (creating a SQLite schema costs seconds); every test plans its
own sweep with its own name, so each test reads its own experiment. Runs are written with
the names in `kdsweep.tracking.names`, which is the whole contract between tracking and
report: if these helpers and the tracking layer agree on names, the report reads both.
"""

from __future__ import annotations

import itertools
import json
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import Metric, Param

from kdsweep.plan import Plan, PlannedRun, plan_sweep
from kdsweep.spec.dotted import flatten
from kdsweep.tracking import names
from kdsweep.tracking.store import open_client

TERMINAL = {"FINISHED": "FINISHED", "FAILED": "FAILED", "KILLED": "KILLED", "NOT_RUN": "KILLED"}
_clock = itertools.count(1_700_000_000_000, 60_000)  # start times: later calls are later runs


@dataclass
class SweepStore:
    client: object
    plan: Plan
    experiment_id: str
    parent_id: str

    def run(self, which: str | PlannedRun, status: str = "FINISHED", *, best: float | None = None,
            history: dict[str, list[float]] | None = None, reason: str = "", log_params: bool = False,
            **summary: float) -> str:
        """A child run for a planned run (by name, e.g. "alpha=0.9 T=1", or PlannedRun), as tracking writes it.

        The config params are written only when asked (`log_params=True`): the report reads the
        config from the plan, and ~100 params per run would double the time these tests take.
        """
        planned = which if isinstance(which, PlannedRun) else self.planned(which)
        tags = {
            names.TAG_SWEEP: self.plan.sweep.name,
            names.TAG_ROLE: "run",
            names.TAG_RUN_KEY: planned.key,
            names.TAG_STAGE: planned.stage or "",
            names.TAG_GROUP: planned.group,
            names.TAG_POINT: json.dumps(planned.point),
            names.TAG_STATUS: status,
            names.MLFLOW_PARENT: self.parent_id,
        }
        if reason:
            tags[names.TAG_REASON] = reason
        for axis, value in planned.point.items():
            tags[names.TAG_AXIS_PREFIX + axis] = json.dumps(value)
        run = self.client.create_run(self.experiment_id, start_time=next(_clock), tags=tags, run_name=planned.name)
        run_id = run.info.run_id
        params = [Param(k, names.param_value(v)) for k, v in flatten(planned.config).items()] if log_params else []
        metrics = []
        for metric, values in (history or {}).items():
            metrics.extend(Metric(metric, v, 0, epoch) for epoch, v in enumerate(values, start=1))
        if best is not None:
            summary["best_val_acc1"] = best
        metrics.extend(Metric(k, v, 0, 0) for k, v in summary.items())
        for i in range(0, len(params), 100):
            self.client.log_batch(run_id, params=params[i:i + 100])
        if metrics:
            self.client.log_batch(run_id, metrics=metrics)
        if status in TERMINAL:
            self.client.set_terminated(run_id, TERMINAL[status])
        return run_id

    def planned(self, name: str) -> PlannedRun:
        found = [r for r in self.plan.runs if r.name == name]
        assert len(found) == 1, f"no single planned run named {name!r}: {[r.name for r in self.plan.runs]}"
        return found[0]


class Store:
    def __init__(self, root: Path, template: Path | None = None):
        self.root = root
        db = root / "mlflow.db"
        if template is not None and template.is_file():
            shutil.copyfile(template, db)
        self.uri = f"sqlite:///{db}"
        self.client = open_client(self.uri)
        self.client.search_experiments(max_results=1)  # creates the schema when there was no template
        if template is not None and not template.is_file():
            shutil.copyfile(db, template)

    def sweep(self, plan: Plan, *, hardware: str = "") -> SweepStore:
        """The sweep's experiment and parent run, as the driver creates them before any job starts."""
        name = plan.sweep.name
        art = (self.root / "artifacts" / name).as_uri()
        experiment_id = self.client.create_experiment(name, artifact_location=art)
        tags = {names.TAG_SWEEP: name, names.TAG_ROLE: "sweep"}
        if hardware:
            tags[names.TAG_HARDWARE] = hardware
        parent = self.client.create_run(experiment_id, start_time=next(_clock), tags=tags, run_name=name)
        return SweepStore(self.client, plan, experiment_id, parent.info.run_id)


@pytest.fixture(scope="session")
def store(tmp_path_factory, request) -> Store:
    """One store for the session. Its empty schema is kept in pytest's cache between sessions:
    MLflow's migrations take seconds, and an empty migrated database is the same every time."""
    template = None
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        template = cache.mkdir(f"kdsweep-mlflow-{mlflow.__version__}") / "empty.db"
    return Store(tmp_path_factory.mktemp("mlflow"), template)


@pytest.fixture
def plan_yaml(tmp_path):
    """plan_yaml(text) -> Plan of a sweep file written to tmp_path (dedented)."""

    def plan(text: str) -> Plan:
        path = tmp_path / "sweep.yaml"
        path.write_text(textwrap.dedent(text))
        return plan_sweep(path)

    return plan


@pytest.fixture
def planned(tmp_path):
    """planned(template, name) -> Plan of the sweep text with `{name}` filled (each test its own sweep)."""

    def plan(template: str, name: str) -> Plan:
        path = tmp_path / f"{name}.yaml"
        path.write_text(template.replace("name: {name}", f"name: {name}", 1))
        return plan_sweep(path)

    return plan
