"""A sweep's runs as the DataFrames a notebook wants (`kdsweep.runs`): one row per planned run, or
its per-epoch metrics in long form, shaped like `mlflow.search_runs()` and Optuna's
`trials_dataframe()` (flat columns, timestamps as datetimes), read from MLflow only.

The wide table of `query.frame` (every config key, ~100 columns) feeds the report's tables;
these frames keep what an analysis starts from: the run, its axes, its status and its numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from kdsweep.metric_names import plain_metrics
from kdsweep.plan.build import Plan
from kdsweep.report.query import HISTORY_PREFIX, SweepRecord, frame, pick_run
from kdsweep.spec.dotted import get_path
from kdsweep.tracking.names import SUMMARY_METRICS, SYSTEM_METRIC_PREFIX

RUN_COLUMNS = ("key", "name", "stage", "group")  # then the axes, then STATE_COLUMNS, then the summary metrics
STATE_COLUMNS = ("status", "reason", "run_id", "start_time")
HISTORY_COLUMNS = ("metric", "epoch", "value")


def _axes(plan: Plan) -> list[str]:
    """The sweep's axes, then `seed` (a column even for a single seed: it says which one ran)."""
    return [a for a in plan.axes if a != "seed"] + ["seed"]


def _axis_value(row: dict, axis: str) -> Any:
    """As the sweep wrote it when the axis is in the run's point, else the run's config value."""
    return row["point"][axis] if axis in row["point"] else get_path(row["config"], axis)


def summary_frame(record: SweepRecord, plan: Plan) -> pd.DataFrame:
    """One row per planned run: key, name, stage, group, each axis, seed, status, reason, run_id,
    start_time (UTC) and each summary metric (NaN until the run finished)."""
    wide = frame(record, plan)
    axes = _axes(plan)
    rows = []
    for row in wide.to_dict("records"):
        out = {c: row[c] for c in RUN_COLUMNS}
        out.update({axis: _axis_value(row, axis) for axis in axes})
        out.update({c: row[c] for c in STATE_COLUMNS})
        out.update({m: row[m] for m in SUMMARY_METRICS})
        rows.append(out)
    df = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *axes, *STATE_COLUMNS, *SUMMARY_METRICS])
    df["start_time"] = pd.to_datetime(df["start_time"], unit="ms", utc=True)
    df.attrs.update(wide.attrs)
    return df


def epoch_metrics(record: SweepRecord, plan: Plan) -> list[str]:
    """Every per-epoch metric the sweep's runs logged (loss terms included), in name order."""
    found: set[str] = set()
    for planned in plan.runs:
        run = pick_run(record.children.get(planned.key, []))
        if run is not None:
            found.update(m for m in plain_metrics(run.data.metrics)
                         if m not in SUMMARY_METRICS and not m.startswith(SYSTEM_METRIC_PREFIX))
    return sorted(found)


def history_frame(record: SweepRecord, plan: Plan, metrics: Iterable[str] | None = None) -> pd.DataFrame:
    """Long form: one row per run, metric and epoch (key, name, stage, group, axes, seed, status,
    run_id, metric, epoch, value); `metrics` None: every per-epoch metric logged."""
    names = list(metrics) if metrics is not None else epoch_metrics(record, plan)
    wide = frame(record, plan, history=names)
    axes = _axes(plan)
    columns = [*RUN_COLUMNS, *axes, "status", "run_id", *HISTORY_COLUMNS]
    rows = []
    for row in wide.to_dict("records"):
        ident = {c: row[c] for c in RUN_COLUMNS}
        ident.update({axis: _axis_value(row, axis) for axis in axes})
        ident.update(status=row["status"], run_id=row["run_id"])
        for name in names:
            for epoch, value in sorted((row.get(HISTORY_PREFIX + name) or {}).items()):
                rows.append({**ident, "metric": name, "epoch": epoch, "value": value})
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(wide.attrs)
    return df
