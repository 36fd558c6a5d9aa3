"""The write-up's own numbers beside ours (`kdsweep table --reference`): in the cell or in columns."""

from __future__ import annotations

import re
from typing import Any

from kdsweep.report.cells import NA, Cell, Column
from kdsweep.report.query import canonical
from kdsweep.report.values import ref_text, signed

MISSING = object()  # no reference for this row / cell (None in a reference list skips a row)


def match_ref(ref: dict | None, canon: str, text: str) -> Any:
    if not ref:
        return MISSING
    for key, value in ref.items():
        if canonical(key) == canon or str(key) == text:
            return value
    return MISSING


def inline_ref(cell: Cell, ref: Any, fmt: str) -> None:
    """`81.10 (ref 80.65, +0.45)`; a list / `a/b` reference compares part by part (epoch columns)."""
    if ref is None or ref is MISSING:
        return
    refs = ref_parts(ref)
    ours = _cell_parts(cell)
    shown = "/".join(ref_text(r, fmt) for r in refs)
    diffs = []
    if ours is not None and len(ours) == len(refs):
        diffs = [NA if (o is None or r is None) else signed(fmt, o - r) for o, r in zip(ours, refs, strict=True)]
    if diffs and any(d != NA for d in diffs):
        cell.ref = f" (ref {shown}, {'/'.join(diffs)})"
    else:
        cell.ref = f" (ref {shown})"


def ref_parts(ref: Any) -> list[float | None]:
    if isinstance(ref, list):
        return [None if r is None else float(r) for r in ref]
    if isinstance(ref, str):
        out: list[float | None] = []
        for part in ref.split("/"):
            try:
                out.append(float(part.strip().rstrip("%")))
            except ValueError:
                out.append(None)
        return out
    return [float(ref)]


def _cell_parts(cell: Cell) -> list[float | None] | None:
    if cell.value is not None:
        return [cell.value]
    if "/" in cell.text:  # an epoch cell: 9.29/16.15
        out: list[float | None] = []
        for part in cell.text.split("/"):
            found = re.search(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", part)
            out.append(float(found.group()) if found else None)
        return out
    return None


def ref_entry(ref: Any, i: int, label: str) -> Any:
    if isinstance(ref, list):
        return ref[i] if i < len(ref) else None
    if isinstance(ref, dict):
        for key, value in ref.items():
            if str(key) == label:
                return value
    return None


def reference_target(table: dict) -> int | None:
    """Index of the column spec a table-level `reference:` belongs to."""
    if "reference" not in table:
        return None
    wanted = table.get("reference_column")
    for i, spec in enumerate(table["columns"]):
        if "metric" not in spec:
            continue
        if wanted is None or wanted in (spec.get("label"), spec.get("metric")):
            return i
    return None


def reference_columns(cols: list[Column], ref: Any, row_labels: list[str], fmt: str) -> list[Column]:
    """A list column's write-up numbers: `(ref)` and `(Δ)` columns beside a plain metric column;
    per-seed and per-epoch columns carry them in the cell instead (no new columns)."""
    if cols[0].kind == "metric":
        col = cols[0]
        ref_cells, diff_cells = [], []
        for i, cell in enumerate(col.cells):
            entry = ref_entry(ref, i, row_labels[i])
            if entry is None:
                ref_cells.append(Cell(""))
                diff_cells.append(Cell(""))
                continue
            number = ref_parts(entry)
            ref_cells.append(Cell("/".join(ref_text(e, fmt) for e in number)))
            ok = cell.value is not None and len(number) == 1 and number[0] is not None
            diff_cells.append(Cell(signed(fmt, cell.value - number[0]) if ok else ""))
        return [Column(f"{col.header} (ref)", ref_cells, kind="ref"),
                Column(f"{col.header} (Δ)", diff_cells, kind="ref")]
    for j, col in enumerate(cols):
        for i, cell in enumerate(col.cells):
            entry = ref_entry(ref, i, row_labels[i])
            if col.kind == "seed" and isinstance(entry, list):
                entry = entry[j] if j < len(entry) else None
            inline_ref(cell, entry, fmt)
    return []
