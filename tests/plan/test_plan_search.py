"""`kdsweep plan` on a search sweep: the stages, the space and the budget; trials planned like points."""

from __future__ import annotations

from kdsweep.plan import plan_sweep
from kdsweep.plan.search import check_space, trial_runs

SEARCH = """\
name: s
base:
  epochs: 6
  student: {arch: digits_student}
  data: {name: digits}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}}
search:
  space:
    loss.kd.T: {float: [1, 20], log: true}
    optim.lr: {choice: [0.05, 0.1]}
  trials: 12
  parallel: 3
  seeds: [0, 1]
  pruner: {median: {warmup_epochs: 2}}
"""


def test_plan_shows_stages_space_and_budget(write_yaml, cli):
    rc, out, err = cli("plan", write_yaml(SEARCH))
    assert rc == 0, err
    assert "teacher" in out and "base" not in out  # a search alone plans no base point
    assert "12 trials x 2 seeds = 24 runs, at most 144 epochs" in out
    assert "loss.kd.T" in out and "float in [1, 20], log" in out and "one of 0.05, 0.1" in out
    assert "maximize best_val_acc1, mean over seeds 0, 1" in out
    assert "median (warmup_epochs 2, startup_trials 5)" in out and "3 in flight" in out


def test_search_beside_a_grid_keeps_the_grid(write_yaml):
    plan = plan_sweep(write_yaml(SEARCH + "grid:\n  loss.kd.alpha: [0.5, 0.9]\n"))
    assert [r.name for r in plan.runs] == ["teacher", "alpha=0.5", "alpha=0.9"]


def test_trial_runs_share_the_stage_and_group_like_points(write_yaml):
    plan = plan_sweep(write_yaml(SEARCH))
    check_space(plan)
    a = trial_runs(plan, 0, {"loss.kd.T": 3.0, "optim.lr": 0.05})
    b = trial_runs(plan, 1, {"loss.kd.T": 7.0, "optim.lr": 0.1})
    teacher = plan.stages["teacher"].key
    assert [r.name for r in a] == ["trial 0 seed=0", "trial 0 seed=1"]
    assert all(r.depends_on == [teacher] for r in a + b)
    assert a[0].config["loss"]["kd"]["T"] == 3.0 and a[1].config["seed"] == 1
    # same seed, different T and lr: one group; different seeds: different groups
    assert a[0].group == b[0].group and a[0].group != a[1].group
    # the same point drawn by two trials is two runs
    again = trial_runs(plan, 2, {"loss.kd.T": 3.0, "optim.lr": 0.05})
    assert again[0].key != a[0].key and again[0].config == a[0].config
