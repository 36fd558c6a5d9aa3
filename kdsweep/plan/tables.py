"""Check a sweep's `tables:` against its plan, before anything trains.

`spec/tables.py` checks a table's shape when the file loads; this checks what only the plan
knows: every config key a table names must be a key of some resolved run, every metric one
the engine logs for those runs, every stage one the sweep has. A typo found here costs a
second; found by `kdsweep table` after training, it costs the run (or prints `-` forever).
What each table key means: `kdsweep/report/tables.py`.
"""

from __future__ import annotations

from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.metric_names import SUMMARY_METRICS, run_metrics
from kdsweep.plan.build import Plan
from kdsweep.spec.dotted import flatten, has_path

PSEUDO_KEYS = ("stage", "name")  # keys a table may use that are not config keys: the stage, the run's name
DEFAULT_METRIC = "best_val_acc1"  # what a table shows unless it says `metric:`


def known_keys(plan: Plan) -> set[str]:
    keys: set[str] = set(PSEUDO_KEYS)
    for run in plan.runs:
        for leaf in flatten(run.config):
            parts = leaf.split(".")
            keys.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return keys


def is_key(plan: Plan, key: str) -> bool:
    return key in PSEUDO_KEYS or any(has_path(r.config, key) for r in plan.runs)


def check_key(plan: Plan, key: str, where: str) -> None:
    """A key no planned run has is a typo, not an empty table: say so, with the closest names."""
    if not is_key(plan, key):
        raise UserError(f"no run of the sweep has config key {key!r}; {did_you_mean(key, known_keys(plan))}",
                        where=where)


def known_metrics(plan: Plan) -> list[str]:
    """What the engine logs for the sweep's runs (a loss term's metric only where a run has the term)."""
    names: dict[str, None] = {}
    for run in plan.runs:
        names.update(dict.fromkeys(run_metrics((run.config.get("loss") or {}).keys())))
    return list(names or dict.fromkeys(SUMMARY_METRICS))


def check_metric(plan: Plan, metric: Any, where: str) -> None:
    known = known_metrics(plan)
    if metric not in known:
        raise UserError(f"no run of the sweep logs metric {metric!r}; {did_you_mean(str(metric), known)}",
                        where=where)


def check_stages(plan: Plan, table: dict, where: str) -> None:
    stages = table.get("stages")
    names = [stages] if isinstance(stages, str) and stages != "all" else stages if isinstance(stages, list) else []
    wanted = (table.get("where") or {}).get("stage")
    names = [*names, *(wanted if isinstance(wanted, list) else [wanted])]
    for name in names:
        if name is not None and name not in plan.sweep.stages:
            raise UserError(f"unknown stage {name!r}; {did_you_mean(name, plan.sweep.stages)}",
                            where=f"{where}.stages")


def _check_order(plan: Plan, order: Any, where: str) -> None:
    """`order: -best_val_acc1` or a dotted key; either kind of name is fine here."""
    if not order or order == "plan":
        return
    for spec in [order] if isinstance(order, str) else list(order):
        key = str(spec).lstrip("-+")
        if not is_key(plan, key) and key not in known_metrics(plan):
            raise UserError(f"{key!r} is neither a config key nor a metric of the sweep's runs; "
                            f"{did_you_mean(key, [*known_keys(plan), *known_metrics(plan)])}", where=where)


def _check_column(plan: Plan, spec: dict, where: str) -> None:
    if "key" in spec and spec.get("as") != "check":  # a check column's key may be absent (= off) everywhere
        check_key(plan, spec["key"], f"{where}.{spec['key']}")
    for i, case in enumerate(spec.get("cases") or []):
        for key, wanted in case["when"].items():
            if wanted is not None and key != "stage":
                check_key(plan, str(key), f"{where}.cases[{i}].when.{key}")
    if "metric" in spec:
        check_metric(plan, spec["metric"], f"{where}.{spec['metric']}")


def check_tables(plan: Plan) -> None:
    """Every declared table's keys, metrics and stages, as `kdsweep table` would need them."""
    for table in plan.sweep.tables:
        where = f"tables.{table['name']}"
        check_stages(plan, table, where)
        for key, wanted in (table.get("where") or {}).items():
            if wanted is not None:
                check_key(plan, str(key), f"{where}.where.{key}")
        if table["kind"] == "pivot":
            for axis in ("rows", "cols"):
                if isinstance(table[axis], dict):  # cases: their `when` keys, as a cases column's
                    _check_column(plan, table[axis], f"{where}.{axis}")
                else:
                    check_key(plan, table[axis], f"{where}.{axis}")
        if "metric" in table:
            check_metric(plan, table["metric"], f"{where}.metric")
        if table.get("bold_by"):
            check_key(plan, table["bold_by"], f"{where}.bold_by")
        for key in table.get("labels") or {}:
            check_key(plan, str(key), f"{where}.labels.{key}")
        _check_order(plan, table.get("order"), f"{where}.order")
        for spec in table.get("columns") or []:
            _check_column(plan, spec, f"{where}.columns")
