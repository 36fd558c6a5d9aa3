"""The digits twins (sweeps/digits/) plan into the write-ups' tables they stand in for, and share runs."""

from __future__ import annotations

import pytest
from sweep_files import SWEEPS, known
from sweep_files import kd as kd_term

from kdsweep.plan import plan_sweep


def _digits(run):
    """Students: 20 epochs on 300 images; teachers: 15 epochs on every image."""
    c = run.config
    epochs, limit = (15, None) if c["student"]["arch"] == "digits_teacher" else (20, 300)
    assert c["data"]["name"] == "digits" and c["data"]["batch_size"] == 64
    assert (c["epochs"], c["data"]["limit"]) == (epochs, limit)


def _by_seed(runs):
    return [r.config["seed"] for r in runs]


def check_digits_T_alpha(plan):
    """004's T x alpha table on digits: alpha {0.9, 0.7, 0.5} x T {1, 2, 4, 8} + no KD, three seeds."""
    assert len(plan.runs) == 40
    stage, *students = plan.runs
    assert stage.stage == "teacher" and stage.config["student"]["arch"] == "digits_teacher"
    kd = students[:36]
    assert [kd_term(r) for r in kd[::3]] == [(a, t) for a in (0.9, 0.7, 0.5) for t in (1, 2, 4, 8)]
    assert _by_seed(students) == [0, 1, 2] * 13
    for run in kd:
        assert run.depends_on == [stage.key]
        assert run.config["loss"]["ce"]["weight"] == pytest.approx(1 - run.config["loss"]["kd"]["alpha"])
    assert all(r.config["teacher"] is None and r.depends_on == [] for r in students[36:])
    for run in plan.runs:
        _digits(run)
    assert len({r.group for r in kd}) == 3 and len(plan.groups) == 7  # one fused group per seed


def check_digits_fa(plan):
    """000's FA table on digits: refinery from digits_teacher, + FA, + Fast FA, three seeds."""
    assert len(plan.runs) == 10
    stage, *students = plan.runs
    fa = [(r.config["loss"].get("fa") or {}).get("fast") for r in students]
    assert fa == [None] * 3 + [False] * 3 + [True] * 3 and _by_seed(students) == [0, 1, 2] * 3
    for run in students:
        assert run.depends_on == [stage.key] and run.config["loss"]["ce"]["weight"] == 0.0
        assert "refinery" in run.config["loss"]
    assert len({r.group for r in students}) == 3


def check_digits_kd_scheduler(plan):
    """002's table on digits: lr {1e-3, 3e-3} x with / without KD x constant / cosine, three seeds."""
    assert len(plan.runs) == 25
    stage, *students = plan.runs
    seen = {}
    for run in students:
        c = run.config
        assert c["optim"]["name"] == "adamw" and c["student"]["arch"] == "digits_student"
        kd = c["loss"].get("kd")
        if kd:
            assert kd == {"T": 5, "alpha": 0.7, "t2_scale": False} and run.depends_on == [stage.key]
            assert c["loss"]["ce"]["weight"] == pytest.approx(0.3)
        else:
            assert c["teacher"] is None and run.depends_on == []
        cell = (c["optim"]["lr"], bool(kd), c["schedule"]["name"])
        seen.setdefault(cell, []).append(c["seed"])
    assert sorted(seen) == sorted((lr, k, s) for lr in (1e-3, 3e-3) for k in (True, False)
                                  for s in ("constant", "cosine"))
    assert all(seeds == [0, 1, 2] for seeds in seen.values())
    assert len(plan.groups) == 13  # lr fuses: one group per (KD, schedule, seed) and the teacher


def check_digits_refinery(plan):
    """001's chain on digits: the student refined from teacher_r (itself refined from teacher),
    from teacher, and from labels only, three seeds each."""
    assert len(plan.runs) == 11
    teacher, teacher_r, *students = plan.runs
    assert (teacher.stage, teacher_r.stage) == ("teacher", "teacher_r")
    assert teacher_r.depends_on == [teacher.key] and "refinery" in teacher_r.config["loss"]
    assert [r.depends_on for r in students] == [[teacher_r.key]] * 3 + [[teacher.key]] * 3 + [[]] * 3
    for run in students[6:]:
        assert run.config["teacher"] is None and set(run.config["loss"]) == {"ce"}
        assert run.config["loss"]["ce"]["weight"] == 1.0
    for run in students[:6]:
        assert run.config["loss"]["ce"]["weight"] == 0.0
        assert run.config["teacher"]["arch"] == "digits_teacher"


def check_digits_small_student(plan):
    """003's question on digits: a ~57k student alone, with KD (T = 20, alpha 0.5), with KD + alignment."""
    assert len(plan.runs) == 10
    stage, *students = plan.runs
    assert stage.config["student"]["arch"] == "digits_teacher"
    for run in students:
        assert run.config["student"] == {**run.config["student"], "arch": "digits_student",
                                         "kwargs": {"widths": [16, 32, 64, 56]}}
        assert run.config["optim"]["name"] == "adam" and run.config["optim"]["grad_clip"] == 10
    alone, kd, hint = students[0:3], students[3:6], students[6:9]
    assert all(r.config["teacher"] is None for r in alone)
    assert all(kd_term(r) == (0.5, 20) and "hint" not in r.config["loss"] for r in kd)
    assert all(kd_term(r) == (0.5, 20) and len(r.config["loss"]["hint"]["layers"]) == 3 for r in hint)
    assert [r.group for r in kd] == [r.group for r in hint]  # alignment on / off fuses per seed


def check_digits_tricks(plan):
    """004's tricks table on digits: step / cosine / cosine + warm-up 1 / 3, three seeds."""
    assert len(plan.runs) == 12 and not any(r.stage for r in plan.runs)
    schedules = [r.config["schedule"] for r in plan.runs[::3]]
    assert schedules[0] == {"name": "step", "step_size": 4, "gamma": 0.1}
    assert [s.get("warmup_epochs") for s in schedules[1:]] == [0, 1, 3]
    assert all(r.config["teacher"] is None for r in plan.runs) and len(plan.groups) == 12


def test_digits_sweeps_share_runs():
    """Same key, same experiment: a run two digits sweeps both describe is one key (found finished once)."""
    plans = {n: plan_sweep(SWEEPS / "digits" / f"{n}.yaml")
             for n in ("digits_T_alpha", "digits_fa", "digits_refinery", "digits_tricks")}
    teacher = {n: p.runs[0].key for n, p in plans.items() if n != "digits_tricks"}
    assert len(set(teacher.values())) == 1

    def alone(name):
        return [r.key for r in plans[name].runs if r.config["teacher"] is None and r.stage is None]

    warmup_1 = [r.key for r in plans["digits_tricks"].runs if r.config["schedule"].get("warmup_epochs") == 1]
    assert alone("digits_T_alpha") == alone("digits_refinery") == warmup_1


def test_digits_small_student_teacher_is_the_standard_teacher():
    path = SWEEPS / "digits" / "digits_small_student.yaml"
    stage = plan_sweep(path).runs[0]
    assert stage.config["student"]["arch"] == "digits_teacher" and stage.config["student"]["kwargs"] == {}


EXPECT = {
    "digits/digits_T_alpha.yaml": check_digits_T_alpha,
    "digits/digits_fa.yaml": check_digits_fa,
    "digits/digits_kd_scheduler.yaml": check_digits_kd_scheduler,
    "digits/digits_refinery.yaml": check_digits_refinery,
    "digits/digits_small_student.yaml": check_digits_small_student,
    "digits/digits_tricks.yaml": check_digits_tricks,
}


@pytest.mark.parametrize("name", known(EXPECT))
def test_digits_twin_plans_as_its_write_up_says(name):
    path = SWEEPS / name
    assert path.is_file(), f"{name} is committed but missing"
    EXPECT[name](plan_sweep(path))
