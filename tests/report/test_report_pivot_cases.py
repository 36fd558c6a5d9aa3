"""A pivot whose rows and columns are `cases:` (the CIFAR-100 benchmark's pairs x methods table), from a real
MLflow store: a run sits under every case it matches, so the student trained alone fills the student column
of each pair that shares it, and a teacher stage the teacher column of each of its pairs."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.report.tables import build_report

PAIRS = """\
name: {name}
base:
  epochs: 1
  student: {arch: digits_student}
  teacher: {run: small}
stages:
  small: {student: {arch: digits_teacher}}
  big: {student: {arch: digits_teacher}, epochs: 2}
grid:
  loss: [{ce: {}}, {kd: {T: 4, alpha: 0.9}}]
zip:
  teacher.run: [small, big]
seeds: [0, 1]
labels:
  loss: [CE, KD]
tables:
  - name: pairs
    kind: pivot
    agg: mean_std
    stages: all
    corner: pair\\method
    rows:
      cases:
        - {when: {teacher.run: [small, null], stage: null}, text: small -> student}
        - {when: {stage: small}, text: small -> student}
        - {when: {teacher.run: [big, null], stage: null}, text: big -> student}
        - {when: {stage: big}, text: big -> student}
    cols:
      cases:
        - {when: {stage: [small, big]}, text: teacher}
        - {when: {stage: null, teacher: null}, text: student}
        - {when: {loss.kd.T: 4}, text: KD}
    reference:
      big -> student: {KD: 80.0, teacher: 90.0}
"""


def test_pairs_in_rows_methods_in_columns(store, planned):
    plan = planned(PAIRS, "pairs")
    # One student-alone run per seed (the same run for both pairs), two teachers, KD per pair and seed.
    assert sorted(r.name for r in plan.runs) == sorted([
        "small", "big", "loss=CE run=small seed=0", "loss=CE run=small seed=1", "loss=KD run=small seed=0",
        "loss=KD run=small seed=1", "loss=KD run=big seed=0", "loss=KD run=big seed=1"])
    sweep = store.sweep(plan)
    sweep.run("small", best=70.0)
    sweep.run("big", best=90.0)
    sweep.run("loss=CE run=small seed=0", best=60.0)
    sweep.run("loss=CE run=small seed=1", best=62.0)
    sweep.run("loss=KD run=small seed=0", best=64.0)
    sweep.run("loss=KD run=small seed=1", best=66.0)
    sweep.run("loss=KD run=big seed=0", best=81.0)
    report = build_report(store.uri, plan, reference=True)
    assert report.tables[0].to_markdown() + "\n" == """\
|   pair\\method    |         teacher          |   student    |               KD               |
|:----------------:|:------------------------:|:------------:|:------------------------------:|
| small -> student |          70.00           | 61.00 ± 1.41 |          65.00 ± 1.41          |
|  big -> student  | 90.00 (ref 90.00, +0.00) | 61.00 ± 1.41 | 81.00 (1/2) (ref 80.00, +1.00) |
"""


def test_case_axes_are_checked_before_anything_trains(planned):
    with pytest.raises(UserError, match=r"tables\.pairs\.rows\.cases\[0\]\.when\.teacher\.rnu: no run of the sweep"):
        planned(PAIRS.replace("teacher.run: [small, null], stage", "teacher.rnu: [small, null], stage"), "typo")
    with pytest.raises(UserError, match=r"tables\.pairs\.cols: a pivot needs `cols: <dotted config key>` or"):
        planned(PAIRS.replace("    cols:\n      cases:", "    cols:\n      - cases:"), "shape")
