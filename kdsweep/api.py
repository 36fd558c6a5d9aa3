"""kdsweep from Python: a sweep's plan, its runs as a DataFrame, its tables, a run (issue 24).

    import kdsweep
    plan = kdsweep.load_sweep("sweeps/quickstart.yaml", overrides={"epochs": 1})
    kdsweep.run(plan, cpu=True)                 # as `kdsweep run`: the same options, by the same names
    df = kdsweep.runs(plan)                     # one row per planned run: axes, status, summary metrics
    curves = kdsweep.runs(plan, history=True)   # per-epoch metrics in long form
    kdsweep.table(plan).markdown                # a declared table, as text and as a DataFrame

Every function takes a planned sweep or a sweep file's path (then with `overrides`, as `-o`
takes them). The names follow the tools a notebook already uses: `mlflow.search_runs()` and
Optuna's `trials_dataframe()` give DataFrames, `optuna.load_study` loads. Everything heavy
(MLflow, pandas, Ray, torch) is imported by the function that needs it: `import kdsweep` stays
as cheap as `kdsweep --help`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.plan import Plan, plan_sweep

if TYPE_CHECKING:  # annotations only: pandas and the executor load when a function runs
    import pandas as pd

    from kdsweep.execute.runner import SweepOutcome
    from kdsweep.report.cells import RenderedTable

Overrides = Iterable[str] | Mapping[str, Any] | None
SweepLike = Plan | str | Path


def load_sweep(path: str | Path, overrides: Overrides = None, *, fuse: bool = True, smoke: bool = False) -> Plan:
    """The sweep file, checked and planned, as `kdsweep plan` shows it: `.runs` (each with its key,
    name, point and resolved config), `.axes`, `.stages`, `.sweep` (the file as read).

    `overrides`: `{"epochs": 1, "seeds": [0]}` or `["epochs=1", "seeds=[0]"]` (values read as YAML,
    as `-o` reads them); they reach what `-o` reaches (README, "The sweep file"). A mistake in the
    file raises `kdsweep.errors.UserError`, one line naming the file and key; a plan's warnings
    (legal but probably not meant) are Python warnings. `smoke=True` is --smoke: fake images shaped like
    the data set, a few steps, one seed, in the experiment `<name>-smoke` (plan/smoke.py).
    """
    plan = plan_sweep(path, overrides, fuse=fuse, smoke=smoke)
    for line in plan.warnings:
        warnings.warn(line, UserWarning, stacklevel=2)
    return plan


def _plan(sweep: SweepLike, overrides: Overrides, fuse: bool = True) -> Plan:
    if isinstance(sweep, Plan):
        if overrides or not fuse:
            raise UserError("this sweep is planned already: give overrides and fuse to "
                            "kdsweep.load_sweep(path, overrides=..., fuse=...)")
        return sweep
    return plan_sweep(sweep, overrides, fuse=fuse)


def _store(tracking_uri: str | None) -> str | None:
    """The store's URI, or None for a SQLite store that does not exist yet (read as empty, not created)."""
    from kdsweep.tracking.store import resolve_tracking_uri, sqlite_path

    uri = resolve_tracking_uri(tracking_uri)
    path = sqlite_path(uri)
    return None if path is not None and not Path(path).expanduser().exists() else uri


def runs(sweep: SweepLike, *, overrides: Overrides = None, tracking_uri: str | None = None,
         history: bool | Iterable[str] = False) -> pd.DataFrame:
    """The sweep's runs from MLflow as a pandas DataFrame, one row per planned run.

    Columns: key, name, stage, group, one per axis (as the sweep wrote the value), seed, status
    (finished, running, failed, not run, ...), reason, run_id, start_time, and the summary metrics
    (best_val_acc1, best_epoch, final_val_acc1, train_val_gap, params, flops, ...; NaN until the
    run finished). A run that never started keeps its row (`not run`).

    `history=True`: instead, the per-epoch metrics in long form (the run's columns, then metric,
    epoch, value), ready for `pivot_table` or seaborn; a list of names (`["val_acc1"]`) reads
    only those. `tracking_uri`: as `--tracking-uri` (default $MLFLOW_TRACKING_URI, else
    results/mlflow.db). A search's trials are `kdsweep.trials()`.
    """
    from kdsweep.report.frames import history_frame, summary_frame
    from kdsweep.report.query import SweepRecord, read_sweep

    plan = _plan(sweep, overrides)
    uri = _store(tracking_uri)
    record = read_sweep(uri, plan) if uri else SweepRecord(client=None, experiment_id=None)
    if history is False:
        return summary_frame(record, plan)
    return history_frame(record, plan, None if history is True else list(history))


def trials(sweep: SweepLike, *, overrides: Overrides = None, tracking_uri: str | None = None) -> pd.DataFrame:
    """A search sweep's trials, one row each: trial, state, each parameter, the metric (mean over the
    trial's seeds), epochs trained, runs, status. The Optuna study itself is in
    results/optuna/<sweep>.journal, each trial with its MLflow run ids (user attribute mlflow_run_id)."""
    import pandas as pd

    from kdsweep.report.search import load_trials

    plan = _plan(sweep, overrides)
    if plan.sweep.search is None:
        raise UserError(f"sweep {plan.sweep.name!r} has no search: block; its runs are kdsweep.runs()")
    uri = _store(tracking_uri)
    return load_trials(uri, plan) if uri else pd.DataFrame(columns=["trial", "state", *plan.sweep.search.space])


@dataclass
class Table:
    """One of the sweep's tables as `kdsweep table` renders it: `frame` (a DataFrame of the cells'
    text), `markdown` (heading, table, caption), `numbers` (a pivot's values by row and column;
    None for a list table). A notebook shows it as Markdown."""

    name: str
    title: str
    frame: pd.DataFrame
    markdown: str
    numbers: pd.DataFrame | None = None

    def _repr_markdown_(self) -> str:
        return self.markdown


def _table(rendered: RenderedTable) -> Table:
    from kdsweep.report.document import markdown_section

    return Table(name=rendered.name, title=rendered.title or rendered.name, frame=rendered.frame(),
                 markdown=markdown_section(rendered) + "\n", numbers=rendered.matrix)


def tables(sweep: SweepLike, *, overrides: Overrides = None, tracking_uri: str | None = None,
           reference: bool = False) -> dict[str, Table]:
    """Every table of the sweep by name (its `tables:`, else the default one, as `kdsweep table`
    prints them), over the runs in the store, read once; `reference=True` puts the write-up's
    numbers beside ours, as `--reference`."""
    from kdsweep.report.document import build_report

    report = build_report(_store(tracking_uri), _plan(sweep, overrides), reference=reference)
    return {t.name: _table(t) for t in report.tables}


def table(sweep: SweepLike, name: str | None = None, *, overrides: Overrides = None,
          tracking_uri: str | None = None, reference: bool = False) -> Table:
    """The sweep's table `name` (default: its first), as `tables()` renders it."""
    found = tables(sweep, overrides=overrides, tracking_uri=tracking_uri, reference=reference)
    if name is None:
        return next(iter(found.values()))
    if name not in found:
        raise UserError(f"table {name!r}: the sweep has no such table; {did_you_mean(name, found)}")
    return found[name]


def run(sweep: SweepLike, *, overrides: Overrides = None, fuse: bool = True, **options: Any) -> SweepOutcome:
    """Train the sweep as `kdsweep run` does, with the same options by the same names: tracking_uri,
    address, gpus, jobs_per_gpu, cpu_workers, cpu, rerun, rerun_changed, accept_data, retries, checkpoint_dir,
    system_metrics, force, inline, dashboard, ray_logs (`kdsweep run --help`; `fuse=False` is --no-fuse). Returns the
    outcome: `exit_code` (0 all finished, 1 some failed, 130 interrupted), `statuses` and `reasons` by
    run key, `uri` (the store)."""
    from kdsweep.execute.runner import RunOptions, run_sweep

    plan = _plan(sweep, overrides, fuse)
    return run_sweep(plan, RunOptions(**options))
