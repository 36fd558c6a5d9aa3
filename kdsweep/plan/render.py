"""Show a plan: a rich table for people, JSON for scripts."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from kdsweep.plan.build import Plan, format_value
from kdsweep.spec.dotted import flatten, get_path


def plan_table(plan: Plan) -> Table:
    shown = shown_keys(plan)
    n_groups = len(plan.groups)
    title = (f"{plan.sweep.name}: {len(plan.runs)} runs "
             f"({sum(1 for r in plan.runs if r.stage)} stage, {n_groups} group{'s' if n_groups != 1 else ''})")
    table = Table(title=title)
    for col in ("stage", "key", "group", "needs"):
        table.add_column(col, no_wrap=True)
    for key in shown:
        table.add_column(key)
    short = {r.key: r.short for r in plan.runs}
    for run in plan.runs:
        flat = flatten(run.config)
        cells = []
        for key in shown:
            if key in run.point:
                cells.append(format_value(run.point[key]))
            elif run.stage:
                cells.append("")
            else:
                cells.append(format_value(flat.get(key, get_path(run.config, key))))
        needs = ",".join(short.get(k, k[:8]) for k in run.depends_on)
        table.add_row(run.stage or "-", run.short, run.group, needs or "-", *cells)
    return table


def shown_keys(plan: Plan) -> list[str]:
    """The axes, then other values that differ between sweep points (not derived ones)."""
    point_runs = [r for r in plan.runs if r.stage is None]
    flats = [flatten(r.config) for r in point_runs]
    keys: list[str] = []
    for flat in flats:
        keys.extend(k for k in flat if k not in keys)
    varying = [k for k in keys if len({repr(f.get(k)) for f in flats}) > 1]

    def covered(key: str) -> bool:
        return any(key == a or key.startswith(a + ".") or a.startswith(key + ".") for a in plan.axes)

    derived = ("teacher.", "loss.ce.weight")
    extra = [k for k in varying if not covered(k) and not k.startswith(derived)]
    return list(plan.axes) + extra


def print_plan(plan: Plan, *, as_json: bool = False, console: Console | None = None) -> None:
    if as_json:
        print(json.dumps([r.to_json() for r in plan.runs], indent=2, default=str))
        return
    (console or Console()).print(plan_table(plan))
