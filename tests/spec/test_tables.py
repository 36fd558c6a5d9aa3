"""`tables:` declarations: what validate_tables accepts, and the one-line errors for what it does not."""

from __future__ import annotations

import pytest
import yaml

from kdsweep.errors import UserError
from kdsweep.spec.tables import validate_tables

FULL = """
- name: T_alpha
  kind: pivot
  title: top-1 by alpha and T
  caption: a line under the table
  rows: loss.kd.alpha
  cols: loss.kd.T
  corner: alpha\\T
  metric: best_val_acc1
  format: "{:.2f}"
  agg: mean_std
  bold: max
  row_order: [0.9, 0.7]
  col_order: [1, 3]
  where: {stage: null, optim.lr: [0.1, 0.2]}
  labels: {loss.kd.alpha: {0.9: "0.9 (default)"}}
  reference: {0.9: {1: 79.64, 3: 81.10}, 0.6: {3: 81.28}}
- name: fa
  stages: [b3]
  transpose: false
  order: [-best_val_acc1, optim.lr]
  bold: col_max
  bold_by: optim.lr
  reference_column: accuracy
  reference: {B3: [80.24, 80.24, 80.24]}
  columns:
    - label: Models
      cases:
        - {when: {stage: b3}, text: B3}
        - {when: {loss.fa: null}, text: B0}
    - {key: loss.kd, as: check, label: with KD, labels: {true: yes, false: no}}
    - {key: schedule, labels: {cosine: cosinlr}}
    - {metric: best_val_acc1, agg: per_seed, label: accuracy}
    - {metric: best_val_acc1, agg: per_seed, label: [s0, s1, s2]}
    - {metric: best_val_acc1, seed: 1, format: "{:.1f}%", bold: max}
    - {metric: train_val_gap, bold: min, reference: [7.62, null]}
    - {metric: val_acc1, epoch: [1, 2], reference: ["9.29/16.15", [23.58, 40.0]]}
    - {metric: best_val_acc1, agg: n, bold: false}
    - {profile: params_flops, label: Pa/Fl}
    - {profile: params, format: "{:,.0f}"}
"""


def test_a_full_declaration_is_accepted_as_written():
    raw = yaml.safe_load(FULL)
    tables = validate_tables(raw)
    assert [t["kind"] for t in tables] == ["pivot", "list"]
    assert tables[0] == {**raw[0], "kind": "pivot"}
    assert tables[1]["columns"] == raw[1]["columns"]
    assert validate_tables(None) == []


def test_kind_defaults_to_list():
    assert validate_tables([{"name": "x", "columns": [{"metric": "best_val_acc1"}]}])[0]["kind"] == "list"


def err(text: str) -> str:
    with pytest.raises(UserError) as info:
        validate_tables(yaml.safe_load(text))
    return str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("{name: x}", "tables: expected a list of table declarations"),
    ("[{name: x, kind: pivot, rows: a, cols: b, agg: per_seed}]",
     "tables.x.agg: 'per_seed' is not one of mean, mean_std, max, min, n, value"),
    ("[{name: x, kind: pivot, rows: a, cols: b, columns: []}]", "tables.x.columns: unknown key 'columns'"),
    ("[{name: x, kind: pivot, rows: a, cols: b, reference: [1, 2]}]",
     "tables.x.reference: expected a mapping {row value: {column value: number}}"),
    ("[{name: x, kind: pivot, rows: a, cols: b, reference: {0.9: {1: high}}}]",
     "tables.x.reference.0.9.1: expected a number, got 'high'"),
    ("[{name: x, kind: pivot, rows: a, cols: b, row_order: 0.9}]", "tables.x.row_order: expected a list of values"),
    ("[{name: x, kind: pivot, rows: a, cols: b, bold: best}]",
     "tables.x.bold: 'best' is not one of max, min, row_max, row_min, col_max, col_min"),
    ("[{name: x, kind: pivot, rows: a, cols: b, format: '{:.2q}'}]",
     "tables.x.format: '{:.2q}' is not a format for one number"),
    ("[{name: x, kind: pivot, rows: a, cols: b, format: 2}]", "tables.x.format: expected a format string"),
    ("[{name: x, kind: pivot, rows: a, cols: b, stages: 3}]",
     "tables.x.stages: expected `all`, a stage name or a list of stage names"),
    ("[{name: x, kind: pivot, rows: a, cols: b, labels: {a: high}}]",
     "tables.x.labels.a: expected a mapping {value: label}"),
    ("[{name: x, kind: pivot, rows: a, cols: b, where: [a]}]",
     "tables.x.where: expected a mapping of dotted key -> value"),
    ("[{name: x, kind: pivot, rows: a, cols: b, title: [a]}]", "tables.x.title: expected text"),
    ("[{name: x, columns: [{key: a, agg: mean}]}]", "tables.x.columns[0].agg: `agg` applies to a metric column"),
    ("[{name: x, columns: [{metric: a, as: check}]}]", "tables.x.columns[0].as: `as` applies to a key column"),
    ("[{name: x, columns: [{profile: macs}]}]",
     "tables.x.columns[0].profile: 'macs' is not one of params, flops, params_flops"),
    ("[{name: x, columns: [{metric: a, epoch: 0}]}]",
     "tables.x.columns[0].epoch: expected an epoch number (1-based) or a list of them"),
    ("[{name: x, columns: [{metric: a, epoch: [1, 2], agg: per_seed}]}]",
     "tables.x.columns[0].agg: agg 'per_seed' does not combine with epoch"),
    ("[{name: x, columns: [{metric: a, seed: 1, agg: mean}]}]",
     "tables.x.columns[0].agg: a column for one seed takes no agg"),
    ("[{name: x, columns: [{metric: a, label: [a, b]}]}]",
     "tables.x.columns[0].label: expected a header text (a list of them only with agg: per_seed)"),
    ("[{name: x, columns: [{metric: a, bold: best}]}]", "tables.x.columns[0].bold: 'best' is not one of max, min"),
    ("[{name: x, columns: [{metric: a, reference: 80.1}]}]",
     "tables.x.columns[0].reference: expected a list of numbers in row order, or a mapping"),
    ("[{name: x, columns: [{metric: a, reference: [{a: 1}]}]}]",
     "tables.x.columns[0].reference[0]: expected a number, a list of numbers or null"),
    ("[{name: x, columns: [{cases: [{when: {stage: b3}}]}]}]",
     "tables.x.columns[0].cases[0]: expected `text:`, the label for runs this case matches"),
    ("[{name: x, columns: [{cases: [{if: {stage: b3}, text: B3}]}]}]",
     "tables.x.columns[0].cases[0].if: unknown key 'if'"),
    ("[{name: x, columns: [{cases: []}]}]", "tables.x.columns[0].cases: expected a list of {when: {key: value}"),
    ("[{name: x, columns: [{key: a}], reference: [1]}]",
     "tables.x.reference: `reference:` needs a metric column to stand beside"),
    ("[{name: x, columns: [{metric: a, label: acc}], reference: [1], reference_column: accu}]",
     "tables.x.reference_column: no column 'accu'; did you mean 'acc'?"),
    ("[{name: x, columns: [{metric: a}], reference_column: a}]",
     "tables.x.reference_column: reference_column names the column `reference:` applies to"),
    ("[{name: x, columns: [{metric: a}], transpose: yes please}]", "tables.x.transpose: expected true or false"),
    ("[{name: x, columns: [{metric: a}], order: 3}]", "tables.x.order: expected `plan`, a dotted key or metric"),
    ("[{name: x, columns: [{metric: a}], bold_by: [a]}]", "tables.x.bold_by: expected a dotted config key"),
    ("[{name: x, columns: [{metric: a}], corner: a}]", "tables.x.corner: unknown key 'corner'"),
])
def test_errors_name_the_table_and_key(text, message):
    assert message in err(text)
