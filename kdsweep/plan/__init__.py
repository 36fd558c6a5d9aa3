"""The plan: a sweep expanded into resolved, keyed, grouped runs (no torch here)."""

from __future__ import annotations

from pathlib import Path

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan, PlannedRun, build_plan, format_value, run_name
from kdsweep.plan.tables import check_tables
from kdsweep.spec.load import Sweep, load_sweep

__all__ = ["Plan", "PlannedRun", "build_plan", "format_value", "plan_sweep", "run_name"]


def plan_sweep(path: str | Path, overrides: list[str] | None = None, *, fuse: bool = True) -> Plan:
    """Load, validate and plan a sweep file; every error names the file."""
    sweep: Sweep = load_sweep(path, overrides)
    try:
        plan = build_plan(sweep, fuse=fuse)
        check_tables(plan)
        if sweep.search is not None:
            from kdsweep.plan.search import check_space

            check_space(plan)
        return plan
    except UserError as exc:
        raise UserError(str(exc), where=str(path)) from None
