"""Reports: read a sweep's runs from MLflow into pandas, render its tables and plots.

`load_runs` (one row per planned run), `render_report` / `write_report` (Markdown, CSV,
LaTeX), `plot_sweep` (PNGs, imported on first use: matplotlib is not needed for tables).
"""

from __future__ import annotations

from typing import Any

from kdsweep.report.document import render_report
from kdsweep.report.files import write_report
from kdsweep.report.query import load_runs

__all__ = ["load_runs", "plot_sweep", "render_report", "write_report"]


def __getattr__(name: str) -> Any:
    if name == "plot_sweep":
        from kdsweep.report.plots import plot_sweep

        return plot_sweep
    raise AttributeError(name)
