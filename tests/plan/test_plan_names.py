"""Run names: the same part order in every run, and `labels:` for long axis values (issue 12.10)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.plan import plan_sweep

REPO = Path(__file__).resolve().parents[2]

SWEEP = """\
name: names
base:
  epochs: 1
  data: {name: digits}
  student: {arch: digits_student}
  teacher: {run: teacher}
stages:
  teacher: {student: {arch: digits_teacher}}
grid:
  loss.fa:
    - null
    - {student_layer: features.1, teacher_layer: features.1, weight: 1.0}
  schedule: [{name: cosine, warmup_epochs: 1}, {name: step}]
points:
  - {schedule: {name: constant}, loss.fa: null}
"""


def test_labels_name_axis_values_in_run_names(write_yaml):
    text = SWEEP + "labels:\n  loss.fa: [none, FA]\n  schedule: {cosine(warmup_epochs=1): warm cosine}\n"
    plan = plan_sweep(write_yaml(text))
    assert [r.name for r in plan.runs if not r.stage] == ["fa=none schedule=warm cosine", "fa=none schedule=step",
                                           "fa=FA schedule=warm cosine", "fa=FA schedule=step",
                                           "fa=none schedule=constant"]


def test_name_parts_follow_the_axis_order_in_every_run(write_yaml):
    """The explicit point lists `schedule` first; its name still starts with `fa=`, as the grid's do."""
    plan = plan_sweep(write_yaml(SWEEP))
    assert plan.runs[-1].name == "fa=none schedule=constant"
    assert all(r.name.startswith("fa=") for r in plan.runs if not r.stage)


@pytest.mark.parametrize(("labels", "message"), [
    ("  loss.fa: [none]\n", "labels.loss.fa: 1 labels for 2 values; give one per value"),
    ("  loss.kd: [a, b]\n", "labels.loss.kd: a list of labels names a grid or zip axis' values in order"),
    ("  loss.fa: FA\n", "labels.loss.fa: expected a list (one per axis value) or a mapping"),
])
def test_bad_labels_are_named(write_yaml, labels, message):
    path = write_yaml(SWEEP + "labels:\n" + labels)
    with pytest.raises(UserError, match=re.escape(message)) as info:
        plan_sweep(path)
    assert str(info.value).startswith(str(path))


def test_plan_in_80_columns_shows_every_run_name_whole(kdsweep, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    proc = kdsweep("plan", "sweeps/efficientnet_fa.yaml", cwd=REPO)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in proc.stdout
    for name in ("fa=none seed=0", "fa=FA seed=1", "fa=Fast FA seed=2"):
        assert sum(name in line for line in lines) == 1
