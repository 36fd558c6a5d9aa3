"""Read a sweep's runs back from MLflow, one row per planned run key.

The plan, not the store, decides which rows exist: a run that never started, or whose
child run was lost, still gets its row with status "not run", so a table can say so
instead of silently shrinking. The store only fills in status, metrics and history.
Runs are found through the names in `kdsweep.tracking.names`, the contract with the
tracking layer that wrote them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run

from kdsweep.metric_names import plain_metrics, stored_names
from kdsweep.plan.build import Plan, PlannedRun, run_name
from kdsweep.spec.dotted import flatten
from kdsweep.status import RunStatus
from kdsweep.tracking.names import (
    SUMMARY_METRICS,
    SYSTEM_METRIC_PREFIX,
    TAG_HARDWARE,
    TAG_REASON,
    TAG_ROLE,
    TAG_RUN_KEY,
    TAG_STATUS,
)
from kdsweep.tracking.run_lookup import search_all
from kdsweep.tracking.store import open_client, with_retry

# The `status` column holds display words (RunStatus.word): what a cell says for a run that
# has no number (yet). Tags carry the upper-case names.
FINISHED = RunStatus.FINISHED.word
NOT_RUN = RunStatus.NOT_RUN.word

# Metadata columns of `load_runs`; the config's dotted keys and the summary metrics follow.
META_COLUMNS = ("key", "name", "row", "stage", "group", "point", "seed", "status", "reason", "run_id",
                "start_time", "config")
HISTORY_PREFIX = "history."


@dataclass
class SweepRecord:
    """What the store holds for one sweep: its experiment, parent run and the children by run key."""

    client: MlflowClient
    experiment_id: str | None
    parent: Run | None = None
    children: dict[str, list[Run]] = field(default_factory=dict)

    @property
    def n_children(self) -> int:
        return sum(len(v) for v in self.children.values())

    @property
    def hardware(self) -> str:
        return (self.parent.data.tags.get(TAG_HARDWARE, "") if self.parent else "") or ""


def read_sweep(uri: str, plan: Plan) -> SweepRecord:
    """One search over the sweep's experiment (named after the sweep); no experiment is not an error."""
    client = open_client(uri)
    experiment = with_retry(client.get_experiment_by_name, plan.sweep.name)
    if experiment is None:
        return SweepRecord(client=client, experiment_id=None)
    record = SweepRecord(client=client, experiment_id=experiment.experiment_id)
    parents = []
    for run in search_all(client, experiment.experiment_id):
        tags = run.data.tags
        if tags.get(TAG_ROLE) == "sweep":
            parents.append(run)
        elif TAG_RUN_KEY in tags:
            record.children.setdefault(tags[TAG_RUN_KEY], []).append(run)
    if parents:
        record.parent = max(parents, key=lambda r: r.info.start_time or 0)
    return record


def run_status(run: Run) -> str:
    """The display word for a child: its kdsweep.status tag, else MLflow's own run status."""
    raw = run.data.tags.get(TAG_STATUS) or run.info.status
    known = RunStatus.parse(raw)  # MLflow's SCHEDULED is pending
    return known.word if known else str(raw).lower()


def pick_run(runs: list[Run]) -> Run | None:
    """Of the children sharing a run key (reruns): the latest finished one, else the latest."""
    if not runs:
        return None
    by_time = sorted(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))
    finished = [r for r in by_time if run_status(r) == FINISHED]
    return (finished or by_time)[-1]


def row_name(run: PlannedRun, labels: dict | None = None) -> str:
    """The run's name without its seed: the name of the row its seeds share in a list table."""
    if run.stage:
        return run.stage
    return run_name({k: v for k, v in run.point.items() if k != "seed"}, labels)


def frame(record: SweepRecord, plan: Plan, *, history: Iterable[str] = ()) -> pd.DataFrame:
    """The runs table of `load_runs` from an already-read record (one search serves many tables)."""
    history = list(dict.fromkeys(history))
    rows: list[dict[str, Any]] = []
    for planned in plan.runs:
        run = pick_run(record.children.get(planned.key, []))
        row: dict[str, Any] = {
            "key": planned.key,
            "name": planned.name,
            "row": row_name(planned, plan.sweep.labels),
            "stage": planned.stage or "",
            "group": planned.group,
            "point": dict(planned.point),
            "seed": planned.config.get("seed"),
            "status": run_status(run) if run else NOT_RUN,
            "reason": (run.data.tags.get(TAG_REASON, "") if run else "") or "",
            "run_id": run.info.run_id if run else None,
            "start_time": run.info.start_time if run else None,
            "config": planned.config,
        }
        metrics = plain_metrics(run.data.metrics) if run else {}
        for name in SUMMARY_METRICS:
            row[name] = float(metrics[name]) if name in metrics else float("nan")
        for name, value in metrics.items():
            if not name.startswith(SYSTEM_METRIC_PREFIX):
                row.setdefault(name, float(value))
        for name in history:
            row[HISTORY_PREFIX + name] = _history(record.client, run, name)
        for dotted, value in flatten(planned.config).items():
            row.setdefault(dotted, value)
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["experiment_id"] = record.experiment_id
    df.attrs["n_children"] = record.n_children
    df.attrs["parent_run_id"] = record.parent.info.run_id if record.parent else None
    df.attrs["hardware"] = record.hardware
    return df


def _history(client: MlflowClient, run: Run | None, metric: str) -> dict[int, float]:
    """{epoch: value} for one per-epoch metric; the last value logged at a step wins (resumed runs)."""
    if run is None:
        return {}
    history = [point for key in stored_names(metric)  # `curves/val_acc1`, or an older run's `val_acc1`
               for point in with_retry(client.get_metric_history, run.info.run_id, key)]
    points = sorted(history, key=lambda m: (m.step, m.timestamp))
    return {int(m.step): float(m.value) for m in points}


def load_runs(uri: str, plan: Plan, *, history: Iterable[str] = ()) -> pd.DataFrame:
    """One row per planned run: key, names, stage, point, seed, status, summary metrics and config.

    Columns: the metadata in `META_COLUMNS` (status is a display word: finished, failed, killed,
    not run, running, pending), each summary metric (NaN when not logged), any other metric the
    run logged (its last value), every dotted config key of the resolved config, and for each
    metric named in `history` a column `history.<metric>` holding {epoch: value}.
    """
    return frame(read_sweep(uri, plan), plan, history=history)


def canonical(value: Any) -> str:
    """A comparable text for a config value: 3 and 3.0 are one value, dict order does not matter."""
    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {str(k): norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, default=str)
