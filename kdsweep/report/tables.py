"""The table manual: how a sweep's declared tables render from what MLflow holds (read this first).

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
  - `rows` / `cols` may instead be `{cases: [{when: {<dotted key>: value, ...}, text: label}, ...]}`
    (matching as for `where:`): a run sits under every case it matches, so one student trained alone
    fills the student column of each teacher -> student pair it belongs to, and cases with the same
    text are alternatives (the CIFAR-100 benchmark's pairs x methods table). Order: the cases'.

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
    heads each column with its seed (`accuracy (seed 0)`), a list names each.
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

Beside the table (`context.py`)
  - A table whose runs learn from a stage it does not show gets a line under it with that
    teacher's number (`Teacher (big): 80.83`); a pivot also gives the runs it leaves out that
    train without a teacher (`without a teacher (kd=none): 95.56`: the no-KD baseline).
  - Plots draw them as lines: on a bar chart the no-teacher row and the teacher are lines, not
    bars; bars start at zero; error bars only where two or more seeds finished.

Output formats
  - Markdown (default), CSV (one table per file; check marks as `true` / `false`, `-` as an
    empty cell, so pandas / spreadsheets read them), LaTeX (a `table` float per table; the
    first lines name the packages it needs: booktabs, amssymb).

Reference numbers (`--reference`)
  - pivot: `reference: {<row value>: {<col value>: number}}`, shown in the cell:
    `81.10 (ref 80.65, +0.45)` (a grid has no room for extra columns).
  - list: a column's `reference:` (or the table's, for `reference_column`, else the first
    metric column) is a list in row order (`null` skips a row) or a mapping keyed by the
    row's first cell text (its label). A plain metric column gets two columns beside it,
    `<label> (ref)` and `<label> (Δ)`; per-seed and per-epoch columns carry the reference
    in the cell (`[75.62, 76.02, 76.00]`, `9.29/16.15` or `[9.29, 16.15]`).
  - With no run in the store yet, `--reference` still shows the tables (ours `not run`);
    on a sweep that declares no reference numbers it says so and adds nothing.
  - The write-up's numbers are printed in the column's format (so 80.875 shows as 80.88
    beside our 80.88) and Δ is ours minus theirs, in that format with a sign.

Where each rule lives: `select.py` (which runs, seeds pooled), `values.py` (cell text and
numbers), `pivot.py`, `listing.py` (the two kinds), `reference.py`, `cells.py` (the cell
model, Markdown / CSV), `latex.py`, `document.py` (the whole report), `files.py` (paths).
This module re-exports the entry points.
"""

from __future__ import annotations

from kdsweep.report.cells import CHECK, CROSS, NA, Cell, Column, RenderedTable
from kdsweep.report.document import FORMATS, Report, build_report, default_tables, render_report, render_table
from kdsweep.report.files import report_paths, safe_name, save_report, write_report

__all__ = ["CHECK", "CROSS", "FORMATS", "NA", "Cell", "Column", "RenderedTable", "Report", "build_report",
           "default_tables", "render_report", "render_table", "report_paths", "safe_name", "save_report",
           "write_report"]
