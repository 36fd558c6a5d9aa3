"""The `tables:` section of a sweep: which tables `kdsweep table` renders, checked at load time.

Checked when the sweep is loaded, not when the table is rendered hours later, so a typo
in a column spec is found before the GPUs are busy.
"""

from __future__ import annotations

from typing import Any

from kdsweep.errors import UserError, did_you_mean

TABLE_KINDS = ("pivot", "list")
COMMON_KEYS = ("name", "kind", "title", "caption", "metric", "format", "where", "labels", "reference", "bold")
PIVOT_KEYS = (*COMMON_KEYS, "rows", "cols", "agg", "row_order", "col_order")
LIST_KEYS = (*COMMON_KEYS, "columns", "order", "reference_column")
BOLD = ("max", "min", "row_max", "row_min", "col_max", "col_min", None)
AGGS = ("mean", "mean_std", "max", "min", "n", "per_seed", "value")
COLUMN_KEYS = ("key", "metric", "as", "label", "agg", "epoch", "format", "profile", "labels", "seed")
COLUMN_AS = ("text", "check")
PROFILE_COLUMNS = ("params", "flops", "params_flops")


def _check_keys(where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise UserError(f"unknown key {key!r}; {did_you_mean(key, allowed)}", where=f"{where}.{key}")


def _check_choice(where: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise UserError(f"{value!r} is not one of {shown}", where=where)


def _validate_column(where: str, col: Any) -> dict:
    if not isinstance(col, dict):
        raise UserError(f"expected a mapping like {{key: loss.kd, as: check}} or {{metric: best_val_acc1}}, "
                        f"got {col!r}", where=where)
    _check_keys(where, col, COLUMN_KEYS)
    sources = [k for k in ("key", "metric", "profile") if k in col]
    if len(sources) != 1:
        raise UserError("a column names exactly one of key (a config value), metric, or profile", where=where)
    if "as" in col:
        _check_choice(f"{where}.as", col["as"], COLUMN_AS)
    if "agg" in col:
        _check_choice(f"{where}.agg", col["agg"], AGGS)
    if "profile" in col:
        _check_choice(f"{where}.profile", col["profile"], PROFILE_COLUMNS)
    if "epoch" in col and (not isinstance(col["epoch"], (int, list)) or isinstance(col["epoch"], bool)):
        raise UserError(f"expected an epoch number or a list of them, got {col['epoch']!r}", where=f"{where}.epoch")
    return dict(col)


def validate_tables(raw: Any) -> list[dict]:
    """The declared tables, shape-checked; names must be unique (they name output sections)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UserError(f"expected a list of table declarations, got {raw!r}", where="tables")
    seen: set[str] = set()
    out = []
    for i, table in enumerate(raw):
        where = f"tables[{i}]"
        if not isinstance(table, dict):
            raise UserError(f"expected a mapping with name and kind, got {table!r}", where=where)
        name = table.get("name")
        if not isinstance(name, str) or not name:
            raise UserError("name: required (it titles the table in results/<sweep>.md)", where=where)
        where = f"tables.{name}"
        if name in seen:
            raise UserError("two tables share this name", where=where)
        seen.add(name)
        kind = table.get("kind", "list")
        _check_choice(f"{where}.kind", kind, TABLE_KINDS)
        _check_keys(where, table, PIVOT_KEYS if kind == "pivot" else LIST_KEYS)
        if "bold" in table:
            _check_choice(f"{where}.bold", table["bold"], BOLD)
        if kind == "pivot":
            for axis in ("rows", "cols"):
                if not isinstance(table.get(axis), str):
                    raise UserError(f"a pivot needs `{axis}: <dotted config key>`", where=f"{where}.{axis}")
            if "agg" in table:
                _check_choice(f"{where}.agg", table["agg"], AGGS)
        else:
            columns = table.get("columns")
            if not isinstance(columns, list) or not columns:
                raise UserError("a list table needs `columns:` (a list of {key: ...} / {metric: ...})",
                                where=f"{where}.columns")
            table = {**table, "columns": [_validate_column(f"{where}.columns[{j}]", c) for j, c in enumerate(columns)]}
        if "where" in table and not isinstance(table["where"], dict):
            raise UserError("expected a mapping of dotted key -> value that selects runs", where=f"{where}.where")
        out.append({**table, "kind": kind})
    return out
