"""Pivot tables: one metric over two config keys (004's alpha x T grid), with its matrix for the heatmap."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from kdsweep.plan.build import Plan
from kdsweep.plan.tables import DEFAULT_METRIC
from kdsweep.report.cells import Cell, Column, RenderedTable, bold_best
from kdsweep.report.context import baselines, teachers
from kdsweep.report.query import canonical
from kdsweep.report.reference import MISSING, inline_ref, match_ref
from kdsweep.report.select import matches, select_runs
from kdsweep.report.values import (
    DEFAULT_FORMAT,
    last_part,
    run_value,
    shown_value,
    summarize,
    value_text,
)


def _ordered_values(runs: list[dict], key: str, order: list | None) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    for run in runs:
        seen.setdefault(canonical(run_value(run, key)), shown_value(run, key))
    first = []
    for value in order or []:
        canon = canonical(value)
        if canon in seen and canon not in dict(first):
            first.append((canon, seen[canon]))
    return first + [(c, v) for c, v in seen.items() if c not in dict(first)]


def _case_texts(axis: dict, run: dict) -> list[str]:
    """Every case of a `{cases: [...]}` axis the run matches: a student trained alone is the
    student column of each pair that shares it, a teacher stage the teacher column of each of its pairs."""
    texts = [str(c["text"]) for c in axis["cases"] if all(matches(run_value(run, str(k)), v)
                                                            for k, v in c["when"].items())]
    return list(dict.fromkeys(texts))


def _axis_values(axis: str | dict, runs: list[dict], order: list | None,
                 labels: dict | None) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """[(canonical value, header text)] in order, and each run's values (by run key) on this axis."""
    if isinstance(axis, dict):
        per_run = {r["key"]: _case_texts(axis, r) for r in runs}
        found = {t for texts in per_run.values() for t in texts}
        texts = [str(c["text"]) for c in axis["cases"] if str(c["text"]) in found]
        return [(t, t) for t in dict.fromkeys(texts)], per_run
    values = _ordered_values(runs, axis, order)
    return ([(c, value_text(v, labels)) for c, v in values],
            {r["key"]: [canonical(run_value(r, axis))] for r in runs})


def _has(run: dict, axis: str | dict) -> bool:
    return bool(_case_texts(axis, run)) if isinstance(axis, dict) else run_value(run, axis) is not None


def render_pivot(table: dict, runs: list[dict], plan: Plan, *, reference: bool = False) -> RenderedTable:
    name = table["name"]
    rows_key, cols_key = table["rows"], table["cols"]
    metric = table.get("metric", DEFAULT_METRIC)
    fmt = table.get("format", DEFAULT_FORMAT)
    agg = table.get("agg", "mean")
    labels = table.get("labels") or {}
    chosen = select_runs(table, runs, plan)
    selected = [r for r in chosen if _has(r, rows_key) and _has(r, cols_key)]
    left_out = [r for r in chosen if r not in selected]
    row_values, run_rows = _axis_values(rows_key, selected, table.get("row_order"),
                                        labels.get(rows_key) if isinstance(rows_key, str) else None)
    col_values, run_cols = _axis_values(cols_key, selected, table.get("col_order"),
                                        labels.get(cols_key) if isinstance(cols_key, str) else None)
    row_texts = [text for _, text in row_values]
    col_texts = [text for _, text in col_values]

    groups: dict[tuple[str, str], list[dict]] = {}
    for run in selected:
        for rc in run_rows[run["key"]]:
            for cc in run_cols[run["key"]]:
                groups.setdefault((rc, cc), []).append(run)
    grid: list[list[Cell]] = []
    matrix = []
    for rc, _ in row_values:
        line, numbers = [], []
        for cc, _ in col_values:
            group = groups.get((rc, cc), [])
            cell = summarize(group, metric, agg, fmt) if group else Cell("")
            line.append(cell)
            numbers.append(cell.value if cell.value is not None and agg != "n" else math.nan)
        grid.append(line)
        matrix.append(numbers)

    rule = table.get("bold")
    if rule and agg != "n":
        direction = "max" if rule.endswith("max") else "min"
        if rule in ("max", "min"):
            bold_best([c for line in grid for c in line], direction)
        elif rule.startswith("row"):
            for line in grid:
                bold_best(line, direction)
        else:
            for j in range(len(col_values)):
                bold_best([line[j] for line in grid], direction)

    if reference:
        ref = table.get("reference") or {}
        for i, (rc, _) in enumerate(row_values):
            row_ref = match_ref(ref, rc, row_texts[i])
            if row_ref is MISSING:
                continue
            for j, (cc, _) in enumerate(col_values):
                inline_ref(grid[i][j], match_ref(row_ref, cc, col_texts[j]), fmt)

    names = [last_part(k) if isinstance(k, str) else "" for k in (rows_key, cols_key)]
    corner = table.get("corner") or f"{names[0]}\\{names[1]}"
    rows_label, _, cols_label = corner.partition("\\")
    columns = [Column(corner, [Cell(t) for t in row_texts], kind="label")]
    for j, text in enumerate(col_texts):
        columns.append(Column(text, [line[j] for line in grid], kind="metric"))
    return RenderedTable(name=name, kind="pivot", title=table.get("title", ""), caption=table.get("caption", ""),
                         metric=metric, columns=columns,
                         matrix=pd.DataFrame(matrix, index=row_texts, columns=col_texts, dtype=float),
                         rows_key=names[0] if isinstance(rows_key, dict) else rows_key,
                         cols_key=names[1] if isinstance(cols_key, dict) else cols_key, rows_label=rows_label,
                         cols_label=cols_label.lstrip("\\") or names[1], metric_label=metric,
                         beside=[*teachers(selected, runs, metric, fmt), *baselines(left_out, metric, fmt)])
