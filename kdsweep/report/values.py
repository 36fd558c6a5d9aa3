"""What a cell says for a run or a group of runs: config values as text, numbers, status words.

Runs are the records of `report.query.frame` (one dict per planned run).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from kdsweep.plan.build import format_value, value_label
from kdsweep.report.cells import CHECK, CROSS, NA, Cell
from kdsweep.report.query import FINISHED, HISTORY_PREFIX, NOT_RUN, canonical
from kdsweep.spec.dotted import get_path
from kdsweep.status import RunStatus

DEFAULT_FORMAT = "{:.2f}"
# A cell whose runs all lack a number says the most hopeful of their states, in this order.
STATUS_PRIORITY = tuple(s.word for s in (RunStatus.RUNNING, RunStatus.PENDING, RunStatus.FAILED, RunStatus.KILLED,
                                         RunStatus.NOT_RUN))
OFF_WORDS = ("none", "off", "constant")  # a check column's "without" names


def run_value(run: dict, key: str) -> Any:
    """The value a run has at `key` (pseudo-keys stage / name included), None when absent."""
    if key == "stage":
        return run["stage"] or None
    if key == "name":
        return run["row"]
    return get_path(run["config"], key)


def shown_value(run: dict, key: str) -> Any:
    """As the sweep wrote it when the key is an axis of the point (compact), else the config value."""
    if key in run["point"]:
        return run["point"][key]
    return run_value(run, key)


def label_of(value: Any, labels: dict | None) -> str | None:
    if not labels:
        return None
    text, canon = format_value(value), canonical(value)
    for key, label in labels.items():
        if canonical(key) == canon or str(key) == text:
            return str(label)
    return None


def value_text(value: Any, labels: dict | None = None, sweep_labels: list[tuple[Any, str]] | None = None) -> str:
    """A key's value as a table shows it: the table's label for it, else the sweep's `labels:` (which name
    the runs too), else the value's compact text."""
    label = label_of(value, labels)
    if label is None:
        label = value_label(value, sweep_labels)
    if label is not None:
        return label
    return NA if value is None else format_value(value)


def is_on(value: Any) -> bool:
    """Whether a config value means "with" for a check column (see the module docstring)."""
    if value is None or value is False or value == 0 or value in ("", [], {}):
        return False
    if isinstance(value, str):
        return value.strip().lower() not in OFF_WORDS
    if isinstance(value, dict):
        name = value.get("name", value.get("arch"))
        return not (isinstance(name, str) and name.lower() in OFF_WORDS)
    return True


def check_text(value: Any, labels: dict | None) -> str:
    on = is_on(value)
    label = label_of(on, labels)
    return label if label is not None else (CHECK if on else CROSS)


def last_part(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def metric_value(run: dict, metric: str) -> float | None:
    value = run.get(metric)
    if value is None or isinstance(value, (dict, list, str)):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def signed(fmt: str, diff: float) -> str:
    text = fmt.format(abs(diff))
    return ("-" if diff < 0 and text != fmt.format(0.0) else "+") + text


def ref_text(value: Any, fmt: str) -> str:
    """A write-up number in the column's format, so ours and theirs line up digit for digit."""
    return NA if value is None else fmt.format(float(value))


def status_word(runs: Sequence[dict]) -> str:
    statuses = {r["status"] for r in runs}
    for word in STATUS_PRIORITY:
        if word in statuses:
            return word
    return sorted(statuses)[0] if statuses else NOT_RUN


def aggregate(values: list[float], agg: str) -> float:
    """mean (also for `value`, `mean_std`), max or min of a cell's numbers."""
    return float(pd.Series(values, dtype=float).agg(agg if agg in ("max", "min") else "mean"))


def spread(values: list[float]) -> float:
    """Sample standard deviation (ddof 1, as papers report over seeds); 0 for a single number."""
    return float(pd.Series(values, dtype=float).std()) if len(values) >= 2 else 0.0


def summarize(runs: Sequence[dict], metric: str, agg: str, fmt: str) -> Cell:
    """One cell over a group of runs (a row's seeds, a pivot cell): finished runs only, with (k/n)."""
    done = [r for r in runs if r["status"] == FINISHED]
    if not done:
        return Cell(status_word(runs))
    values = [v for v in (metric_value(r, metric) for r in done) if v is not None]
    note = f" ({len(done)}/{len(runs)})" if len(done) < len(runs) else ""
    if agg == "n":
        return Cell(str(len(values)) if not note else f"{len(done)}/{len(runs)}")
    if not values:
        return Cell(NA, note=note)
    value = aggregate(values, agg)
    text = fmt.format(value)
    if agg == "mean_std" and len(values) >= 2:
        text += " ± " + fmt.format(spread(values))
    return Cell(text, value=value, rank=True, note=note)


def epoch_cell(runs: Sequence[dict], metric: str, epochs: list[int], agg: str, fmt: str) -> Cell:
    done = [r for r in runs if r["status"] == FINISHED]
    if not done:
        return Cell(status_word(runs))
    parts = []
    for epoch in epochs:
        values = [h[epoch] for h in (r.get(HISTORY_PREFIX + metric) or {} for r in done) if epoch in h]
        parts.append(fmt.format(aggregate(values, agg)) if values else NA)
    note = f" ({len(done)}/{len(runs)})" if len(done) < len(runs) else ""
    if all(p == NA for p in parts):
        return Cell(NA, note=note)
    return Cell("/".join(parts), note=note)


def _si(value: float, what: str) -> str:
    """Counts as the write-ups print them: params `4.1M`, FLOPs `0.38G` (G from 0.1G up, as 000 does)."""
    if what == "params":
        steps = ((1e9, 1e9, "{:.1f}G"), (1e6, 1e6, "{:.1f}M"), (1e3, 1e3, "{:.1f}K"))
    else:
        steps = ((1e8, 1e9, "{:.2f}G"), (1e5, 1e6, "{:.2f}M"), (1e2, 1e3, "{:.2f}K"))
    for threshold, scale, fmt in steps:
        if value >= threshold:
            return fmt.format(value / scale)
    return f"{value:.0f}"


def profile_cell(runs: Sequence[dict], what: str, fmt: str | None) -> Cell:
    """Params / FLOPs from any run of the row that logged them (they do not depend on training)."""
    ordered = sorted(runs, key=lambda r: r["status"] != FINISHED)
    parts = []
    for metric in (("params", "flops") if what == "params_flops" else (what,)):
        value = next((v for v in (metric_value(r, metric) for r in ordered) if v is not None), None)
        if value is None:
            parts.append(None)
        else:
            parts.append(fmt.format(value) if fmt else _si(value, metric))
    if all(p is None for p in parts):
        return Cell(NA if any(r["status"] == FINISHED for r in runs) else status_word(runs))
    return Cell("/".join(p if p is not None else NA for p in parts))
