"""Show a plan: a rich table for people, JSON for scripts."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from kdsweep.plan.build import Plan, format_value
from kdsweep.spec.data_path import planned
from kdsweep.spec.dotted import flatten, get_path
from kdsweep.spec.fuse import planned as planned_fuse


def plan_table(plan: Plan) -> Table:
    """One row per run: its name (the axis values, or their `labels:`), key, group and what it needs
    first, then any other value that differs between points. The name folds rather than being cut,
    so two runs never look the same in a narrow terminal."""
    extra = [k for k in shown_keys(plan) if k not in plan.axes]
    n_groups = len(plan.groups)
    fused = fuse_labels(plan)
    paths = {r.key: planned(r.config["data"]) for r in plan.runs}
    # A column only where runs differ: one data path, or no run in a batched block, is said once, in the title.
    show_path = len(set(paths.values())) > 1
    show_fuse = any(v == "batched" for v in fused.values())
    said = ([] if show_path else [f"data: {next(iter(paths.values()), '-')}"]) + \
        ([] if show_fuse else ["students step one by one (train.fuse)"] if n_groups < len(plan.runs) else [])
    title = (f"{plan.sweep.name}: {len(plan.runs)} runs "
             f"({sum(1 for r in plan.runs if r.stage)} stage, {n_groups} group{'s' if n_groups != 1 else ''})"
             + "".join(f"; {x}" for x in said))
    table = Table(title=title)
    table.add_column("stage", no_wrap=True)
    table.add_column("run", overflow="fold", ratio=1)
    for col in ("key", "group", "needs"):
        table.add_column(col, no_wrap=True)
    if show_path:
        table.add_column("data", overflow="fold")  # the data path (spec/data_path.py): tensor, decoded or workers
    if show_fuse:
        table.add_column("fuse", overflow="fold")  # batched block or loop (spec/fuse.py, train.fuse)
    for key in extra:
        table.add_column(key, overflow="fold")
    short = {r.key: r.short for r in plan.runs}
    for run in plan.runs:
        flat = flatten(run.config)
        cells = ["" if run.stage else format_value(flat.get(key, get_path(run.config, key))) for key in extra]
        needs = ",".join(short.get(k, k[:8]) for k in run.depends_on)
        chosen = ([paths[run.key]] if show_path else []) + ([fused[run.key]] if show_fuse else [])
        table.add_row(run.stage or "-", run.name if not run.stage else "", run.short, run.group, needs or "-",
                      *chosen, *cells)
    return table


def fuse_labels(plan: Plan) -> dict[str, str]:
    """Each run's place in its group's training (spec/fuse.py): `-` alone, batched, or loop and why."""
    out: dict[str, str] = {}
    for runs in plan.groups.values():
        out.update(zip([r.key for r in runs], planned_fuse([r.config for r in runs]), strict=True))
    return out


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
        fused = fuse_labels(plan)
        print(json.dumps([{**r.to_json(), "data_path": planned(r.config["data"]), "fuse": fused[r.key]}
                          for r in plan.runs], indent=2, default=str))
        return
    console = console or Console()
    if plan.runs:
        console.print(plan_table(plan))
    if plan.sweep.search is not None:
        from kdsweep.plan.search_render import search_table

        console.print(search_table(plan))
