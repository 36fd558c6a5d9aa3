"""Where `kdsweep table` and `kdsweep plot` write: results/generated/ by default, or `--out`."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan
from kdsweep.report.document import Report, build_report

# Where tables and plots go unless `--out` says otherwise: git-ignored, so regenerating a
# report never rewrites the committed results/*.md / *.png (those are written with --out results/).
OUT_DIR = Path("results") / "generated"


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "sweep"


def report_paths(report: Report, fmt: str, out: str | Path | None = None) -> list[Path]:
    """Where `save_report` writes: OUT_DIR/<sweep>.md / .tex / .csv, or `out` (a file, or a directory).

    CSV holds one table per file: in a directory each table is <sweep>_<table>.csv; a file name
    given with `--out` is kept as written, so it needs a single table (`--table`).
    """
    stem = safe_name(report.plan.sweep.name)
    suffix = {"markdown": ".md", "latex": ".tex", "csv": ".csv"}[fmt]
    is_dir = out is None or Path(out).is_dir() or str(out).endswith(("/", "\\"))
    folder = OUT_DIR if out is None else Path(out)
    if not is_dir:
        if fmt == "csv" and len(report.tables) > 1:
            names = ", ".join(t.name for t in report.tables)
            raise UserError(f"--out {out}: a CSV file holds one table and the sweep has {len(report.tables)} "
                            f"({names}); pick one with --table NAME, or give a directory")
        return [Path(out)]
    if fmt == "csv":
        return [folder / f"{stem}_{safe_name(t.name)}.csv" for t in report.tables]
    return [folder / f"{stem}{suffix}"]


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
    """Write the report to OUT_DIR/<sweep>.md (or .tex; CSV: one file per table), or to `out`."""
    return save_report(build_report(uri, plan, reference=reference), fmt, out, now)
