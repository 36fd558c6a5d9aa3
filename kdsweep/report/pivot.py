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
from kdsweep.report.select import select_runs
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


def render_pivot(table: dict, runs: list[dict], plan: Plan, *, reference: bool = False) -> RenderedTable:
    name = table["name"]
    rows_key, cols_key = table["rows"], table["cols"]
    metric = table.get("metric", DEFAULT_METRIC)
    fmt = table.get("format", DEFAULT_FORMAT)
    agg = table.get("agg", "mean")
    labels = table.get("labels") or {}
    chosen = select_runs(table, runs, plan)
    selected = [r for r in chosen if run_value(r, rows_key) is not None and run_value(r, cols_key) is not None]
    left_out = [r for r in chosen if r not in selected]
    row_values = _ordered_values(selected, rows_key, table.get("row_order"))
    col_values = _ordered_values(selected, cols_key, table.get("col_order"))
    row_texts = [value_text(v, labels.get(rows_key)) for _, v in row_values]
    col_texts = [value_text(v, labels.get(cols_key)) for _, v in col_values]

    cells = pd.DataFrame({"row": [canonical(run_value(r, rows_key)) for r in selected],
                          "col": [canonical(run_value(r, cols_key)) for r in selected]})
    groups = {key: [selected[i] for i in index] for key, index in cells.groupby(["row", "col"]).indices.items()}
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

    corner = table.get("corner") or f"{last_part(rows_key)}\\{last_part(cols_key)}"
    rows_label, _, cols_label = corner.partition("\\")
    columns = [Column(corner, [Cell(t) for t in row_texts], kind="label")]
    for j, text in enumerate(col_texts):
        columns.append(Column(text, [line[j] for line in grid], kind="metric"))
    return RenderedTable(name=name, kind="pivot", title=table.get("title", ""), caption=table.get("caption", ""),
                         metric=metric, columns=columns,
                         matrix=pd.DataFrame(matrix, index=row_texts, columns=col_texts, dtype=float),
                         rows_key=rows_key, cols_key=cols_key, rows_label=rows_label,
                         cols_label=cols_label.lstrip("\\") or last_part(cols_key), metric_label=metric,
                         beside=[*teachers(selected, runs, metric, fmt), *baselines(left_out, metric, fmt)])
