"""The plan: a sweep expanded into resolved, keyed, grouped runs (no torch here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan, PlannedRun, build_plan, format_value, run_name
from kdsweep.plan.smoke import label, with_smoke
from kdsweep.plan.tables import check_tables
from kdsweep.spec.load import Sweep, load_sweep
from kdsweep.spec.overrides import file_origin, override_texts

__all__ = ["Plan", "PlannedRun", "build_plan", "format_value", "plan_sweep", "run_name"]


def plan_sweep(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None, *,
               fuse: bool = True, smoke: bool = False) -> Plan:
    """Load, validate and plan a sweep file; every error names the file (and the `-o` that caused it).

    `overrides`: `["epochs=1"]` as `-o` gives them, or `{"epochs": 1}` (spec/overrides.py).
    `smoke`: every run on fake data shaped like its data set, a few steps, one seed (plan/smoke.py).
    """
    sweep: Sweep = load_sweep(path, with_smoke(overrides) if smoke else overrides)
    label(sweep, smoke=smoke)
    sweep.given = override_texts(overrides)
    try:
        plan = build_plan(sweep, fuse=fuse)
        check_tables(plan)
        if sweep.search is not None:
            from kdsweep.plan.search import check_space

            check_space(plan)
        return plan
    except UserError as exc:
        origin = file_origin(exc.where, sweep.file_overrides)  # `-o search.space...`: a check of the space
        raise UserError(str(exc) if origin is None else f"{origin}: {exc.message}", where=str(path)) from None
