"""The `tables:` section of a sweep: which tables `kdsweep table` renders, checked at load time.

Checked when the sweep is loaded, not when the table is rendered hours later, so a typo
in a column spec is found before the GPUs are busy. What each key means is documented in
`kdsweep/report/tables.py`, which renders them.
"""

from __future__ import annotations

from typing import Any

from kdsweep.errors import UserError, did_you_mean

TABLE_KINDS = ("pivot", "list")
COMMON_KEYS = ("name", "kind", "title", "caption", "metric", "format", "where", "stages", "labels", "reference",
               "bold")
PIVOT_KEYS = (*COMMON_KEYS, "rows", "cols", "agg", "row_order", "col_order", "corner")
LIST_KEYS = (*COMMON_KEYS, "columns", "order", "reference_column", "transpose", "bold_by")
BOLD = ("max", "min", "row_max", "row_min", "col_max", "col_min", None)
COLUMN_BOLD = ("max", "min", False)
AGGS = ("mean", "mean_std", "max", "min", "n", "per_seed", "value")
PIVOT_AGGS = tuple(a for a in AGGS if a != "per_seed")
COLUMN_KEYS = ("key", "metric", "profile", "cases", "as", "label", "agg", "epoch", "seed", "format", "labels", "reference",
               "bold")
COLUMN_AS = ("text", "check")
PROFILE_COLUMNS = ("params", "flops", "params_flops")


def _check_keys(where: str, table: dict, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise UserError(f"unknown key {key!r}; {did_you_mean(key, allowed)}", where=f"{where}.{key}")


def _check_choice(where: str, value: Any, choices: tuple) -> None:
    if value not in choices or (isinstance(value, bool) and False not in choices):
        shown = ", ".join(str(c).lower() if isinstance(c, bool) else str(c) for c in choices if c is not None)
        raise UserError(f"{value!r} is not one of {shown}", where=where)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_format(where: str, fmt: Any) -> None:
    """A Python format string for one number, tried here so a bad one fails at load, not at render."""
    if not isinstance(fmt, str):
        raise UserError(f"expected a format string like '{{:.2f}}', got {fmt!r}", where=where)
    try:
        fmt.format(1.5)
    except (ValueError, IndexError, KeyError) as exc:
        raise UserError(f"{fmt!r} is not a format for one number ({exc}); e.g. '{{:.2f}}' or '{{:.1f}}%'",
                        where=where) from None


def _check_labels(where: str, labels: Any, *, nested: bool) -> None:
    if not isinstance(labels, dict):
        shape = "{dotted key: {value: label}}" if nested else "{value: label}"
        raise UserError(f"expected a mapping {shape}, got {labels!r}", where=where)
    if nested:
        for key, inner in labels.items():
            _check_labels(f"{where}.{key}", inner, nested=False)


def _check_reference_entry(where: str, entry: Any) -> None:
    """One write-up number: a number, a list of numbers (per seed / per epoch), "9.29/16.15", or null."""
    if entry is None or _is_number(entry) or isinstance(entry, str):
        return
    if isinstance(entry, list) and all(e is None or _is_number(e) for e in entry):
        return
    raise UserError(f"expected a number, a list of numbers or null, got {entry!r}", where=where)


def _check_list_reference(where: str, ref: Any) -> None:
    if isinstance(ref, list):
        for i, entry in enumerate(ref):
            _check_reference_entry(f"{where}[{i}]", entry)
    elif isinstance(ref, dict):
        for label, entry in ref.items():
            _check_reference_entry(f"{where}.{label}", entry)
    else:
        raise UserError(f"expected a list of numbers in row order, or a mapping {{row label: number}}, got {ref!r}",
                        where=where)


def _check_pivot_reference(where: str, ref: Any) -> None:
    if not isinstance(ref, dict) or not all(isinstance(v, dict) for v in ref.values()):
        raise UserError(f"expected a mapping {{row value: {{column value: number}}}}, got {ref!r}", where=where)
    for row, cols in ref.items():
        for col, value in cols.items():
            if value is not None and not _is_number(value):
                raise UserError(f"expected a number, got {value!r}", where=f"{where}.{row}.{col}")


def _check_stages(where: str, stages: Any) -> None:
    if stages == "all" or isinstance(stages, str):
        return
    if isinstance(stages, list) and stages and all(isinstance(s, str) for s in stages):
        return
    raise UserError(f"expected `all`, a stage name or a list of stage names, got {stages!r}", where=where)


def _check_cases(where: str, cases: Any) -> None:
    """`cases: [{when: {dotted key: value}, text: B0+FA}, ...]`: a row label from whichever case matches."""
    if not isinstance(cases, list) or not cases:
        raise UserError(f"expected a list of {{when: {{key: value}}, text: label}}, got {cases!r}", where=where)
    for i, case in enumerate(cases):
        here = f"{where}[{i}]"
        if not isinstance(case, dict):
            raise UserError(f"expected {{when: {{key: value}}, text: label}}, got {case!r}", where=here)
        _check_keys(here, case, ("when", "text"))
        if not isinstance(case.get("when"), dict) or not case["when"]:
            raise UserError("expected `when:`, a mapping of dotted key -> value the run must have", where=here)
        if not isinstance(case.get("text"), (str, int, float)) or isinstance(case.get("text"), bool):
            raise UserError("expected `text:`, the label for runs this case matches", where=here)


def _validate_column(where: str, col: Any) -> dict:
    if not isinstance(col, dict):
        raise UserError(f"expected a mapping like {{key: loss.kd, as: check}} or {{metric: best_val_acc1}}, "
                        f"got {col!r}", where=where)
    _check_keys(where, col, COLUMN_KEYS)
    sources = [k for k in ("key", "metric", "profile", "cases") if k in col]
    if len(sources) != 1:
        raise UserError("a column names exactly one of key (a config value), metric, profile, or cases",
                        where=where)
    source = sources[0]
    if source == "cases":
        _check_cases(f"{where}.cases", col["cases"])
    elif not isinstance(col[source], str) or not col[source]:
        raise UserError(f"expected a name, got {col[source]!r}", where=f"{where}.{source}")
    only = {"as": "key", "agg": "metric", "epoch": "metric", "seed": "metric", "reference": "metric"}
    for opt, needs in only.items():
        if opt in col and source != needs:
            raise UserError(f"`{opt}` applies to a {needs} column", where=f"{where}.{opt}")
    if "as" in col:
        _check_choice(f"{where}.as", col["as"], COLUMN_AS)
    if "agg" in col:
        _check_choice(f"{where}.agg", col["agg"], AGGS)
    if "profile" in col:
        _check_choice(f"{where}.profile", col["profile"], PROFILE_COLUMNS)
    if "epoch" in col:
        epochs = col["epoch"] if isinstance(col["epoch"], list) else [col["epoch"]]
        if not epochs or not all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in epochs):
            raise UserError(f"expected an epoch number (1-based) or a list of them, got {col['epoch']!r}",
                            where=f"{where}.epoch")
        if col.get("agg") in ("per_seed", "n", "mean_std"):
            raise UserError(f"agg {col['agg']!r} does not combine with epoch (the epochs share one cell)",
                            where=f"{where}.agg")
    if "seed" in col:
        if not isinstance(col["seed"], int) or isinstance(col["seed"], bool):
            raise UserError(f"expected a seed (an integer), got {col['seed']!r}", where=f"{where}.seed")
        if "agg" in col:
            raise UserError("a column for one seed takes no agg", where=f"{where}.agg")
    if "label" in col:
        label = col["label"]
        ok = isinstance(label, str) or (col.get("agg") == "per_seed" and isinstance(label, list)
                                        and all(isinstance(x, str) for x in label))
        if not ok:
            raise UserError(f"expected a header text (a list of them only with agg: per_seed), got {label!r}",
                            where=f"{where}.label")
    if "format" in col:
        _check_format(f"{where}.format", col["format"])
    if "labels" in col:
        _check_labels(f"{where}.labels", col["labels"], nested=False)
    if "reference" in col:
        _check_list_reference(f"{where}.reference", col["reference"])
    if "bold" in col:
        _check_choice(f"{where}.bold", col["bold"], COLUMN_BOLD)
    return dict(col)


def _validate_pivot(where: str, table: dict) -> None:
    for axis in ("rows", "cols"):
        value = table.get(axis)
        if isinstance(value, dict):  # `{cases: [{when: ..., text: ...}]}`: a run sits under every case it matches
            _check_keys(f"{where}.{axis}", value, ("cases",))
            _check_cases(f"{where}.{axis}.cases", value.get("cases"))
        elif not isinstance(value, str) or not value:
            raise UserError(f"a pivot needs `{axis}: <dotted config key>` or `{axis}: {{cases: [{{when: "
                            "{key: value}, text: label}, ...]}`", where=f"{where}.{axis}")
    if "agg" in table:
        _check_choice(f"{where}.agg", table["agg"], PIVOT_AGGS)
    for key in ("row_order", "col_order"):
        if key in table and not isinstance(table[key], list):
            raise UserError(f"expected a list of values, got {table[key]!r}", where=f"{where}.{key}")
    if "corner" in table and not isinstance(table["corner"], str):
        raise UserError(f"expected the corner header text, e.g. 'alpha\\T', got {table['corner']!r}",
                        where=f"{where}.corner")
    if "reference" in table:
        _check_pivot_reference(f"{where}.reference", table["reference"])


def _validate_list(where: str, table: dict) -> dict:
    columns = table.get("columns")
    if not isinstance(columns, list) or not columns:
        raise UserError("a list table needs `columns:` (a list of {key: ...} / {metric: ...})",
                        where=f"{where}.columns")
    checked = [_validate_column(f"{where}.columns[{j}]", c) for j, c in enumerate(columns)]
    order = table.get("order")
    if order is not None and not (isinstance(order, str) or (isinstance(order, list)
                                                             and all(isinstance(o, str) for o in order))):
        raise UserError(f"expected `plan`, a dotted key or metric (prefix - for descending), or a list of them, "
                        f"got {order!r}", where=f"{where}.order")
    if "reference" in table:
        _check_list_reference(f"{where}.reference", table["reference"])
    if "reference_column" in table:
        if "reference" not in table:
            raise UserError("reference_column names the column `reference:` applies to; add `reference:`",
                            where=f"{where}.reference_column")
        labels = [c.get("label") for c in checked]
        names = [c.get("metric") for c in checked]
        if table["reference_column"] not in labels and table["reference_column"] not in names:
            shown = [str(x) for x in labels + names if isinstance(x, str)]
            raise UserError(f"no column {table['reference_column']!r}; {did_you_mean(table['reference_column'], shown)}",
                            where=f"{where}.reference_column")
    if "reference" in table and not any("metric" in c for c in checked):
        raise UserError("`reference:` needs a metric column to stand beside", where=f"{where}.reference")
    if "transpose" in table and not isinstance(table["transpose"], bool):
        raise UserError(f"expected true or false, got {table['transpose']!r}", where=f"{where}.transpose")
    if "bold_by" in table and not isinstance(table["bold_by"], str):
        raise UserError(f"expected a dotted config key, got {table['bold_by']!r}", where=f"{where}.bold_by")
    return {**table, "columns": checked}


def validate_tables(raw: Any) -> list[dict]:
    """The declared tables, shape-checked; names must be unique (they name output sections and files)."""
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
        for key in ("title", "caption", "metric"):
            if key in table and not isinstance(table[key], str):
                raise UserError(f"expected text, got {table[key]!r}", where=f"{where}.{key}")
        if "format" in table:
            _check_format(f"{where}.format", table["format"])
        if "where" in table and not isinstance(table["where"], dict):
            raise UserError("expected a mapping of dotted key -> value that selects runs", where=f"{where}.where")
        if "stages" in table:
            _check_stages(f"{where}.stages", table["stages"])
        if "labels" in table:
            _check_labels(f"{where}.labels", table["labels"], nested=True)
        if kind == "pivot":
            _validate_pivot(where, table)
        else:
            table = _validate_list(where, table)
        out.append({**table, "kind": kind})
    return out
