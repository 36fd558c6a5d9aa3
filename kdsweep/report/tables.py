"""Render a sweep's declared tables from what MLflow holds: pandas, then Markdown, CSV or LaTeX.

A table is declared in the sweep file under `tables:` (checked at load by
`kdsweep/spec/tables.py`) so that `kdsweep table` regenerates the write-up's own table,
in the write-up's own shape, from the runs. The rules, in one place:

Which runs a table shows
  - Sweep points only, by default. Stage runs (teachers, refinery links) appear when the
    table names them: `stages: all`, `stages: [teacher]`, or `where: {stage: teacher}`.
  - `where: {dotted key: value}` keeps runs whose resolved config has that value (a list
    means any of them; `null` means the key is absent, e.g. `loss.kd: null` is "no KD").
    Pseudo-keys: `stage` (the stage name; `null` = sweep points) and `name` (the run's name
    without its seed, as `kdsweep plan` prints it: `T=3 alpha=0.6`, or the stage name).
  - Rows come in plan order (the order the sweep declares: stages first, then points);
    a list table may say `order: -best_val_acc1` (or a dotted key; `-` = descending).

pivot: one metric over two config keys (`rows`, `cols`; pseudo-keys allowed)
  - Runs lacking either key (a no-KD baseline in a T x alpha grid) are left out: they
    belong in a list table. Rows / columns appear in plan order; `row_order` / `col_order`
    put the listed values first. The corner header is `<last part of rows>\\<last part of
    cols>` (004's `alpha\\T`), or `corner:`.
  - A cell pools every run with that (row, col) value, normally the seeds (when the sweep
    varies more than the two keys, narrow the table with `where:`): `agg: mean` (default),
    `value` (the same number, named for single runs), `mean_std` (`81.28 ± 0.12`, the ±
    once two seeds finished; sample std), `max`, `min`, `n`.
  - A cell the sweep did not plan stays empty (004's partial column at T=3).

list: one row per distinct configuration (runs that differ only in seed share a row)
  - `{key: <dotted>}`: the config value as text (`labels:` maps values to text; the key
    is matched as the value or as the compact text `kdsweep plan` shows, e.g.
    `cosine(warmup_epochs=1)`), `-` when the run has no such key. Default header: the key.
  - `{cases: [{when: {<dotted key>: value, ...}, text: B0+FA}, ...], label: Models}`: a row
    label from the first case whose `when:` the run matches (same matching as `where:`),
    else the run's name: 000's "Models" column, where B0 / B0+FA / B0+Fast FA differ in
    a loss term rather than in one value a `labels:` map could name.
  - `{key: <dotted>, as: check}`: ✓ (U+2713) when the value is present and "on", ✗ (U+2717)
    when it is absent / null (a removed sub-config like `loss.kd`), false, 0, empty, or
    named `none` / `off` / `constant` (so `schedule: {name: constant}` is "no scheduler").
    002 writes the same marks as HTML entities &#10003; / &#10008;; we write the characters,
    which render everywhere Markdown does. `labels: {true: yes, false: no}` overrides.
  - `{metric: <name>, agg: ...}`: agg over the row's seeds as for pivots, plus `per_seed`:
    one column per seed (the sweep's `seeds:`; a row with a single run, e.g. a stage, fills
    the column of its own seed, or the first, and leaves the rest empty). A string `label`
    is repeated over those columns (000's three "accuracy" columns), a list names each.
    `{metric: ..., seed: 1}` is one seed's value.
  - `{metric: val_acc1, epoch: [1, 2]}`: the per-epoch history at those epochs, mean over
    seeds, joined by `/` (000's "acc at 1st/2nd epoch": `9.29/16.15`).
  - `{profile: params | flops | params_flops}`: from the summary metrics `params`, `flops`:
    `4.1M`, `0.38G`, `4.1M/0.38G` (000's Pa/Fl), or the column's `format` on the raw count.
  - `transpose: true` turns the table on its side: the first column's values become the
    header (004's model-size table: one row of accuracies under the model names).

Options for both kinds: `metric` (default best_val_acc1), `format` (default `{:.2f}`, a
column may set its own), `title` (a heading line), `caption` (a line under the table),
`labels: {dotted key: {value: text}}`, and `bold: max | min | row_max | row_min | col_max |
col_min` for the best number (Markdown `**x**`, LaTeX `\\textbf`; ties are all bold). In a
list table `max` / `min` mean per column (accuracy and a train-val gap do not compete),
`bold_by: <dotted key>` ranks within rows sharing that key's value (002 bolds the best run
per initial lr), and a column's own `bold: max | min | false` overrides the table's.

What a cell says when there is no number
  - `running`, `pending`, `failed`, `killed`, `not run` (no child run in MLflow): a run that
    has not finished never shows a number. A cell whose runs all lack a number says the
    most hopeful of their states (running, pending, failed, killed, not run, in that order).
  - With seeds, the number uses the finished seeds only and says how many: `81.10 (2/3)`.
  - `-`: finished but the metric (or history epoch) was never logged, or not applicable.

Reference numbers (`--reference`)
  - pivot: `reference: {<row value>: {<col value>: number}}`, shown in the cell:
    `81.10 (ref 80.65, +0.45)` (a grid has no room for extra columns).
  - list: a column's `reference:` (or the table's, for `reference_column`, else the first
    metric column) is a list in row order (`null` skips a row) or a mapping keyed by the
    row's first cell text (its label). A plain metric column gets two columns beside it,
    `<label> (ref)` and `<label> (Δ)`; per-seed and per-epoch columns carry the reference
    in the cell (`[75.62, 76.02, 76.00]`, `9.29/16.15` or `[9.29, 16.15]`).
  - The write-up's numbers are printed in the column's format (so 80.875 shows as 80.88
    beside our 80.88) and Δ is ours minus theirs, in that format with a sign.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kdsweep.errors import UserError, did_you_mean
from kdsweep.plan.build import Plan, format_value
from kdsweep.report.query import FINISHED, HISTORY_PREFIX, NOT_RUN, canonical, frame, read_sweep
from kdsweep.spec.dotted import flatten, get_path, has_path
from kdsweep.spec.tables import validate_tables
from kdsweep.status import RunStatus

DEFAULT_METRIC = "best_val_acc1"
DEFAULT_FORMAT = "{:.2f}"
CHECK, CROSS = "\u2713", "\u2717"
NA = "-"
# Which word an empty cell shows when its runs differ: the most telling first.
STATUS_PRIORITY = tuple(s.word for s in (RunStatus.RUNNING, RunStatus.PENDING, RunStatus.FAILED, RunStatus.KILLED,
                                         RunStatus.NOT_RUN))
OFF_WORDS = ("none", "off", "constant")
PSEUDO_KEYS = ("stage", "name")
FORMATS = ("markdown", "csv", "latex")
SCALAR_AGGS = ("mean", "value", "mean_std", "max", "min")
_MISSING = object()


# Cells and rendered tables ----------------------------------------------------------------------------


@dataclass
class Cell:
    """One table cell: the text, the number behind it (for bold and plots) and its trimmings."""

    text: str = ""
    value: float | None = None
    rank: bool = False  # may be bolded
    bold: bool = False
    note: str = ""  # " (2/3)": seeds finished of planned
    ref: str = ""  # " (ref 80.65, +0.45)"

    def render(self, style: str) -> str:
        text, rest = self.text, self.note + self.ref
        if style == "latex":
            text, rest = latex_escape(text), latex_escape(rest)
            return (f"\\textbf{{{text}}}" if self.bold and text else text) + rest
        if style == "markdown":
            return (f"**{text}**" if self.bold and text else text) + rest
        return text + rest


@dataclass
class Column:
    header: str
    cells: list[Cell]
    kind: str = "key"  # key | metric | seed | epoch | profile | ref | label
    bold: Any = None  # the column's own bold rule (None: the table's)


@dataclass
class Bar:
    label: str
    mean: float
    std: float
    n: int
    status: str


@dataclass
class RenderedTable:
    """A table ready for any output format, plus the numbers its plot needs."""

    name: str
    kind: str
    title: str
    caption: str
    metric: str
    columns: list[Column]
    matrix: pd.DataFrame | None = None  # pivot: numbers by row / column header, NaN where none
    bars: list[Bar] = field(default_factory=list)  # list: the primary metric per row
    rows_key: str = ""
    cols_key: str = ""

    @property
    def n_rows(self) -> int:
        return len(self.columns[0].cells) if self.columns else 0

    def frame(self, style: str = "plain") -> pd.DataFrame:
        """The table as a DataFrame of text (duplicate headers allowed: 000's three accuracy columns)."""
        data = [[col.cells[i].render(style) for col in self.columns] for i in range(self.n_rows)]
        headers = [latex_escape(c.header) if style == "latex" else c.header for c in self.columns]
        return pd.DataFrame(data, columns=headers, dtype=object)

    def to_markdown(self) -> str:
        return self.frame("markdown").to_markdown(index=False, tablefmt="pipe", stralign="center",
                                                  disable_numparse=True)

    def to_csv(self) -> str:
        return self.frame("plain").to_csv(index=False, lineterminator="\n")

    def to_latex(self) -> str:
        df = self.frame("latex")
        return df.to_latex(index=False, escape=False, column_format="c" * max(1, len(df.columns)))


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", CHECK: r"\checkmark", CROSS: r"$\times$", "Δ": r"$\Delta$", "−": "-"}


def latex_escape(text: str) -> str:
    """LaTeX-safe text; ±, ✓, ✗ and Δ become math / amssymb commands rather than raw Unicode."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


# Values of runs -------------------------------------------------------------------------------------


def run_value(run: dict, key: str) -> Any:
    """The value a run has at `key` (pseudo-keys stage / name included), None when absent."""
    if key == "stage":
        return run["stage"] or None
    if key == "name":
        return run["row"]
    return get_path(run["config"], key)


def shown_value(run: dict, key: str) -> Any:
    """As the sweep wrote it when the key is an axis of the point (compact), else the config value."""
    if key in run["point"]:
        return run["point"][key]
    return run_value(run, key)


def label_of(value: Any, labels: dict | None) -> str | None:
    if not labels:
        return None
    text, canon = format_value(value), canonical(value)
    for key, label in labels.items():
        if canonical(key) == canon or str(key) == text:
            return str(label)
    return None


def value_text(value: Any, labels: dict | None = None) -> str:
    label = label_of(value, labels)
    if label is not None:
        return label
    return NA if value is None else format_value(value)


def is_on(value: Any) -> bool:
    """Whether a config value means "with" for a check column (see the module docstring)."""
    if value is None or value is False or value == 0 or value in ("", [], {}):
        return False
    if isinstance(value, str):
        return value.strip().lower() not in OFF_WORDS
    if isinstance(value, dict):
        name = value.get("name", value.get("arch"))
        return not (isinstance(name, str) and name.lower() in OFF_WORDS)
    return True


def check_text(value: Any, labels: dict | None) -> str:
    on = is_on(value)
    label = label_of(on, labels)
    return label if label is not None else (CHECK if on else CROSS)


def _last(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _num(run: dict, metric: str) -> float | None:
    value = run.get(metric)
    if value is None or isinstance(value, (dict, list, str)):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _fmt(fmt: str, value: float) -> str:
    return fmt.format(value)


def signed(fmt: str, diff: float) -> str:
    text = fmt.format(abs(diff))
    return ("-" if diff < 0 and text != fmt.format(0.0) else "+") + text


def ref_text(value: Any, fmt: str) -> str:
    """A write-up number in the column's format, so ours and theirs line up digit for digit."""
    return NA if value is None else fmt.format(float(value))


def status_word(runs: Sequence[dict]) -> str:
    statuses = {r["status"] for r in runs}
    for word in STATUS_PRIORITY:
        if word in statuses:
            return word
    return sorted(statuses)[0] if statuses else NOT_RUN


def _aggregate(values: list[float], agg: str) -> float:
    if agg == "max":
        return max(values)
    if agg == "min":
        return min(values)
    return sum(values) / len(values)


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarize(runs: Sequence[dict], metric: str, agg: str, fmt: str) -> Cell:
    """One cell over a group of runs (a row's seeds, a pivot cell): finished runs only, with (k/n)."""
    done = [r for r in runs if r["status"] == FINISHED]
    if not done:
        return Cell(status_word(runs))
    values = [v for v in (_num(r, metric) for r in done) if v is not None]
    note = f" ({len(done)}/{len(runs)})" if len(done) < len(runs) else ""
    if agg == "n":
        return Cell(str(len(values)) if not note else f"{len(done)}/{len(runs)}")
    if not values:
        return Cell(NA, note=note)
    value = _aggregate(values, agg)
    text = _fmt(fmt, value)
    if agg == "mean_std" and len(values) >= 2:
        text += " ± " + _fmt(fmt, _std(values))
    return Cell(text, value=value, rank=True, note=note)


def epoch_cell(runs: Sequence[dict], metric: str, epochs: list[int], agg: str, fmt: str) -> Cell:
    done = [r for r in runs if r["status"] == FINISHED]
    if not done:
        return Cell(status_word(runs))
    parts = []
    for epoch in epochs:
        values = [h[epoch] for h in (r.get(HISTORY_PREFIX + metric) or {} for r in done) if epoch in h]
        parts.append(_fmt(fmt, _aggregate(values, agg)) if values else NA)
    note = f" ({len(done)}/{len(runs)})" if len(done) < len(runs) else ""
    if all(p == NA for p in parts):
        return Cell(NA, note=note)
    return Cell("/".join(parts), note=note)


def _si(value: float, what: str) -> str:
    """Counts as the write-ups print them: params `4.1M`, FLOPs `0.38G` (G from 0.1G up, as 000 does)."""
    if what == "params":
        steps = ((1e9, 1e9, "{:.1f}G"), (1e6, 1e6, "{:.1f}M"), (1e3, 1e3, "{:.1f}K"))
    else:
        steps = ((1e8, 1e9, "{:.2f}G"), (1e5, 1e6, "{:.2f}M"), (1e2, 1e3, "{:.2f}K"))
    for threshold, scale, fmt in steps:
        if value >= threshold:
            return fmt.format(value / scale)
    return f"{value:.0f}"


def profile_cell(runs: Sequence[dict], what: str, fmt: str | None) -> Cell:
    """Params / FLOPs from any run of the row that logged them (they do not depend on training)."""
    ordered = sorted(runs, key=lambda r: r["status"] != FINISHED)
    parts = []
    for metric in (("params", "flops") if what == "params_flops" else (what,)):
        value = next((v for v in (_num(r, metric) for r in ordered) if v is not None), None)
        if value is None:
            parts.append(None)
        else:
            parts.append(fmt.format(value) if fmt else _si(value, metric))
    if all(p is None for p in parts):
        return Cell(NA if any(r["status"] == FINISHED for r in runs) else status_word(runs))
    return Cell("/".join(p if p is not None else NA for p in parts))


# Selecting runs ----------------------------------------------------------------------------------------


def _known_keys(plan: Plan) -> set[str]:
    keys: set[str] = set(PSEUDO_KEYS)
    for run in plan.runs:
        for leaf in flatten(run.config):
            parts = leaf.split(".")
            keys.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return keys


def _check_key(plan: Plan, key: str, where: str) -> None:
    """A key no planned run has is a typo, not an empty table: say so, with the closest names."""
    if key in PSEUDO_KEYS or any(has_path(r.config, key) for r in plan.runs):
        return
    raise UserError(f"no run of the sweep has config key {key!r}; {did_you_mean(key, _known_keys(plan))}",
                    where=where)


def _matches(value: Any, wanted: Any) -> bool:
    options = wanted if isinstance(wanted, list) else [wanted]
    return any(canonical(value) == canonical(w) for w in options)


def select_runs(table: dict, runs: list[dict], plan: Plan) -> list[dict]:
    """The runs a table shows, in plan order: points, plus the stage runs it names; then `where:`."""
    where_ctx = f"tables.{table['name']}"
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
    for name in sorted(include):
        if name not in stage_names:
            raise UserError(f"unknown stage {name!r}; {did_you_mean(name, stage_names)}",
                            where=f"{where_ctx}.stages")
    for key, wanted in conditions.items():
        if wanted is not None:
            _check_key(plan, str(key), f"{where_ctx}.where.{key}")
    out = []
    for run in runs:
        if run["stage"] and run["stage"] not in include:
            continue
        if all(_matches(run_value(run, str(k)), v) for k, v in conditions.items()):
            out.append(run)
    return out


def config_groups(runs: Iterable[dict]) -> list[list[dict]]:
    """Runs that differ only in seed, together, in order of first appearance."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        rest = {k: v for k, v in run["config"].items() if k != "seed"}
        groups.setdefault(canonical(rest), []).append(run)
    return list(groups.values())


# Pivot ----------------------------------------------------------------------------------------------


def _ordered_values(runs: list[dict], key: str, order: list | None) -> list[tuple[str, Any]]:
    seen: dict[str, Any] = {}
    for run in runs:
        seen.setdefault(canonical(run_value(run, key)), shown_value(run, key))
    first = []
    for value in order or []:
        canon = canonical(value)
        if canon in seen and canon not in dict(first):
            first.append((canon, seen[canon]))
    return first + [(c, v) for c, v in seen.items() if c not in dict(first)]


def _match_ref(ref: dict | None, canon: str, text: str) -> Any:
    if not ref:
        return _MISSING
    for key, value in ref.items():
        if canonical(key) == canon or str(key) == text:
            return value
    return _MISSING


def _inline_ref(cell: Cell, ref: Any, fmt: str) -> None:
    """`81.10 (ref 80.65, +0.45)`; a list / `a/b` reference compares part by part (epoch columns)."""
    if ref is None or ref is _MISSING:
        return
    refs = _ref_parts(ref)
    ours = _cell_parts(cell)
    shown = "/".join(ref_text(r, fmt) for r in refs)
    diffs = []
    if ours is not None and len(ours) == len(refs):
        diffs = [NA if (o is None or r is None) else signed(fmt, o - r) for o, r in zip(ours, refs, strict=True)]
    if diffs and any(d != NA for d in diffs):
        cell.ref = f" (ref {shown}, {'/'.join(diffs)})"
    else:
        cell.ref = f" (ref {shown})"


def _ref_parts(ref: Any) -> list[float | None]:
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


def _bold(cells: list[Cell], direction: str) -> None:
    ranked = [c for c in cells if c.rank and c.value is not None]
    if not ranked:
        return
    best = max(c.value for c in ranked) if direction == "max" else min(c.value for c in ranked)
    for c in ranked:
        if abs(c.value - best) <= 1e-12 * max(1.0, abs(best)):
            c.bold = True


def render_pivot(table: dict, runs: list[dict], plan: Plan, *, reference: bool = False) -> RenderedTable:
    name = table["name"]
    rows_key, cols_key = table["rows"], table["cols"]
    for axis, key in (("rows", rows_key), ("cols", cols_key)):
        _check_key(plan, key, f"tables.{name}.{axis}")
    metric = table.get("metric", DEFAULT_METRIC)
    fmt = table.get("format", DEFAULT_FORMAT)
    agg = table.get("agg", "mean")
    labels = table.get("labels") or {}
    selected = [r for r in select_runs(table, runs, plan)
                if run_value(r, rows_key) is not None and run_value(r, cols_key) is not None]
    row_values = _ordered_values(selected, rows_key, table.get("row_order"))
    col_values = _ordered_values(selected, cols_key, table.get("col_order"))
    row_texts = [value_text(v, labels.get(rows_key)) for _, v in row_values]
    col_texts = [value_text(v, labels.get(cols_key)) for _, v in col_values]

    grid: list[list[Cell]] = []
    matrix = []
    for rc, _ in row_values:
        line, numbers = [], []
        for cc, _ in col_values:
            group = [r for r in selected if canonical(run_value(r, rows_key)) == rc
                     and canonical(run_value(r, cols_key)) == cc]
            cell = summarize(group, metric, agg, fmt) if group else Cell("")
            line.append(cell)
            numbers.append(cell.value if cell.value is not None and agg != "n" else math.nan)
        grid.append(line)
        matrix.append(numbers)

    rule = table.get("bold")
    if rule and agg != "n":
        direction = "max" if rule.endswith("max") else "min"
        if rule in ("max", "min"):
            _bold([c for line in grid for c in line], direction)
        elif rule.startswith("row"):
            for line in grid:
                _bold(line, direction)
        else:
            for j in range(len(col_values)):
                _bold([line[j] for line in grid], direction)

    if reference:
        ref = table.get("reference") or {}
        for i, (rc, _) in enumerate(row_values):
            row_ref = _match_ref(ref, rc, row_texts[i])
            if row_ref is _MISSING:
                continue
            for j, (cc, _) in enumerate(col_values):
                _inline_ref(grid[i][j], _match_ref(row_ref, cc, col_texts[j]), fmt)

    corner = table.get("corner") or f"{_last(rows_key)}\\{_last(cols_key)}"
    columns = [Column(corner, [Cell(t) for t in row_texts], kind="label")]
    for j, text in enumerate(col_texts):
        columns.append(Column(text, [line[j] for line in grid], kind="metric"))
    return RenderedTable(name=name, kind="pivot", title=table.get("title", ""), caption=table.get("caption", ""),
                         metric=metric, columns=columns,
                         matrix=pd.DataFrame(matrix, index=row_texts, columns=col_texts, dtype=float),
                         rows_key=rows_key, cols_key=cols_key)


# List -----------------------------------------------------------------------------------------------


def _seed_list(plan: Plan, runs: list[dict]) -> list[int]:
    if plan.sweep.seeds:
        return list(plan.sweep.seeds)
    return list(dict.fromkeys(r["seed"] for r in runs))


def _run_for_seed(group: list[dict], seed: int, seeds: list[int]) -> dict | None:
    for run in group:
        if run["seed"] == seed:
            return run
    if len(group) == 1 and group[0]["seed"] not in seeds and seeds and seed == seeds[0]:
        return group[0]
    return None


def _single(run: dict | None, metric: str, fmt: str) -> Cell:
    if run is None:
        return Cell("")
    return summarize([run], metric, "value", fmt)


def _columns_for(spec: dict, groups: list[list[dict]], table: dict, plan: Plan, selected: list[dict]
                 ) -> list[Column]:
    fmt = spec.get("format", table.get("format", DEFAULT_FORMAT))
    labels = table.get("labels") or {}
    if "key" in spec:
        key = spec["key"]
        if spec.get("as") != "check":
            _check_key(plan, key, f"tables.{table['name']}.columns.{key}")
        value_labels = {**(labels.get(key) or {}), **(spec.get("labels") or {})}
        if spec.get("as") == "check":
            cells = [Cell(check_text(shown_value(g[0], key), value_labels)) for g in groups]
        else:
            cells = [Cell(value_text(shown_value(g[0], key), value_labels)) for g in groups]
        return [Column(spec.get("label", key), cells, kind="key")]
    if "cases" in spec:
        cells = [Cell(_case_text(spec["cases"], g[0], plan, table)) for g in groups]
        return [Column(spec.get("label", "run"), cells, kind="key")]
    if "profile" in spec:
        what = spec["profile"]
        header = spec.get("label", {"params": "params", "flops": "FLOPs", "params_flops": "params/FLOPs"}[what])
        return [Column(header, [profile_cell(g, what, spec.get("format")) for g in groups], kind="profile")]
    metric = spec["metric"]
    agg = spec.get("agg", "mean")
    if "epoch" in spec:
        epochs = spec["epoch"] if isinstance(spec["epoch"], list) else [spec["epoch"]]
        header = spec.get("label", f"{metric} at epoch {'/'.join(str(e) for e in epochs)}")
        cells = [epoch_cell(g, metric, epochs, "mean" if agg in ("value", "mean") else agg, fmt) for g in groups]
        return [Column(header, cells, kind="epoch")]
    if "seed" in spec:
        seed = spec["seed"]
        cells = [_single(next((r for r in g if r["seed"] == seed), None), metric, fmt) for g in groups]
        return [Column(spec.get("label", f"{metric} (seed {seed})"), cells, kind="seed", bold=spec.get("bold"))]
    if agg == "per_seed":
        seeds = _seed_list(plan, selected)
        label = spec.get("label")
        out = []
        for j, seed in enumerate(seeds):
            if isinstance(label, list) and j < len(label):
                header = label[j]
            elif isinstance(label, str):
                header = label
            else:
                header = f"{metric} (seed {seed})"
            cells = [_single(_run_for_seed(g, seed, seeds), metric, fmt) for g in groups]
            out.append(Column(header, cells, kind="seed", bold=spec.get("bold")))
        return out
    cells = [summarize(g, metric, agg, fmt) for g in groups]
    return [Column(spec.get("label", metric), cells, kind="metric" if agg != "n" else "n", bold=spec.get("bold"))]


def _case_text(cases: list[dict], run: dict, plan: Plan, table: dict) -> str:
    """The text of the first case whose `when:` the run matches; the run's name when none does."""
    for i, case in enumerate(cases):
        for key, wanted in case["when"].items():
            if wanted is not None and key != "stage":
                _check_key(plan, str(key), f"tables.{table['name']}.columns.cases[{i}].when.{key}")
        if all(_matches(run_value(run, str(k)), v) for k, v in case["when"].items()):
            return str(case["text"])
    return run["row"]


def _order_groups(groups: list[list[dict]], order: Any, plan: Plan) -> list[list[dict]]:
    if not order or order == "plan":
        return groups
    specs = [order] if isinstance(order, str) else list(order)
    out = list(groups)
    for spec in reversed(specs):
        descending = spec.startswith("-")
        key = spec.lstrip("-+")
        is_config = key in PSEUDO_KEYS or any(has_path(r.config, key) for r in plan.runs)

        def sort_value(group: list[dict], key: str = key, is_config: bool = is_config) -> Any:
            if is_config:
                return run_value(group[0], key)
            values = [v for v in (_num(r, key) for r in group if r["status"] == FINISHED) if v is not None]
            return sum(values) / len(values) if values else None

        present = [g for g in out if sort_value(g) is not None]
        absent = [g for g in out if sort_value(g) is None]
        try:
            present.sort(key=sort_value, reverse=descending)
        except TypeError:
            present.sort(key=lambda g: canonical(sort_value(g)), reverse=descending)
        out = present + absent
    return out


def _ref_entry(ref: Any, i: int, label: str) -> Any:
    if isinstance(ref, list):
        return ref[i] if i < len(ref) else None
    if isinstance(ref, dict):
        for key, value in ref.items():
            if str(key) == label:
                return value
    return None


def render_list(table: dict, runs: list[dict], plan: Plan, *, reference: bool = False) -> RenderedTable:
    name = table["name"]
    selected = select_runs(table, runs, plan)
    if table.get("bold_by"):
        _check_key(plan, table["bold_by"], f"tables.{name}.bold_by")
    groups = _order_groups(config_groups(selected), table.get("order"), plan)
    fmt_default = table.get("format", DEFAULT_FORMAT)

    blocks: list[tuple[dict, list[Column]]] = [(spec, _columns_for(spec, groups, table, plan, selected))
                                               for spec in table["columns"]]
    _bold_list(table, blocks, groups)

    row_labels = [blocks[0][1][0].cells[i].render("plain") for i in range(len(groups))] if blocks else []
    columns: list[Column] = []
    target = _reference_target(table)
    for index, (spec, cols) in enumerate(blocks):
        columns.extend(cols)
        ref = spec.get("reference")
        if ref is None and index == target:
            ref = table.get("reference")
        if not reference or ref is None:
            continue
        fmt = spec.get("format", fmt_default)
        if cols[0].kind == "metric":
            col = cols[0]
            ref_cells, diff_cells = [], []
            for i, cell in enumerate(col.cells):
                entry = _ref_entry(ref, i, row_labels[i])
                if entry is None:
                    ref_cells.append(Cell(""))
                    diff_cells.append(Cell(""))
                    continue
                number = _ref_parts(entry)
                ref_cells.append(Cell("/".join(ref_text(e, fmt) for e in number)))
                ok = cell.value is not None and len(number) == 1 and number[0] is not None
                diff_cells.append(Cell(signed(fmt, cell.value - number[0]) if ok else ""))
            columns.append(Column(f"{col.header} (ref)", ref_cells, kind="ref"))
            columns.append(Column(f"{col.header} (Δ)", diff_cells, kind="ref"))
        else:
            for j, col in enumerate(cols):
                for i, cell in enumerate(col.cells):
                    entry = _ref_entry(ref, i, row_labels[i])
                    if col.kind == "seed" and isinstance(entry, list):
                        entry = entry[j] if j < len(entry) else None
                    _inline_ref(cell, entry, fmt)

    bars = _bars(table, groups, _bar_labels([c for _, cols in blocks for c in cols], row_labels))
    out = RenderedTable(name=name, kind="list", title=table.get("title", ""), caption=table.get("caption", ""),
                        metric=_primary_metric(table), columns=columns, bars=bars)
    if table.get("transpose"):
        out.columns = _transpose(columns)
    return out


def _reference_target(table: dict) -> int | None:
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


def _bold_list(table: dict, blocks: list[tuple[dict, list[Column]]], groups: list[list[dict]]) -> None:
    rule = table.get("bold")
    by = table.get("bold_by")
    partitions: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        partitions.setdefault(canonical(run_value(group[0], by)) if by else "", []).append(i)
    row_wise: list[Column] = []
    for _, cols in blocks:
        for col in cols:
            if col.kind not in ("metric", "seed"):
                continue
            own = col.bold if col.bold is not None else rule
            if not own:
                continue
            if own in ("row_max", "row_min"):
                row_wise.append(col)
                continue
            direction = "max" if own.endswith("max") else "min"
            for rows in partitions.values():
                _bold([col.cells[i] for i in rows], direction)
    if row_wise:
        direction = "max" if rule == "row_max" else "min"
        for i in range(len(groups)):
            _bold([col.cells[i] for col in row_wise], direction)


def _bar_labels(columns: list[Column], fallback: list[str]) -> list[str]:
    """A bar's label: every key column whose text differs between rows (`with KD: ✓`), one per line."""
    varying = [c for c in columns if c.kind == "key" and len({x.render("plain") for x in c.cells}) > 1]
    if not varying:
        return fallback
    if len(varying) == 1:
        return [cell.render("plain") for cell in varying[0].cells]
    return ["\n".join(f"{c.header}: {c.cells[i].render('plain')}" for c in varying) for i in range(len(fallback))]


def _primary_metric(table: dict) -> str:
    for spec in table["columns"]:
        if "metric" in spec and "epoch" not in spec and spec.get("agg") != "n":
            return spec["metric"]
    return table.get("metric", DEFAULT_METRIC)


def _bars(table: dict, groups: list[list[dict]], labels: list[str]) -> list[Bar]:
    metric = _primary_metric(table)
    out = []
    for group, label in zip(groups, labels, strict=True):
        values = [v for v in (_num(r, metric) for r in group if r["status"] == FINISHED) if v is not None]
        if values:
            out.append(Bar(label, sum(values) / len(values), _std(values), len(values), FINISHED))
        else:
            out.append(Bar(label, math.nan, math.nan, 0, status_word(group)))
    return out


def _transpose(columns: list[Column]) -> list[Column]:
    """First column's values become the header; each other column becomes a row (004's model sizes)."""
    if not columns:
        return columns
    head, rest = columns[0], columns[1:]
    out: list[Column] = []
    if len(rest) != 1:
        out.append(Column(head.header, [Cell(c.header) for c in rest], kind="label"))
    for i, cell in enumerate(head.cells):
        out.append(Column(cell.render("plain"), [c.cells[i] for c in rest], kind="metric"))
    return out


# Whole tables and reports ----------------------------------------------------------------------------


def default_tables(plan: Plan) -> list[dict]:
    """What a sweep without `tables:` gets: a pivot over its two grid axes, else a list of what varies."""
    grid = list(plan.sweep.grid)
    if len(grid) == 2:
        rows, cols = grid
        raw = [{"name": "grid", "kind": "pivot", "rows": rows, "cols": cols, "bold": "max",
                "agg": "mean_std" if plan.sweep.seeds and len(plan.sweep.seeds) > 1 else "mean",
                "title": f"{DEFAULT_METRIC} by {rows} (rows) and {cols} (columns)"}]
        return validate_tables(raw)
    from kdsweep.plan.render import shown_keys

    keys = [k for k in shown_keys(plan) if k != "seed"]
    columns: list[dict] = []
    if plan.sweep.stages:
        columns.append({"key": "stage"})
    columns.extend({"key": k} for k in keys)
    if not columns:
        columns.append({"key": "name", "label": "run"})
    seeds = plan.sweep.seeds and len(plan.sweep.seeds) > 1
    columns.append({"metric": DEFAULT_METRIC, "agg": "mean_std" if seeds else "mean"})
    raw = [{"name": "runs", "kind": "list", "stages": "all", "columns": columns,
            "title": f"{DEFAULT_METRIC} of every run"}]
    return validate_tables(raw)


def sweep_tables(plan: Plan) -> list[dict]:
    return plan.sweep.tables or default_tables(plan)


def history_metrics(tables: Iterable[dict]) -> list[str]:
    """Per-epoch metrics some table reads at given epochs (fetched with get_metric_history)."""
    out: list[str] = []
    for table in tables:
        for spec in table.get("columns") or []:
            if "epoch" in spec and spec["metric"] not in out:
                out.append(spec["metric"])
    return out


def render_table(table: dict, runs: pd.DataFrame | list[dict], plan: Plan, *, reference: bool = False
                 ) -> RenderedTable:
    """One declared table (already validated) over the runs of `load_runs`."""
    records = runs.to_dict("records") if isinstance(runs, pd.DataFrame) else list(runs)
    if table["kind"] == "pivot":
        return render_pivot(table, records, plan, reference=reference)
    return render_list(table, records, plan, reference=reference)


@dataclass
class Report:
    """Everything `kdsweep table` and `kdsweep plot` show, read from the store once."""

    plan: Plan
    runs: pd.DataFrame
    tables: list[RenderedTable]
    reference: bool = False

    @property
    def n_children(self) -> int:
        return int(self.runs.attrs.get("n_children", 0))

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.runs["status"].value_counts().items()} if len(self.runs) else {}

    def header(self, now: dt.datetime | None = None) -> str:
        """`5/8 runs finished (1 failed, 2 not run) · 2025-01-02 03:04 UTC · 1x NVIDIA H100`."""
        counts = self.counts()
        text = f"{counts.get(FINISHED, 0)}/{len(self.runs)} runs finished"
        others = [f"{counts[w]} {w}" for w in STATUS_PRIORITY if counts.get(w)]
        others += [f"{n} {w}" for w, n in counts.items() if w != FINISHED and w not in STATUS_PRIORITY]
        if others:
            text += f" ({', '.join(others)})"
        now = now or dt.datetime.now(dt.timezone.utc)
        text += f" · {now.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        hardware = self.runs.attrs.get("hardware") or ""
        if hardware:
            text += f" · {hardware}"
        return text

    def render(self, fmt: str = "markdown", now: dt.datetime | None = None) -> str:
        if fmt not in FORMATS:
            raise UserError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        name = self.plan.sweep.name
        header = self.header(now)
        note = ("Numbers after `ref` are the write-up's own; the signed difference is ours minus theirs."
                if self.reference else "")
        if fmt == "markdown":
            parts = [f"# {name}", header + (f"\n\n{note}" if note else "")]
            for table in self.tables:
                parts.append(f"## {table.title or table.name}")
                parts.append(table.to_markdown())
                if table.caption:
                    parts.append(table.caption)
            return "\n\n".join(parts) + "\n"
        if fmt == "csv":
            return "\n".join(f"# {t.name}\n{t.to_csv()}" for t in self.tables)
        parts = [f"% {name}: {header}"]
        for table in self.tables:
            parts.append(_latex_table(name, table))
        return "\n\n".join(parts) + "\n"


def _latex_table(sweep: str, table: RenderedTable) -> str:
    label = re.sub(r"[^A-Za-z0-9:.-]+", "-", f"tab:{sweep}:{table.name}")
    lines = ["\\begin{table}[ht]", "\\centering",
             f"\\caption{{{latex_escape(table.title or table.name)}}}", f"\\label{{{label}}}",
             table.to_latex().rstrip()]
    if table.caption:
        lines.append(f"\\par\\smallskip{{\\footnotesize {latex_escape(table.caption)}}}")
    lines.append("\\end{table}")
    return "\n".join(lines)


def build_report(uri: str, plan: Plan, *, reference: bool = False, history: Iterable[str] = ()) -> Report:
    """Read the sweep's runs once and render every table (declared, or the default)."""
    tables = sweep_tables(plan)
    record = read_sweep(uri, plan)
    runs = frame(record, plan, history=[*history_metrics(tables), *history])
    records = runs.to_dict("records")
    rendered = [render_table(t, records, plan, reference=reference) for t in tables]
    return Report(plan=plan, runs=runs, tables=rendered, reference=reference)


def render_report(uri: str, plan: Plan, *, fmt: str = "markdown", reference: bool = False,
                  now: dt.datetime | None = None) -> str:
    """All tables of the sweep under a short header (runs finished / planned, when, hardware)."""
    return build_report(uri, plan, reference=reference).render(fmt, now)


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "sweep"


def report_paths(report: Report, fmt: str, out: str | Path | None = None) -> list[Path]:
    """Where `write_report` writes: results/<sweep>.md / .tex, or one results/<sweep>_<table>.csv per table."""
    stem = safe_name(report.plan.sweep.name)
    suffix = {"markdown": ".md", "latex": ".tex", "csv": ".csv"}[fmt]
    out_path = Path(out) if out is not None else None
    if out_path is not None and out_path.is_dir():
        out_path = out_path / f"{stem}{suffix}"
    if out_path is None:
        out_path = Path("results") / f"{stem}{suffix}"
    if fmt != "csv":
        return [out_path]
    if len(report.tables) == 1 and out is not None and not Path(out).is_dir():
        return [out_path]
    base = out_path.stem if out is not None and not Path(out).is_dir() else stem
    return [out_path.with_name(f"{base}_{safe_name(t.name)}{out_path.suffix or '.csv'}") for t in report.tables]


def save_report(report: Report, fmt: str = "markdown", out: str | Path | None = None,
                now: dt.datetime | None = None) -> list[Path]:
    paths = report_paths(report, fmt, out)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        for path, table in zip(paths, report.tables, strict=True):
            path.write_text(table.to_csv())
    else:
        paths[0].write_text(report.render(fmt, now))
    return paths


def write_report(uri: str, plan: Plan, *, fmt: str = "markdown", reference: bool = False,
                 out: str | Path | None = None, now: dt.datetime | None = None) -> list[Path]:
    """Write the report to results/<sweep>.md (or .tex; CSV: one file per table), or to `out`."""
    return save_report(build_report(uri, plan, reference=reference), fmt, out, now)
