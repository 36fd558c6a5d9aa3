"""A stage given as a weights file (`-o stages.<name>.checkpoint=FILE`, or `checkpoint:` in the stage body) is
not trained: its students take it as a checkpoint teacher (or init) with the stage's model, and wait for
nothing. One override per teacher is how the CIFAR-100 benchmark takes mdistiller's trained teachers."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.plan import plan_sweep

SWEEP = """\
name: given
base:
  data: {name: digits}
  student: {arch: digits_student}
  teacher: {run: big}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  big: {student: {arch: digits_teacher}}
  warm: {student: {arch: digits_student, init: {run: big}}}
grid:
  teacher.run: [big, warm]
"""


def test_a_given_stage_is_loaded_not_trained(write_yaml):
    path = write_yaml(SWEEP)
    trained = plan_sweep(path)
    assert [r.stage for r in trained.runs if r.stage] == ["big", "warm"]
    plan = plan_sweep(path, ["stages.big.checkpoint=teachers/big.pth"])
    assert [r.stage for r in plan.runs if r.stage] == ["warm"]  # big is a file now
    kd_big = next(r for r in plan.runs if r.name == "run=big")
    assert kd_big.config["teacher"] == {**next(r for r in trained.runs if r.name == "run=big").config["teacher"],
                                        "run": None, "key": None, "checkpoint": "teachers/big.pth"}
    assert kd_big.depends_on == []
    warm = plan.stages["warm"]  # a stage that starts from the given one loads the same file
    assert warm.config["student"]["init"] == {"run": None, "key": None, "checkpoint": "teachers/big.pth"}
    assert warm.depends_on == []
    in_file = plan_sweep(write_yaml(SWEEP.replace("big: {student: {arch: digits_teacher}}",
                                                  "big: {student: {arch: digits_teacher}, checkpoint: "
                                                  "teachers/big.pth}")))
    assert [r.key for r in in_file.runs] == [r.key for r in plan.runs]


@pytest.mark.parametrize(("override", "message"), [
    ("stages.bgi.checkpoint=x.pth", r"-o stages\.bgi\.checkpoint: 'bgi' is not a stage of this sweep \(did you mean"),
    ("stages.big.epochs=3", r"-o stages\.big\.epochs: a stage takes one -o: stages\.big\.checkpoint=<weights file>"),
    ("stages.big.checkpoint=3", r"stages\.big\.checkpoint: expected the path of the stage's weights file, got 3"),
])
def test_stage_overrides_are_one_line_errors(write_yaml, override, message):
    with pytest.raises(UserError, match=message):
        plan_sweep(write_yaml(SWEEP), [override])
