"""Which runs a table shows (stages, `where:`) and how its seeds pool into rows.

The table's keys, stages and metrics were checked once, by the plan (`plan.tables.check_tables`);
nothing here checks them again."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kdsweep.plan.build import Plan
from kdsweep.report.query import canonical
from kdsweep.report.values import run_value


def matches(value: Any, wanted: Any) -> bool:
    options = wanted if isinstance(wanted, list) else [wanted]
    return any(canonical(value) == canonical(w) for w in options)


def select_runs(table: dict, runs: list[dict], plan: Plan) -> list[dict]:
    """The runs a table shows, in plan order: points, plus the stage runs it names; then `where:`."""
    stage_names = list(plan.sweep.stages)
    stages = table.get("stages")
    include: set[str] = set()
    if stages == "all":
        include = set(stage_names)
    elif isinstance(stages, str):
        include = {stages}
    elif isinstance(stages, list):
        include = set(stages)
    conditions = dict(table.get("where") or {})
    if "stage" in conditions:
        wanted = conditions["stage"] if isinstance(conditions["stage"], list) else [conditions["stage"]]
        include |= {w for w in wanted if w is not None}
    out = []
    for run in runs:
        if run["stage"] and run["stage"] not in include:
            continue
        if all(matches(run_value(run, str(k)), v) for k, v in conditions.items()):
            out.append(run)
    return out


def config_groups(runs: Iterable[dict]) -> list[list[dict]]:
    """Runs that differ only in seed, together, in order of first appearance."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        rest = {k: v for k, v in run["config"].items() if k != "seed"}
        groups.setdefault(canonical(rest), []).append(run)
    return list(groups.values())
