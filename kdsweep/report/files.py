"""Where `kdsweep table` writes: results/<sweep>.md / .tex, one CSV per table, or `--out`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from kdsweep.plan.build import Plan
from kdsweep.report.document import Report, build_report


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "sweep"


def report_paths(report: Report, fmt: str, out: str | Path | None = None) -> list[Path]:
    """Where `write_report` writes: results/<sweep>.md / .tex, or one results/<sweep>_<table>.csv per table."""
    stem = safe_name(report.plan.sweep.name)
    suffix = {"markdown": ".md", "latex": ".tex", "csv": ".csv"}[fmt]
    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.is_dir():
        out_path = out_path / f"{stem}{suffix}"
    if out_path is None:
        out_path = Path("results") / f"{stem}{suffix}"
    if fmt != "csv":
        return [out_path]
    if len(report.tables) == 1 and out is not None and not Path(out).is_dir():
        return [out_path]
    base = out_path.stem if out is not None and not Path(out).is_dir() else stem
    return [out_path.with_name(f"{base}_{safe_name(t.name)}{out_path.suffix or '.csv'}") for t in report.tables]


def save_report(report: Report, fmt: str = "markdown", out: str | Path | None = None,
                now: dt.datetime | None = None) -> list[Path]:
    paths = report_paths(report, fmt, out)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        for path, table in zip(paths, report.tables, strict=True):
            path.write_text(table.to_csv())
    else:
        paths[0].write_text(report.render(fmt, now))
    return paths


def write_report(uri: str, plan: Plan, *, fmt: str = "markdown", reference: bool = False,
                 out: str | Path | None = None, now: dt.datetime | None = None) -> list[Path]:
    """Write the report to results/<sweep>.md (or .tex; CSV: one file per table), or to `out`."""
    return save_report(build_report(uri, plan, reference=reference), fmt, out, now)
