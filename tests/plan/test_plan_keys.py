"""Run keys: same experiment, same key, however it is spelled or wherever it runs; groups fuse only
runs that can share one pass over the data."""

from __future__ import annotations

import json

import pytest

from kdsweep.plan import plan_sweep
from kdsweep.plan.keys import result_config, run_key
from kdsweep.spec.resolve import resolve_run_config

SWEEP = """\
name: k
base:
  seed: 0
  epochs: 3
  data: {name: digits, batch_size: 32, workers: 2}
  student: {arch: digits_student}
  teacher: {run: teacher}
  optim: {name: sgd, lr: 0.05, weight_decay: 0.0}
  loss: {kd: {T: 3, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
"""

# The same sweep with every mapping written in another order and numbers spelled as floats / ints.
REORDERED = """\
stages:
  teacher:
    student: {arch: digits_teacher}
base:
  loss: {kd: {alpha: 0.9, T: 3.0}}
  optim: {weight_decay: 0, lr: 0.05, name: sgd}
  teacher: {run: teacher}
  student: {arch: digits_student}
  data: {workers: 2, batch_size: 32, name: digits}
  epochs: 3
  seed: 0
name: k
"""


def _keys(plan):
    return [r.key for r in plan.runs]


def _student(plan):
    (run,) = [r for r in plan.runs if r.stage is None]
    return run


def test_key_shape(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP))
    for run in plan.runs:
        assert len(run.key) == 16 and int(run.key, 16) >= 0 and run.short == run.key[:8]


def test_key_ignores_key_order_and_number_spelling(write_yaml):
    a = plan_sweep(write_yaml(SWEEP, "a.yaml"))
    b = plan_sweep(write_yaml(REORDERED, "b.yaml"))
    assert _keys(a) == _keys(b)
    assert _student(b).config["loss"]["kd"]["T"] == 3.0  # the spelling is kept; only the key is canonical


@pytest.mark.parametrize("override", [
    "device=cpu", "device=cuda", "data.workers=0", "data.root=/mnt/data", "train.threads=8",
    "data.val_batch_size=512", "train.compile=true", "data.on_device=false",
])
def test_key_ignores_where_it_runs(write_yaml, override):
    path = write_yaml(SWEEP)
    assert _keys(plan_sweep(path, [override])) == _keys(plan_sweep(path))


@pytest.mark.parametrize("override", [
    "optim.lr=0.1", "loss.kd.T=4", "loss.kd.alpha=0.5", "seed=1", "student.arch=digits_teacher", "epochs=4",
    "data.batch_size=64", "optim.weight_decay=1.0e-4", "loss.kd.t2_scale=false", "data.limit=100",
    "train.amp=bf16", "schedule={name: cosine}",
])
def test_key_changes_with_what_is_trained(write_yaml, override):
    path = write_yaml(SWEEP)
    assert _student(plan_sweep(path, [override])).key != _student(plan_sweep(path)).key


def test_teacher_change_changes_student_key(write_yaml):
    path = write_yaml(SWEEP)
    other = plan_sweep(write_yaml(SWEEP.replace("arch: digits_teacher", "arch: resnet50"), "other.yaml"))
    assert _student(other).key != _student(plan_sweep(path)).key
    assert other.runs[0].key != plan_sweep(path).runs[0].key


def test_stage_name_does_not_change_keys(write_yaml):
    a = plan_sweep(write_yaml(SWEEP))
    renamed = SWEEP.replace("{run: teacher}", "{run: big}").replace("  teacher:\n", "  big:\n")
    b = plan_sweep(write_yaml(renamed, "b.yaml"))
    assert b.runs[0].stage == "big"
    assert _keys(a) == _keys(b)


def test_result_config_drops_non_result_keys():
    raw = {"student": {"arch": "digits_student"}, "data": {"root": "/x", "workers": 3}, "device": "cpu"}
    config = resolve_run_config(raw)
    out = result_config(config)
    assert "device" not in out and "root" not in out["data"] and "workers" not in out["data"]
    assert config["device"] == "cpu" and config["data"]["root"] == "/x"  # not mutated
    assert run_key(config) == run_key({**config, "device": "cuda"})
    assert run_key(json.loads(json.dumps(config))) == run_key(config)


def test_same_run_named_twice_is_planned_once(write_yaml):
    path = write_yaml(SWEEP + """\
grid:
  loss.kd.T: [2, 3]
points:
  - {loss.kd.T: 3.0}              # the grid's T=3 again, spelled as a float
  - {loss.kd.T: 2, optim.lr: 0.05}  # the grid's T=2 again, with the base lr
  - {loss.kd.alpha: 0.9}          # the base again (T=3)
  - {student.arch: digits_teacher, loss.kd: null}  # the teacher stage again
""")
    plan = plan_sweep(path)
    assert [r.name for r in plan.runs] == ["teacher", "T=2", "T=3"]
    # the stage is that point
    assert plan.runs[0].point == {"student.arch": "digits_teacher", "loss.kd": None}


def test_seeds_duplicate_nothing(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP + "grid:\n  loss.kd.T: [2, 3]\nseeds: [0, 1]\n"))
    assert len(plan.runs) == 5 and len({r.key for r in plan.runs}) == 5


def test_stage_shared_by_many_students_is_planned_once(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP + "grid:\n  loss.kd.T: [1, 2, 4, 8]\n  optim.lr: [0.01, 0.1]\n"))
    stages = [r for r in plan.runs if r.stage]
    assert len(stages) == 1 and len(plan.runs) == 9
    assert {tuple(r.depends_on) for r in plan.runs[1:]} == {(stages[0].key,)}


def test_two_stages_that_train_the_same_run_are_one(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP + """\
  teacher_again:
    student: {arch: digits_teacher}
points:
  - {teacher.run: teacher}
  - {teacher.run: teacher_again}
"""))
    assert [r.stage for r in plan.runs] == ["teacher", None]


# --- groups ------------------------------------------------------------------------------------


def _groups(plan):
    return {r.name: r.group for r in plan.runs}


def test_runs_differing_in_alpha_T_lr_share_a_group(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP + """\
grid:
  loss.kd.alpha: [0.5, 0.9]
  loss.kd.T: [2, 4]
  optim.lr: [0.05, 0.1]
"""))
    students = [r for r in plan.runs if r.stage is None]
    assert len(students) == 8 and len({r.group for r in students}) == 1
    assert plan.runs[0].group != students[0].group


@pytest.mark.parametrize("axis, values", [
    ("seed", "[0, 1]"),
    ("student.arch", "[digits_student, food11_student]"),
    ("teacher.run", "[teacher, teacher2]"),
    ("epochs", "[3, 4]"),
    ("data.batch_size", "[32, 64]"),
    ("schedule", "[{name: constant}, {name: cosine}]"),
])
def test_runs_differing_in_what_the_pass_shares_do_not(write_yaml, axis, values):
    text = SWEEP + "  teacher2:\n    student: {arch: resnet34}\n" + f"grid:\n  {axis}: {values}\n"
    plan = plan_sweep(write_yaml(text))
    students = [r for r in plan.runs if r.stage is None]
    assert len(students) == 2 and students[0].group != students[1].group


def test_no_fuse_gives_one_group_per_run(write_yaml, cli):
    path = write_yaml(SWEEP + "grid:\n  loss.kd.alpha: [0.5, 0.9]\n  loss.kd.T: [2, 4]\n")
    plan = plan_sweep(path, fuse=False)
    assert len(plan.groups) == len(plan.runs) == 5
    rc, out, _ = cli("plan", path, "--json", "--no-fuse")
    rows = json.loads(out)
    assert rc == 0 and len({r["group"] for r in rows}) == 5
    rc, out, _ = cli("plan", path, "--json")
    assert len({r["group"] for r in json.loads(out)}) == 2


def test_group_ids_follow_plan_order(write_yaml):
    plan = plan_sweep(write_yaml(SWEEP + "grid:\n  seed: [0, 1, 2]\n"))
    assert [r.group for r in plan.runs] == ["g01", "g02", "g03", "g04"]
