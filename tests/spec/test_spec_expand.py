"""Expansion (grid x zip, points, seeds) and `-o` overrides, as the loader and plan see them."""

from __future__ import annotations

import pytest

from kdsweep.plan import plan_sweep
from kdsweep.spec.expand import axis_names, expand_points
from kdsweep.spec.load import load_sweep
from kdsweep.spec.overrides import parse_override

KD = """\
name: t
base:
  epochs: 3
  student: {arch: digits_student}
  teacher: {run: big}
  data: {workers: 2}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  big:
    student: {arch: efficientnet_exx}
"""


def test_grid_is_cartesian_in_declaration_order(write_yaml):
    sweep = load_sweep(write_yaml(KD + "grid:\n  loss.kd.alpha: [0.5, 0.9]\n  loss.kd.T: [2, 4, 8]\n"))
    points = expand_points(sweep)
    assert points == [{"loss.kd.alpha": a, "loss.kd.T": t} for a in (0.5, 0.9) for t in (2, 4, 8)]
    assert axis_names(sweep) == ["loss.kd.alpha", "loss.kd.T"]


def test_zip_varies_together_and_multiplies_the_grid(write_yaml):
    sweep = load_sweep(write_yaml(KD + """\
grid:
  seed: [0, 1]
zip:
  optim.lr: [0.1, 0.2, 0.4]
  data.batch_size: [32, 64, 128]
"""))
    points = expand_points(sweep)
    assert len(points) == 6
    assert points[:3] == [{"seed": 0, "optim.lr": lr, "data.batch_size": bs}
                          for lr, bs in [(0.1, 32), (0.2, 64), (0.4, 128)]]
    assert axis_names(sweep) == ["seed", "optim.lr", "data.batch_size"]


def test_zip_list_of_groups(write_yaml):
    sweep = load_sweep(write_yaml(KD + "zip:\n  - {loss.kd.T: [1, 2], loss.kd.alpha: [0.1, 0.2]}\n"
                                       "  - {seed: [5, 6, 7]}\n"))
    assert len(expand_points(sweep)) == 6


def test_points_after_grid_and_seeds_replicate_every_point(write_yaml):
    text = KD + "grid:\n  loss.kd.T: [2, 4]\npoints:\n  - {loss.kd: null}\nseeds: [0, 1, 2]\n"
    sweep = load_sweep(write_yaml(text))
    points = expand_points(sweep)
    assert len(points) == 9
    assert points[-3:] == [{"loss.kd": None, "seed": s} for s in (0, 1, 2)]
    assert axis_names(sweep) == ["loss.kd.T", "loss.kd", "seed"]
    plan = plan_sweep(sweep.path)
    assert sorted(r.config["seed"] for r in plan.runs if r.stage is None) == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_no_axes_is_one_run_of_base(write_yaml):
    sweep = load_sweep(write_yaml(KD))
    assert expand_points(sweep) == [{}]
    plan = plan_sweep(sweep.path)
    assert [r.name for r in plan.runs] == ["big", "base"]


def test_one_seed_is_not_an_axis(write_yaml):
    sweep = load_sweep(write_yaml(KD + "seeds: [3]\n"))
    assert expand_points(sweep) == [{"seed": 3}] and axis_names(sweep) == []


def test_extends_merges_underneath(write_yaml):
    write_yaml("base:\n  epochs: 100\n  optim: {lr: 0.1, weight_decay: 1.0e-4}\n  data: {name: cifar100}\n",
               "base/common.yaml")
    path = write_yaml("extends: base/common.yaml\nname: x\n"
                      "base:\n  student: {arch: digits_student}\n  optim: {lr: 0.05}\n")
    sweep = load_sweep(path)
    assert sweep.base == {"epochs": 100, "optim": {"lr": 0.05, "weight_decay": 1e-4},
                          "data": {"name": "cifar100"}, "student": {"arch": "digits_student"}}


def test_extends_two_levels(write_yaml):
    write_yaml("base:\n  epochs: 5\n  seed: 1\n", "a.yaml")
    write_yaml("extends: a.yaml\nbase:\n  epochs: 6\n", "b.yaml")
    sweep = load_sweep(write_yaml("extends: b.yaml\nname: x\nbase:\n  student: {arch: digits_student}\n"))
    assert sweep.base == {"epochs": 6, "seed": 1, "student": {"arch": "digits_student"}}


@pytest.mark.parametrize("text, expected", [
    ("epochs=1", ("epochs", 1)),
    ("optim.lr=0.05", ("optim.lr", 0.05)),
    ("optim.lr=1e-3", ("optim.lr", "1e-3")),  # YAML 1.1: a float needs a dot (1.0e-3)
    ("x=[1,2]", ("x", [1, 2])),
    ("train.channels_last=true", ("train.channels_last", True)),
    ("data.root=/x", ("data.root", "/x")),
    ("data.root=/a=b", ("data.root", "/a=b")),
    ("student.head={name: cosine, s: 5}", ("student.head", {"name": "cosine", "s": 5})),
    ("loss.kd=null", ("loss.kd", None)),
    ("loss.kd=", ("loss.kd", None)),
    (" epochs =2", ("epochs", 2)),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_overrides_change_resolved_values_of_points_and_stages(write_yaml):
    path = write_yaml(KD + "grid:\n  loss.kd.T: [2, 4]\n")
    plain = plan_sweep(path)
    over = plan_sweep(path, ["epochs=1", "data.root=/x", "optim.betas=[0.8,0.99]",
                             "train.channels_last=true"])
    assert len(over.runs) == len(plain.runs) == 3
    for run in over.runs:  # the stage inherits the overridden base
        assert run.config["epochs"] == 1
        assert run.config["data"]["root"] == "/x"
        assert run.config["optim"]["betas"] == [0.8, 0.99]
        assert run.config["train"]["channels_last"] is True
        assert run.config["data"]["workers"] == 2
    assert over.runs[0].stage == "big" and over.runs[0].config["student"]["arch"] == "efficientnet_exx"
    assert over.sweep.overrides == {"epochs": 1, "data.root": "/x", "optim.betas": [0.8, 0.99],
                                    "train.channels_last": True}
    assert {r.key for r in over.runs}.isdisjoint(r.key for r in plain.runs)


def test_root_override_keeps_keys(write_yaml):
    path = write_yaml(KD + "grid:\n  loss.kd.T: [2, 4]\n")
    plain = plan_sweep(path)
    moved = plan_sweep(path, ["data.root=/elsewhere", "data.workers=16", "device=cpu", "train.threads=3"])
    assert [r.key for r in moved.runs] == [r.key for r in plain.runs]
    assert moved.runs[1].config["device"] == "cpu" and moved.runs[1].config["train"]["threads"] == 3


def test_override_applies_over_stage_body(write_yaml):
    """-o sets every run: a stage body that names the key is overridden too (smoke runs stay short)."""
    path = write_yaml(KD.replace("student: {arch: efficientnet_exx}", "student: {arch: efficientnet_exx}\n    epochs: 9"))
    assert [r.config["epochs"] for r in plan_sweep(path).runs] == [9, 3]
    plan = plan_sweep(path, ["epochs=2"])
    assert [r.config["epochs"] for r in plan.runs] == [2, 2]


def test_override_removes_kd(write_yaml):
    plan = plan_sweep(write_yaml(KD), ["loss.kd=null"])
    student = [r for r in plan.runs if r.stage is None]
    assert len(student) == 1 and student[0].config["teacher"] is None and student[0].depends_on == []
    assert student[0].config["loss"]["ce"]["weight"] == 1.0


def test_last_override_of_a_key_wins(write_yaml):
    plan = plan_sweep(write_yaml(KD), ["epochs=1", "epochs=4"])
    assert {r.config["epochs"] for r in plan.runs} == {4}
