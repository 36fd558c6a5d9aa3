"""List tables: one row per distinct configuration, columns of keys, cases, metrics and profiles."""

from __future__ import annotations

import math
from typing import Any

from kdsweep.plan.build import Plan
from kdsweep.plan.tables import DEFAULT_METRIC, PSEUDO_KEYS
from kdsweep.report.cells import Bar, Cell, Column, RenderedTable, bold_best
from kdsweep.report.context import teachers
from kdsweep.report.query import FINISHED, canonical
from kdsweep.report.reference import reference_columns, reference_target
from kdsweep.report.select import config_groups, matches, select_runs
from kdsweep.report.values import (
    DEFAULT_FORMAT,
    aggregate,
    check_text,
    epoch_cell,
    metric_value,
    profile_cell,
    run_value,
    shown_value,
    spread,
    status_word,
    summarize,
    value_text,
)
from kdsweep.spec.dotted import has_path


def _seed_list(plan: Plan, runs: list[dict]) -> list[int]:
    if plan.sweep.seeds:
        return list(plan.sweep.seeds)
    return list(dict.fromkeys(r["seed"] for r in runs))


def _run_for_seed(group: list[dict], seed: int, seeds: list[int]) -> dict | None:
    for run in group:
        if run["seed"] == seed:
            return run
    if len(group) == 1 and group[0]["seed"] not in seeds and seeds and seed == seeds[0]:
        return group[0]
    return None


def _single(run: dict | None, metric: str, fmt: str) -> Cell:
    if run is None:
        return Cell("")
    return summarize([run], metric, "value", fmt)


def _columns_for(spec: dict, groups: list[list[dict]], table: dict, plan: Plan, selected: list[dict]
                 ) -> list[Column]:
    fmt = spec.get("format", table.get("format", DEFAULT_FORMAT))
    labels = table.get("labels") or {}
    if "key" in spec:
        key = spec["key"]
        value_labels = {**(labels.get(key) or {}), **(spec.get("labels") or {})}
        if spec.get("as") == "check":
            cells = [Cell(check_text(shown_value(g[0], key), value_labels)) for g in groups]
        else:
            cells = [Cell(value_text(shown_value(g[0], key), value_labels, plan.sweep.labels.get(key)))
                     for g in groups]
        return [Column(spec.get("label", key), cells, kind="key")]
    if "cases" in spec:
        cells = [Cell(_case_text(spec["cases"], g[0], plan, table)) for g in groups]
        return [Column(spec.get("label", "run"), cells, kind="key")]
    if "profile" in spec:
        what = spec["profile"]
        header = spec.get("label", {"params": "params", "flops": "FLOPs", "params_flops": "params/FLOPs"}[what])
        return [Column(header, [profile_cell(g, what, spec.get("format")) for g in groups], kind="profile")]
    metric = spec["metric"]
    agg = spec.get("agg", "mean")
    if "epoch" in spec:
        epochs = spec["epoch"] if isinstance(spec["epoch"], list) else [spec["epoch"]]
        header = spec.get("label", f"{metric} at epoch {'/'.join(str(e) for e in epochs)}")
        cells = [epoch_cell(g, metric, epochs, "mean" if agg in ("value", "mean") else agg, fmt) for g in groups]
        return [Column(header, cells, kind="epoch")]
    if "seed" in spec:
        seed = spec["seed"]
        cells = [_single(next((r for r in g if r["seed"] == seed), None), metric, fmt) for g in groups]
        return [Column(spec.get("label", f"{metric} (seed {seed})"), cells, kind="seed", bold=spec.get("bold"))]
    if agg == "per_seed":
        seeds = _seed_list(plan, selected)
        label = spec.get("label")
        out = []
        for j, seed in enumerate(seeds):
            if isinstance(label, list) and j < len(label):
                header = label[j]
            elif isinstance(label, str):  # one label, several columns: each says its seed
                header = f"{label} (seed {seed})"
            else:
                header = f"{metric} (seed {seed})"
            cells = [_single(_run_for_seed(g, seed, seeds), metric, fmt) for g in groups]
            out.append(Column(header, cells, kind="seed", bold=spec.get("bold")))
        return out
    cells = [summarize(g, metric, agg, fmt) for g in groups]
    return [Column(spec.get("label", metric), cells, kind="metric" if agg != "n" else "n", bold=spec.get("bold"))]


def _case_text(cases: list[dict], run: dict, plan: Plan, table: dict) -> str:
    """The text of the first case whose `when:` the run matches; the run's name when none does."""
    for case in cases:
        if all(matches(run_value(run, str(k)), v) for k, v in case["when"].items()):
            return str(case["text"])
    return run["row"]


def _order_groups(groups: list[list[dict]], order: Any, plan: Plan) -> list[list[dict]]:
    if not order or order == "plan":
        return groups
    specs = [order] if isinstance(order, str) else list(order)
    out = list(groups)
    for spec in reversed(specs):
        descending = spec.startswith("-")
        key = spec.lstrip("-+")
        is_config = key in PSEUDO_KEYS or any(has_path(r.config, key) for r in plan.runs)

        def sort_value(group: list[dict], key: str = key, is_config: bool = is_config) -> Any:
            if is_config:
                return run_value(group[0], key)
            values = [v for v in (metric_value(r, key) for r in group if r["status"] == FINISHED) if v is not None]
            return sum(values) / len(values) if values else None

        present = [g for g in out if sort_value(g) is not None]
        absent = [g for g in out if sort_value(g) is None]
        try:
            present.sort(key=sort_value, reverse=descending)
        except TypeError:
            present.sort(key=lambda g: canonical(sort_value(g)), reverse=descending)
        out = present + absent
    return out


def render_list(table: dict, runs: list[dict], plan: Plan, *, reference: bool = False) -> RenderedTable:
    name = table["name"]
    selected = select_runs(table, runs, plan)
    groups = _order_groups(config_groups(selected), table.get("order"), plan)
    fmt_default = table.get("format", DEFAULT_FORMAT)

    blocks: list[tuple[dict, list[Column]]] = [(spec, _columns_for(spec, groups, table, plan, selected))
                                               for spec in table["columns"]]
    _bold_list(table, blocks, groups)

    row_labels = [blocks[0][1][0].cells[i].render("plain") for i in range(len(groups))] if blocks else []
    columns: list[Column] = []
    target = reference_target(table)
    for index, (spec, cols) in enumerate(blocks):
        columns.extend(cols)
        ref = spec.get("reference")
        if ref is None and index == target:
            ref = table.get("reference")
        if not reference or ref is None:
            continue
        columns.extend(reference_columns(cols, ref, row_labels, spec.get("format", fmt_default)))

    bars = _bars(table, groups, _bar_labels([c for _, cols in blocks for c in cols], row_labels))
    metric = primary_metric(table)
    header = next((c.header for _, cols in blocks for c in cols if c.kind == "metric"), metric)
    out = RenderedTable(name=name, kind="list", title=table.get("title", ""), caption=table.get("caption", ""),
                        metric=metric, columns=columns, bars=bars, metric_label=header,
                        beside=teachers(selected, runs, metric, fmt_default))
    if table.get("transpose"):
        out.columns = _transpose(columns)
    return out


def _bold_list(table: dict, blocks: list[tuple[dict, list[Column]]], groups: list[list[dict]]) -> None:
    rule = table.get("bold")
    by = table.get("bold_by")
    partitions: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        partitions.setdefault(canonical(run_value(group[0], by)) if by else "", []).append(i)
    row_wise: list[Column] = []
    for _, cols in blocks:
        for col in cols:
            if col.kind not in ("metric", "seed"):
                continue
            own = col.bold if col.bold is not None else rule
            if not own:
                continue
            if own in ("row_max", "row_min"):
                row_wise.append(col)
                continue
            direction = "max" if own.endswith("max") else "min"
            for rows in partitions.values():
                bold_best([col.cells[i] for i in rows], direction)
    if row_wise:
        direction = "max" if rule == "row_max" else "min"
        for i in range(len(groups)):
            bold_best([col.cells[i] for col in row_wise], direction)


def _bar_labels(columns: list[Column], fallback: list[str]) -> list[str]:
    """A bar's label: every key column whose text differs between rows (`with KD: ✓`), one per line."""
    varying = [c for c in columns if c.kind == "key" and len({x.render("plain") for x in c.cells}) > 1]
    if not varying:
        return fallback
    if len(varying) == 1:
        return [cell.render("plain") for cell in varying[0].cells]
    return ["\n".join(f"{c.header}: {c.cells[i].render('plain')}" for c in varying) for i in range(len(fallback))]


def primary_metric(table: dict) -> str:
    for spec in table["columns"]:
        if "metric" in spec and "epoch" not in spec and spec.get("agg") != "n":
            return spec["metric"]
    return table.get("metric", DEFAULT_METRIC)


def _bars(table: dict, groups: list[list[dict]], labels: list[str]) -> list[Bar]:
    metric = primary_metric(table)
    taught = [not g[0]["stage"] and g[0]["config"].get("teacher") is not None for g in groups]
    out = []
    for group, label, has_teacher in zip(groups, labels, taught, strict=True):
        values = [v for v in (metric_value(r, metric) for r in group if r["status"] == FINISHED) if v is not None]
        # The student without a teacher, beside students with one: the line KD is measured against.
        baseline = any(taught) and not has_teacher and not group[0]["stage"]
        if values:
            out.append(Bar(label, aggregate(values, "mean"), spread(values), len(values), FINISHED, baseline))
        else:
            out.append(Bar(label, math.nan, math.nan, 0, status_word(group), baseline))
    return out


def _transpose(columns: list[Column]) -> list[Column]:
    """First column's values become the header; each other column becomes a row (004's model sizes)."""
    if not columns:
        return columns
    head, rest = columns[0], columns[1:]
    out: list[Column] = []
    if len(rest) != 1:
        out.append(Column(head.header, [Cell(c.header) for c in rest], kind="label"))
    for i, cell in enumerate(head.cells):
        out.append(Column(cell.render("plain"), [c.cells[i] for c in rest], kind="metric"))
    return out
