"""`kdsweep status`: where each planned run stands, read from MLflow alone.

The plan says which runs should exist; MLflow says what happened to them. A run with no
child yet is "not started", so the table always has one row per planned run and shows what
is missing, not only what ran. Reading creates nothing in the store.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from kdsweep.plan.build import Plan
from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.run_lookup import RunInfo, children_by_key, find_experiment_id, search_all
from kdsweep.tracking.store import check_store, open_client, resolve_tracking_uri, sqlite_path

# (plan, {run key: RunInfo}) -> changes with .key and .what: execute.data_check.data_changes, handed in
# by the CLI (tracking imports no engine, which fingerprints the data).
DataCheck = Callable[[Plan, dict[str, RunInfo]], list[Any]]
NOT_STARTED = "not started"
ORPHANED = "its driver is gone; `kdsweep run` resumes it"
STATES = (RunStatus.FINISHED, RunStatus.PRUNED, RunStatus.RUNNING, RunStatus.PENDING, RunStatus.FAILED,
          RunStatus.KILLED, RunStatus.NOT_RUN, NOT_STARTED)  # the order `status_counts` lists them in
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


def _store_exists(uri: str) -> bool:
    path = sqlite_path(uri)
    return path is None or Path(path).is_file()


def _driver_alive(client, experiment_id: str, sweep: str) -> bool:  # noqa: ANN001 - an MlflowClient
    """A `kdsweep run` holds the sweep's lock (a live holder on this host, a fresh heartbeat elsewhere)."""
    from kdsweep.tracking.lock import Holder

    parents = search_all(client, experiment_id, f"tags.`{names.TAG_ROLE}` = '{names.ROLE_SWEEP}'")
    holders = [Holder.parse(dict(p.data.tags)) for p in parents if p.data.tags.get(names.TAG_SWEEP) == sweep]
    return any(h is not None and h.state(Holder.STALE_AFTER_S) != "dead" for h in holders)


def sweep_status(uri: str, plan: Plan, check_data: DataCheck | None = None) -> pd.DataFrame:
    """One row per planned run (plan order: stages first), its latest child's state and progress.
    A RUNNING run whose driver is gone (killed, its node lost) says so and how to resume it; with
    `check_data` (execute/data_check.py), a finished run whose data changed since says what changed."""
    children: dict[str, RunInfo] = {}
    driver_alive = True
    if _store_exists(uri):  # opening a missing SQLite store would create it
        client = open_client(uri)
        experiment_id = find_experiment_id(client, plan.sweep.name)
        if experiment_id:
            children = children_by_key(client, experiment_id, plan.sweep.name)
            driver_alive = _driver_alive(client, experiment_id, plan.sweep.name)
    rows = [_row(run, children.get(run.key)) for run in plan.runs]
    changed = {c.key: c.what for c in check_data(plan, children)} if check_data is not None and children else {}
    for run, row in zip(plan.runs, rows, strict=True):
        if run.key in changed:
            row["reason"] = f"data changed since: {changed[run.key]} (kdsweep run --rerun-changed or --accept-data)"
    if not driver_alive:
        for row in rows:
            if row["state"] == RunStatus.RUNNING:
                row["reason"] = ORPHANED
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["epoch"] = df["epoch"].astype("int64")
    df["epochs"] = df["epochs"].astype("Int64")
    return df


def status_counts(df: pd.DataFrame) -> dict[str, int]:
    """Runs per state, in a fixed order (FINISHED first, "not started" last), states with none left out."""
    counts = df["state"].value_counts().to_dict() if len(df) else {}
    ordered = {str(state): int(counts.pop(state)) for state in STATES if state in counts}
    ordered.update({str(k): int(v) for k, v in counts.items()})  # a status tag written by a newer kdsweep
    return ordered



def _cell(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_status(df: pd.DataFrame) -> str:
    """The table as plain aligned text (readable in a terminal, a log file or CI output):
    words left-aligned, numbers right-aligned."""
    header = ["key", "name", "stage", "state", "epoch", "best top-1", "last top-1", "reason"]
    numeric = {"epoch", "best top-1", "last top-1"}
    rows = [[str(r.key), str(r.name), str(r.stage), str(r.state),
             f"{r.epoch}/{r.epochs}" if not pd.isna(r.epochs) else str(r.epoch),
             _cell(r.best_val_acc1), _cell(r.val_acc1), str(r.reason)] for r in df.itertuples(index=False)]
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if h in numeric else c.ljust(w)
                         for c, w, h in zip(cells, widths, header, strict=True)).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def print_status(plan: Plan, tracking_uri: str | None = None, *, results_dir: Path = Path("results"),
                 out: TextIO | None = None, check_data: DataCheck | None = None) -> int:
    """`kdsweep status`: a counts line and the per-run table; exit code 0 (a report, not a verdict).

    `tracking_uri` is the --tracking-uri value (None: MLFLOW_TRACKING_URI, else the default store).
    An unreachable store fails in one line; a store that does not exist yet means nothing ran.
    """
    out = out or sys.stdout
    uri = resolve_tracking_uri(tracking_uri, results_dir)
    if _store_exists(uri):
        check_store(uri, writes=False)
    df = sweep_status(uri, plan, check_data)
    counts = ", ".join(f"{n} {state}" for state, n in status_counts(df).items())
    print(f"{plan.sweep.name}: {len(df)} runs: {counts}  (store {uri})", file=out)
    print(format_status(df), file=out)
    if len(df) and (df["state"] == NOT_STARTED).all() and _store_exists(uri):
        for line in _elsewhere(uri, plan):
            print(f"note: {line}", file=out)
    return 0


def _elsewhere(uri: str, plan: Plan) -> list[str]:
    """Where this sweep's runs are when none of this plan's are: under other -o overrides (other run
    keys), or in its smoke / fake-data experiment (other options than this command was given)."""
    from kdsweep.plan.smoke import FAKE, SMOKE

    client = open_client(uri)
    name = plan.sweep.name
    base = name.removesuffix(f"-{plan.sweep.faked}") if plan.sweep.faked else name
    lines = []
    experiment_id = find_experiment_id(client, name)
    held = len(children_by_key(client, experiment_id, name)) if experiment_id else 0
    if held:
        lines.append(f"the store holds {held} run(s) of sweep {name!r} with other run keys; pass the -o "
                     "overrides `kdsweep run` was given")
    options = {base: "without --smoke or -o data.name=fake", f"{base}-{SMOKE}": "with --smoke",
               f"{base}-{FAKE}": "with -o data.name=fake"}
    for other, how in options.items():
        if other != name and find_experiment_id(client, other):
            lines.append(f"the store holds experiment {other!r}: run kdsweep status {how} to see it")
    return lines
