"""PNG plots of a sweep: a heatmap per pivot table, a bar chart per list table, learning curves.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), so it
works headless on a cluster node and does not disturb a notebook that imports kdsweep.
The files go to results/generated/ (or --out) and to the sweep's parent MLflow run
(artifact path "plots"), so the pictures sit next to the numbers they come from.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kdsweep.plan.build import Plan
from kdsweep.report.cells import CHECK, CROSS, RenderedTable
from kdsweep.report.document import Report, build_report
from kdsweep.report.files import OUT_DIR, safe_name
from kdsweep.report.query import FINISHED, HISTORY_PREFIX, canonical
from kdsweep.tracking.names import ARTIFACT_PLOTS
from kdsweep.tracking.store import open_client, with_retry

CURVE_METRIC = "val_acc1"
# How an axis names a metric the table does not head itself.
METRIC_TEXT = {"best_val_acc1": "best val top-1 (%)", "final_val_acc1": "final val top-1 (%)",
               "val_acc1": "val top-1 (%)", "val_acc5": "val top-5 (%)",
               "train_val_gap": "train - val top-1 (points)"}
LINESTYLES = ("-", "--", ":", "-.")


def _plain(text: str) -> str:
    """Tick-label text: ✓ / ✗ are not in every font matplotlib may pick, so spell them."""
    return text.replace(CHECK, "yes").replace(CROSS, "no")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def heatmap(table: RenderedTable, path: Path) -> Path:
    return _save(heatmap_figure(table), path)


def heatmap_figure(table: RenderedTable) -> Figure:
    """The pivot's numbers as colours, each cell annotated as the table prints it; NaN cells blank."""
    matrix = table.matrix
    values = matrix.to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(2.0 + 1.3 * n_cols, 1.4 + 0.8 * n_rows))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(values)
    image = ax.imshow(masked, cmap="viridis", aspect="auto")
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    for i in range(n_rows):
        for j in range(n_cols):
            if not math.isfinite(values[i, j]):
                continue
            cell = table.columns[j + 1].cells[i]
            shade = (values[i, j] - lo) / (hi - lo) if hi > lo else 0.5
            ax.text(j, i, (cell.text + cell.note).replace(" ± ", "\n± "), ha="center", va="center", fontsize=9,
                    color="black" if shade > 0.6 else "white", fontweight="bold" if cell.bold else "normal")
    ax.set_xticks(range(n_cols), [_plain(str(c)) for c in matrix.columns])
    ax.set_yticks(range(n_rows), [_plain(str(r)) for r in matrix.index])
    ax.set_xlabel(_plain(table.cols_label or table.cols_key))  # as the table names its axes (its corner)
    ax.set_ylabel(_plain(table.rows_label or table.rows_key))
    ax.set_title(_title(table), fontsize=10)
    bar = fig.colorbar(image, ax=ax, label=_metric_label(table))
    for line in table.beside:  # teacher / no-teacher numbers: a line on the colour scale where they fall
        if line.value is not None and lo <= line.value <= hi:
            bar.ax.axhline(line.value, color="red", linewidth=1.5)
    return fig


def _title(table: RenderedTable) -> str:
    """The table's title, and under it what the cells are read against (teacher, no-teacher student)."""
    title = table.title or table.name
    if table.beside:
        title += "\n" + " · ".join(f"{line.label}: {line.text}" for line in table.beside)
    return _plain(title)


def _metric_label(table: RenderedTable) -> str:
    label = table.metric_label or table.metric
    return METRIC_TEXT.get(label, label)


def bar_chart(table: RenderedTable, path: Path) -> Path:
    return _save(bar_figure(table), path)


def bar_figure(table: RenderedTable) -> Figure:
    """The list table's main metric per row: bars from zero (a bar's length is its value), a std
    error bar only where two or more seeds finished, and the rows measured against drawn as lines:
    the student without a teacher, and the teacher when the table does not show it."""
    bars = [b for b in table.bars if not b.baseline]
    lines = [(f"without a teacher ({_plain(b.label).replace(chr(10), ', ')})", b.mean)
             for b in table.bars if b.baseline and math.isfinite(b.mean)]
    lines += [(line.label, line.value) for line in table.beside if line.value is not None]
    wide = any("\n" in b.label for b in bars)
    fig = Figure(figsize=(max(4.0, (1.4 if wide else 0.9) * len(bars) + 1.5), 4.0))
    ax = fig.add_subplot()
    x = np.arange(len(bars))
    means = np.array([b.mean for b in bars], dtype=float)
    heights = np.where(np.isfinite(means), means, 0.0)
    ax.bar(x, heights, color="tab:blue", alpha=0.8)
    spread = [i for i, b in enumerate(bars) if b.n >= 2 and math.isfinite(b.std)]
    if spread:
        ax.errorbar(x[spread], means[spread], yerr=[bars[i].std for i in spread], fmt="none", ecolor="black",
                    capsize=4)
    for (label, value), style in zip(lines, ("--", ":", "-.", "--"), strict=False):
        ax.axhline(value, color="tab:red", linestyle=style, linewidth=1.2, label=f"{label}: {value:.2f}")
    tops = [v for v in [*means[np.isfinite(means)], *(v for _, v in lines)]]
    ax.set_ylim(0.0, max(tops) * 1.12 if tops and max(tops) > 0 else 1.0)
    for i, bar in enumerate(bars):
        if math.isfinite(bar.mean):
            ax.annotate(f"{bar.mean:.2f}", (i, bar.mean), textcoords="offset points", xytext=(0, 3),
                        ha="center", fontsize=8)
        else:
            ax.annotate(bar.status, (i, 0.0), textcoords="offset points", xytext=(0, 4), ha="center",
                        va="bottom", fontsize=8, color="grey", rotation=90)
    labels = [_plain(b.label) for b in bars]
    slant = len(bars) > 4 and not any("\n" in t for t in labels)  # stacked labels stay upright
    ax.set_xticks(x, labels, rotation=30 if slant else 0, ha="right" if slant else "center", fontsize=8)
    ax.set_ylabel(_metric_label(table))
    ax.set_title(_plain(table.title or table.name), fontsize=10)
    if lines:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside, not over, the bars
    return fig


def learning_curves(report: Report, path: Path, metric: str = CURVE_METRIC) -> Path | None:
    """Every run's per-epoch metric; runs that differ only in seed share a colour."""
    column = HISTORY_PREFIX + metric
    if column not in report.runs.columns:
        return None
    runs = [r for r in report.runs.to_dict("records") if r[column]]
    if not runs:
        return None
    configs: dict[str, list[dict]] = {}
    for run in runs:
        configs.setdefault(canonical({k: v for k, v in run["config"].items() if k != "seed"}), []).append(run)
    colours = _colours(len(configs))
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    for colour, group in zip(colours, configs.values(), strict=True):
        for n, run in enumerate(group):  # seeds of one configuration: one colour, their own line styles
            history = sorted(run[column].items())
            label = run["name"] + ("" if run["status"] == FINISHED else f" ({run['status']})")
            ax.plot([e for e, _ in history], [v for _, v in history], color=colour,
                    linestyle=LINESTYLES[n % len(LINESTYLES)], marker="." if len(history) < 15 else None,
                    label=label)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(f"{metric} (%)" if "acc" in metric else metric)
    ax.set_title(f"{report.plan.sweep.name}: {metric} by epoch", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), ncol=1 if len(runs) <= 20 else 2)
    return _save(fig, path)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    if n <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["viridis"]
    return [cmap(i / max(1, n - 1)) for i in range(n)]


def plot_report(report: Report, out_dir: Path = OUT_DIR) -> list[Path]:
    """Draw every plot the report has data for; nothing for a table without a single number."""
    stem = safe_name(report.plan.sweep.name)
    out_dir = Path(out_dir)
    paths: list[Path] = []
    for table in report.tables:
        path = out_dir / f"{stem}_{safe_name(table.name)}.png"
        if table.kind == "pivot" and table.matrix is not None and np.isfinite(table.matrix.to_numpy()).any():
            paths.append(heatmap(table, path))
        elif table.kind == "list" and any(math.isfinite(b.mean) for b in table.bars):
            paths.append(bar_chart(table, path))
    curves = learning_curves(report, out_dir / f"{stem}_curves.png")
    if curves is not None:
        paths.append(curves)
    return paths


def log_plots(uri: str, parent_run_id: str | None, paths: list[Path]) -> bool:
    """Attach the PNGs to the sweep's parent run under "plots"; False when there is no parent run."""
    if not parent_run_id or not paths:
        return False
    client = open_client(uri)
    for path in paths:
        with_retry(client.log_artifact, parent_run_id, str(path), ARTIFACT_PLOTS)
    return True


def plot_sweep(uri: str, plan: Plan, out_dir: Path = OUT_DIR) -> list[Path]:
    """PNGs of the sweep's tables and learning curves in out_dir, also logged to the parent MLflow run.

    Files: <sweep>_<table>.png (a heatmap per pivot, a bar chart per list table) and
    <sweep>_curves.png (val top-1 by epoch for every run, coloured by configuration).
    """
    report = build_report(uri, plan, history=[CURVE_METRIC])
    paths = plot_report(report, out_dir)
    log_plots(uri, report.runs.attrs.get("parent_run_id"), paths)
    return paths
