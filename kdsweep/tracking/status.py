"""`kdsweep status`: where each planned run stands, read from MLflow alone.

The plan says which runs should exist; MLflow says what happened to them. A run with no
child yet is "not started", so the table always has one row per planned run and shows what
is missing, not only what ran. Reading creates nothing in the store.
"""

from __future__ import annotations

import math

import pandas as pd

from kdsweep.plan.build import Plan
from kdsweep.tracking.store import open_client
from kdsweep.tracking.sweep import RunInfo, children_by_key, find_experiment_id

NOT_STARTED = "not started"
STATES = ("FINISHED", "RUNNING", "PENDING", "FAILED", "KILLED", "NOT_RUN", NOT_STARTED)
COLUMNS = ("key", "name", "stage", "state", "epoch", "epochs", "best_val_acc1", "val_acc1", "reason", "run_id")


def _row(run, info: RunInfo | None) -> dict:
    epochs = run.config.get("epochs")
    row = {
        "key": run.short,
        "name": run.name,
        "stage": run.stage or "",
        "state": NOT_STARTED,
        "epoch": 0,
        "epochs": int(epochs) if isinstance(epochs, int | float) else None,
        "best_val_acc1": math.nan,
        "val_acc1": math.nan,  # the last epoch's, so a running run shows where it is
        "reason": "",
        "run_id": "",
    }
    if info is not None:
        row.update(state=info.kdsweep_status, epoch=info.epoch or 0, reason=info.reason or "", run_id=info.run_id,
                   best_val_acc1=info.metrics.get("best_val_acc1", math.nan),
                   val_acc1=info.metrics.get("val_acc1", math.nan))
    return row


def sweep_status(uri: str, plan: Plan) -> pd.DataFrame:
    """One row per planned run (plan order: stages first), its latest child's state and progress."""
    client = open_client(uri)
    experiment_id = find_experiment_id(client, plan.sweep.name)
    children = children_by_key(client, experiment_id, plan.sweep.name) if experiment_id else {}
    df = pd.DataFrame([_row(run, children.get(run.key)) for run in plan.runs], columns=list(COLUMNS))
    df["epoch"] = df["epoch"].astype("int64")
    df["epochs"] = df["epochs"].astype("Int64")
    return df


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """Runs per state, in a fixed order (FINISHED first, "not started" last), states with none left out."""
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    ordered = {state: int(counts.pop(state)) for state in STATES if state in counts}
    ordered.update({str(k): int(v) for k, v in counts.items()})  # a status tag written by a newer kdsweep
    return ordered

