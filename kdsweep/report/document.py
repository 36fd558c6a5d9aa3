"""A sweep's whole report: its tables (declared or default), read from the store once, as one text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan
from kdsweep.plan.smoke import fake_note
from kdsweep.plan.tables import DEFAULT_METRIC
from kdsweep.report.cells import RenderedTable
from kdsweep.report.context import note as beside_note
from kdsweep.report.latex import PACKAGES, latex_table
from kdsweep.report.listing import render_list
from kdsweep.report.pivot import render_pivot
from kdsweep.report.query import FINISHED, SweepRecord, frame, read_sweep
from kdsweep.report.values import STATUS_PRIORITY
from kdsweep.spec.tables import validate_tables

FORMATS = ("markdown", "csv", "latex")


def default_tables(plan: Plan) -> list[dict]:
    """What a sweep without `tables:` gets: a pivot over its two grid axes, else a list of what varies."""
    grid = list(plan.sweep.grid)
    if len(grid) == 2:
        rows, cols = grid
        raw = [{"name": "grid", "kind": "pivot", "rows": rows, "cols": cols, "bold": "max",
                "agg": "mean_std" if plan.sweep.seeds and len(plan.sweep.seeds) > 1 else "mean",
                "title": f"{DEFAULT_METRIC} by {rows} (rows) and {cols} (columns)"}]
        return validate_tables(raw)
    from kdsweep.plan.render import shown_keys

    keys = [k for k in shown_keys(plan) if k != "seed"]
    columns: list[dict] = []
    if plan.sweep.stages:
        columns.append({"key": "stage"})
    columns.extend({"key": k} for k in keys)
    if not columns:
        columns.append({"key": "name", "label": "run"})
    seeds = plan.sweep.seeds and len(plan.sweep.seeds) > 1
    columns.append({"metric": DEFAULT_METRIC, "agg": "mean_std" if seeds else "mean"})
    raw = [{"name": "runs", "kind": "list", "stages": "all", "columns": columns,
            "title": f"{DEFAULT_METRIC} of every run"}]
    return validate_tables(raw)


def sweep_tables(plan: Plan) -> list[dict]:
    return plan.sweep.tables or default_tables(plan)


def history_metrics(tables: Iterable[dict]) -> list[str]:
    """Per-epoch metrics some table reads at given epochs (fetched with get_metric_history)."""
    out: list[str] = []
    for table in tables:
        for spec in table.get("columns") or []:
            if "epoch" in spec and spec["metric"] not in out:
                out.append(spec["metric"])
    return out


def render_table(table: dict, runs: pd.DataFrame | list[dict], plan: Plan, *, reference: bool = False
                 ) -> RenderedTable:
    """One declared table (already validated) over the runs of `load_runs`."""
    records = runs.to_dict("records") if isinstance(runs, pd.DataFrame) else list(runs)
    if table["kind"] == "pivot":
        return render_pivot(table, records, plan, reference=reference)
    return render_list(table, records, plan, reference=reference)


@dataclass
class Report:
    """Everything `kdsweep table` and `kdsweep plot` show, read from the store once."""

    plan: Plan
    runs: pd.DataFrame
    tables: list[RenderedTable]
    reference: bool = False

    @property
    def n_children(self) -> int:
        return int(self.runs.attrs.get("n_children", 0))

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.runs["status"].value_counts().items()} if len(self.runs) else {}

    def header(self, now: dt.datetime | None = None) -> str:
        """`5/8 runs finished (1 failed, 2 not run) · 2025-01-02 03:04 UTC · 1x NVIDIA H100`."""
        counts = self.counts()
        text = f"{counts.get(FINISHED, 0)}/{len(self.runs)} runs finished"
        others = [f"{counts[w]} {w}" for w in STATUS_PRIORITY if counts.get(w)]
        others += [f"{n} {w}" for w, n in counts.items() if w != FINISHED and w not in STATUS_PRIORITY]
        if others:
            text += f" ({', '.join(others)})"
        now = now or dt.datetime.now(dt.timezone.utc)
        text += f" · {now.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        hardware = self.runs.attrs.get("hardware") or ""
        if hardware:
            text += f" · {hardware}"
        return text

    def render(self, fmt: str = "markdown", now: dt.datetime | None = None) -> str:
        if fmt not in FORMATS:
            raise UserError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        name = self.plan.sweep.name
        header = self.header(now)
        note = ("Numbers after `ref` are the write-up's own; the signed difference is ours minus theirs."
                if self.reference else "")
        fake = fake_note(self.plan)  # a smoke run or fake data: said before any number
        if fmt == "markdown":
            parts = [f"# {name}", *([f"**{fake}**"] if fake else []), header + (f"\n\n{note}" if note else "")]
            parts.extend(markdown_section(table) for table in self.tables)
            return "\n\n".join(parts) + "\n"
        if fmt == "csv":
            return "".join(f"# {line}\n" for line in [fake] if line) + \
                "\n".join(f"# {t.name}\n{t.to_csv()}" for t in self.tables)
        parts = [f"% {name}: {header}\n" + (f"% {fake}\n" if fake else "") + PACKAGES]
        for table in self.tables:
            parts.append(latex_table(name, table))
        return "\n\n".join(parts) + "\n"


def markdown_section(table: RenderedTable) -> str:
    """One table in Markdown: its heading, the table, the numbers beside it and its caption."""
    parts = [f"## {table.title or table.name}", table.to_markdown()]
    if table.beside:
        parts.append(beside_note(table.beside))
    if table.caption:
        parts.append(table.caption)
    return "\n\n".join(parts)


def build_report(uri: str | None, plan: Plan, *, reference: bool = False, history: Iterable[str] = ()) -> Report:
    """Read the sweep's runs once and render every table (declared, or the default). With no store
    (`uri` None) every run is `not run`: the tables' shape, and the write-up's numbers with `reference`."""
    tables = sweep_tables(plan)
    record = read_sweep(uri, plan) if uri is not None else SweepRecord(client=None, experiment_id=None)
    runs = frame(record, plan, history=[*history_metrics(tables), *history])
    records = runs.to_dict("records")
    rendered = [render_table(t, records, plan, reference=reference) for t in tables]
    return Report(plan=plan, runs=runs, tables=rendered, reference=reference and has_reference(tables))


def has_reference(tables: Iterable[dict]) -> bool:
    """Whether any table declares the write-up's numbers (so `--reference` has something to show)."""
    return any("reference" in t or any("reference" in c for c in t.get("columns") or []) for t in tables)


def render_report(uri: str, plan: Plan, *, fmt: str = "markdown", reference: bool = False,
                  now: dt.datetime | None = None) -> str:
    """All tables of the sweep under a short header (runs finished / planned, when, hardware)."""
    return build_report(uri, plan, reference=reference).render(fmt, now)
