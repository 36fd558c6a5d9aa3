"""--smoke and hand-faked data in the plan: named apart, one seed, fake images shaped like the real data set."""

from __future__ import annotations

import textwrap

import pytest

from kdsweep.errors import UserError
from kdsweep.plan import plan_sweep
from kdsweep.plan.keys import run_key
from kdsweep.plan.smoke import fake_note

SWEEP = """\
name: tiny_c100
base:
  epochs: 30
  data: {name: cifar100, root: /nonexistent/cifar100, batch_size: 64}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.kd.T: [2, 4]
seeds: [3, 1, 2]
"""


@pytest.fixture
def sweep(tmp_path):
    path = tmp_path / "tiny_c100.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    return path


def test_smoke_plan_is_named_apart_with_one_seed_and_fake_data(sweep):
    real, smoke = plan_sweep(sweep), plan_sweep(sweep, smoke=True)
    assert (real.sweep.name, smoke.sweep.name) == ("tiny_c100", "tiny_c100-smoke")
    assert len(real.runs) == 7 and len(smoke.runs) == 3  # the stage and 2 points x the first seed (3)
    assert {r.config["seed"] for r in smoke.runs if r.stage is None} == {3}
    data = smoke.runs[0].config["data"]
    assert (data["name"], data["fake"], data["limit"], smoke.runs[0].config["epochs"]) == ("cifar100", True, 48, 1)
    assert data["train_transforms"] == real.runs[0].config["data"]["train_transforms"]  # the real set's own
    assert not {r.key for r in smoke.runs} & {r.key for r in real.runs}
    assert fake_note(real) is None
    assert fake_note(smoke).startswith("Smoke run: fake images shaped like cifar100 (100 classes, 32 px)")


def test_a_users_own_overrides_win_over_the_smoke_settings(sweep):
    plan = plan_sweep(sweep, ["epochs=2", "seeds=[1, 2]"], smoke=True)
    assert {r.config["epochs"] for r in plan.runs} == {2}
    assert len(plan.runs) == 5


def test_a_sweep_faked_by_hand_is_named_apart_too(sweep):
    plan = plan_sweep(sweep, ["data.name=fake", "data.root=null"])
    assert plan.sweep.name == "tiny_c100-fake" and len(plan.runs) == 7
    assert fake_note(plan).startswith("Fake data: random images made in code (-o data.name=fake)")


def test_the_new_key_leaves_every_real_run_key_as_it_was(sweep):
    run = plan_sweep(sweep).runs[0]
    without = {**run.config, "data": {k: v for k, v in run.config["data"].items() if k != "fake"}}
    assert run_key(without) == run.key  # runs stored before data.fake existed keep their keys
    assert run_key({**run.config, "data": {**run.config["data"], "fake": True}}) != run.key


def test_a_smoke_run_is_refused_what_a_real_one_is(sweep):
    with pytest.raises(UserError, match="RandomCorp"):
        plan_sweep(sweep, ["data.train_transforms=[{name: RandomCorp, size: 32}]"], smoke=True)


def test_a_searchs_smoke_run_asks_two_trials():
    from pathlib import Path

    sweep = Path(__file__).parents[2] / "sweeps" / "digits" / "digits_T_alpha_search.yaml"
    assert plan_sweep(sweep).sweep.search.trials > 2
    assert plan_sweep(sweep, smoke=True).sweep.search.trials == 2
