"""A search sweep's report: its best trials as a table, and Optuna's plots, read from MLflow only.

Each trial's runs are children of the sweep's parent run, tagged with the trial number and
its Optuna state (tracking/names.py). The table lists the best trials (params, metric mean
over seeds, epochs trained); the plots (optimisation history, parameter importances, slices)
are Optuna's matplotlib ones, drawn from a study rebuilt in memory from those runs, so the
report never opens the study's own storage.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from kdsweep.metric_names import plain_metrics
from kdsweep.plan import Plan
from kdsweep.plan.build import format_value
from kdsweep.report.console import print_rendered
from kdsweep.report.query import read_sweep, run_status
from kdsweep.status import RunStatus
from kdsweep.tracking.names import TAG_EPOCH, TAG_POINT, TAG_STATUS, TAG_TRIAL, TAG_TRIAL_STATE

TOP = 10  # trials the table lists


def load_trials(uri: str, plan: Plan) -> pd.DataFrame:
    """One row per trial: number, state, params, metric (mean over its seeds), epochs trained, runs.

    attrs: parent_run_id, hardware, n_children (as the grid report's frame has them).
    """
    search = plan.sweep.search
    assert search is not None
    record = read_sweep(uri, plan)
    by_trial: dict[int, list[Any]] = {}
    for runs in record.children.values():
        for run in runs:
            number = run.data.tags.get(TAG_TRIAL)
            if number is not None and number.isdigit():
                by_trial.setdefault(int(number), []).append(run)
    rows = []
    for number, runs in sorted(by_trial.items()):
        point = json.loads(runs[0].data.tags.get(TAG_POINT) or "{}")
        values = [plain_metrics(r.data.metrics).get(search.metric) for r in runs]
        state = runs[0].data.tags.get(TAG_TRIAL_STATE) or "RUNNING"
        if any(RunStatus.parse(r.data.tags.get(TAG_STATUS)) == RunStatus.PRUNED for r in runs):
            state = "PRUNED"  # its group may still train: the trial state tag is written when the job ends
        epochs = sum(int(r.data.tags.get(TAG_EPOCH) or 0) for r in runs)
        value = sum(values) / len(values) if state == "COMPLETE" and all(v is not None for v in values) else math.nan
        rows.append({"trial": number, "state": state, **{k: point.get(k) for k in search.space},
                     search.metric: value, "epochs": epochs, "runs": len(runs),
                     "status": ", ".join(sorted({run_status(r) for r in runs})),
                     "last_val_acc1": _last(runs)})
    columns = ["trial", "state", *search.space, search.metric, "epochs", "runs", "status", "last_val_acc1"]
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["parent_run_id"] = record.parent.info.run_id if record.parent else None
    df.attrs["hardware"] = record.hardware
    df.attrs["n_children"] = record.n_children
    return df


def _last(runs: list[Any]) -> float:
    """The last epoch's val_acc1, mean over the runs (where a pruned trial stood when it stopped)."""
    values = [plain_metrics(r.data.metrics).get("val_acc1") for r in runs]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else math.nan


def best_trials(trials: pd.DataFrame, plan: Plan, top: int = TOP) -> pd.DataFrame:
    search = plan.sweep.search
    done = trials[trials["state"] == "COMPLETE"].dropna(subset=[search.metric])
    return done.sort_values(search.metric, ascending=search.direction == "minimize", kind="stable").head(top)


def summary_line(trials: pd.DataFrame, plan: Plan) -> str:
    search = plan.sweep.search
    counts = trials["state"].value_counts().to_dict() if len(trials) else {}
    parts = ", ".join(f"{int(n)} {str(s).lower()}" for s, n in sorted(counts.items()))
    pruned = trials[trials["state"] == "PRUNED"]
    text = (f"{len(trials)} of {search.budget} trials ({parts or 'none'}); "
            f"{int(trials['epochs'].sum()) if len(trials) else 0} epochs trained in all")
    if len(pruned):
        text += f" ({int(pruned['epochs'].sum())} of them by pruned trials)"
    return text


def render_search(trials: pd.DataFrame, plan: Plan, fmt: str = "markdown") -> str:
    """The best trials as a table (markdown, csv or latex)."""
    search = plan.sweep.search
    best = best_trials(trials, plan)
    shown = pd.DataFrame({
        "rank": range(1, len(best) + 1),
        "trial": best["trial"].astype(int).tolist(),
        **{key: [f"{v:.3g}" if isinstance(v, float) else format_value(v) for v in best[key]]
           for key in search.space},
        search.metric: [f"{v:.2f}" for v in best[search.metric]],
        "epochs": best["epochs"].astype(int).tolist(),
    })
    if fmt == "csv":
        return shown.to_csv(index=False)
    if fmt == "latex":
        return shown.to_latex(index=False)
    seeds = f", mean over seeds {', '.join(str(s) for s in search.seeds)}" if search.seeds else ""
    title = f"## Best trials: {search.direction} {search.metric}{seeds}"
    table = (shown.to_markdown(index=False, stralign="center", disable_numparse=True) if len(shown)
             else "(no trial complete yet)")
    return "\n\n".join([title, table]) + "\n"


# Plots ---------------------------------------------------------------------------------------------


def rebuild_study(trials: pd.DataFrame, plan: Plan) -> Any:
    """An in-memory Optuna study holding the trials as MLflow has them (complete and pruned)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    from kdsweep.spec.search_space import distributions, optuna_values

    search = plan.sweep.search
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = distributions(search)
    study = optuna.create_study(direction=search.direction)
    for row in trials.to_dict("records"):
        if row["state"] not in ("COMPLETE", "PRUNED"):
            continue
        params = optuna_values(search, {k: row[k] for k in search.space})
        if any(k not in params or params[k] is None for k in search.space):
            continue
        complete = row["state"] == "COMPLETE" and math.isfinite(row[search.metric])
        study.add_trial(create_trial(
            state=TrialState.COMPLETE if complete else TrialState.PRUNED,
            value=row[search.metric] if complete else None, params=params,
            distributions={k: dists[k] for k in params}))
    return study


def plot_search(trials: pd.DataFrame, plan: Plan, out_dir: Path) -> list[Path]:
    """<sweep>_search_history.png, _search_importances.png and _search_slice.png (each when it can be drawn)."""
    import matplotlib

    matplotlib.use("Agg")  # Optuna draws with pyplot: never pick an interactive backend
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    from kdsweep.report.tables import safe_name

    study = rebuild_study(trials, plan)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        return []
    stem = safe_name(plan.sweep.name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {"history": vis.plot_optimization_history, "slice": vis.plot_slice}
    if len(complete) >= 2 and len(plan.sweep.search.space) >= 1:
        plots["importances"] = vis.plot_param_importances
    paths = []
    for name, draw in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
                axes = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few distinct trials to draw
            print(f"kdsweep: note: no {name} plot ({exc})")
            continue
        first = axes.flat[0] if hasattr(axes, "flat") else axes
        fig = first.figure
        path = out_dir / f"{stem}_search_{name}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


# The commands ------------------------------------------------------------------------------------


def search_report_text(report: Any, trials: pd.DataFrame, fmt: str) -> str:
    """The search's section, then the sweep's own tables when it has grid points or declares tables."""
    plan = report.plan
    has_grid = any(r.stage is None for r in plan.runs) or bool(plan.sweep.tables)
    if fmt != "markdown":
        return render_search(trials, plan, fmt) + ("\n" + report.render(fmt) if has_grid else "")
    import datetime as dt

    now = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    head = [f"# {plan.sweep.name}", " · ".join(p for p in (summary_line(trials, plan), now,
                                                           trials.attrs.get("hardware") or "") if p)]
    parts = ["\n\n".join(head), render_search(trials, plan, fmt).rstrip()]
    if has_grid:  # the grid's report, one heading level down
        parts.append(report.render(fmt).split("\n", 1)[1].strip())
    return "\n\n".join(parts) + "\n"


def table_command(args: Any, report: Any, uri: str, fmt: str) -> int:
    from kdsweep.report.tables import report_paths

    trials = load_trials(uri, report.plan)
    text = search_report_text(report, trials, fmt)
    print_rendered(text, fmt)
    path = report_paths(report, "latex" if fmt == "latex" else "markdown", getattr(args, "out", None))[0]
    if fmt == "csv":
        path = path.with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def plot_command(report: Any, uri: str, out_dir: Path) -> list[Path]:
    """Optuna's plots of the search, written to out_dir (the caller logs them to the parent run)."""
    return plot_search(load_trials(uri, report.plan), report.plan, out_dir)
