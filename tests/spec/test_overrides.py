"""`-o` reaches every key a user changes for one call (issues 20 and 24): the file's seeds, grid axes,
search block and name beside the run config; a new schedule name replaces the schedule; errors name
the override as written. Plans only (no training), so each test takes milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdsweep.plan import plan_sweep
from kdsweep.plan.search import fingerprint

REPO = Path(__file__).resolve().parents[2]

SWEEP = """\
name: t
base:
  epochs: 3
  student: {arch: digits_student}
  teacher: {run: teacher}
  schedule: {name: cosine, warmup_epochs: 1}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}, epochs: 5}
grid:
  loss.kd.T: [1, 2, 4]
  loss.kd.alpha: [0.5, 0.9]
labels:
  loss.kd.T: [cold, warm, hot]
seeds: [0, 1, 2]
"""

SEARCH = """\
name: s
base:
  epochs: 3
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}, epochs: 2}
search:
  space:
    loss.kd.T: {float: [1, 8], log: true}
    loss.kd.alpha: {float: [0.5, 0.9]}
  trials: 20
  parallel: 4
  pruner: {median: {warmup_epochs: 1}}
"""


def points(plan) -> list[dict]:
    return [r.point for r in plan.runs if r.stage is None]


def test_seeds_and_a_grid_axis_cut_the_sweep_to_runs_it_already_had(write_yaml):
    path = write_yaml(SWEEP)
    full = plan_sweep(path)
    cut = plan_sweep(path, ["seeds=[0]", "grid.loss.kd.T=[2,8]"])
    assert points(cut) == [{"loss.kd.T": t, "loss.kd.alpha": a, "seed": 0} for t in (2, 8) for a in (0.5, 0.9)]
    kept = {r.key for r in cut.runs if r.point.get("loss.kd.T") != 8}
    assert kept <= {r.key for r in full.runs}  # T=2 seed 0 is the same run as in the full sweep
    # The file's list of labels still names the values the axis keeps; a new value shows as itself.
    assert [r.name for r in cut.runs if r.stage is None][:3] == ["T=warm alpha=0.5 seed=0", "T=warm alpha=0.9 seed=0",
                                                                  "T=8 alpha=0.5 seed=0"]


def test_a_budget_override_keeps_every_run_key_and_the_study(write_yaml):
    path = write_yaml(SEARCH)
    plan = plan_sweep(path)
    more = plan_sweep(path, ["search.trials=6", "search.parallel=2"])
    assert (more.sweep.search.trials, more.sweep.search.parallel) == (6, 2)
    assert [r.key for r in more.runs] == [r.key for r in plan.runs]
    assert fingerprint(more) == fingerprint(plan)  # the same study: the next run goes on with it
    narrower = plan_sweep(path, ["search.space.loss.kd.T={float: [1, 4]}", "search.pruner.median.warmup_epochs=2"])
    assert (narrower.sweep.search.space["loss.kd.T"].high, narrower.sweep.search.pruner_options["warmup_epochs"]) \
        == (4.0, 2)
    assert fingerprint(narrower) != fingerprint(plan)  # another space: another experiment


def test_a_mapping_from_python_is_the_same_as_the_command_line(write_yaml):
    path = write_yaml(SWEEP)
    given = plan_sweep(path, {"epochs": 1, "seeds": [1], "name": "t-short"})
    typed = plan_sweep(path, ["epochs=1", "seeds=[1]", "name=t-short"])
    assert [r.key for r in given.runs] == [r.key for r in typed.runs]
    assert given.sweep.name == "t-short" and given.sweep.overrides == {"epochs": 1}
    assert given.sweep.file_overrides == {"seeds": [1], "name": "t-short"}


def test_a_new_schedule_name_replaces_the_schedule_in_every_run(write_yaml):
    """Merged into the cosine schedule, `step` would get `warmup_epochs`, an option it does not take."""
    plan = plan_sweep(write_yaml(SWEEP), ["schedule.name=step"])
    assert {r.config["schedule"]["name"] for r in plan.runs} == {"step"}
    assert all("warmup_epochs" not in r.config["schedule"] for r in plan.runs)
    kept = plan_sweep(write_yaml(SWEEP), ["schedule.name=cosine", "schedule.floor=0.01"])
    assert {(r.config["schedule"]["warmup_epochs"], r.config["schedule"]["floor"]) for r in kept.runs} == {(1, 0.01)}
    given = plan_sweep(write_yaml(SWEEP), ["schedule.name=multistep", "schedule.milestones=[2]"])
    assert {tuple(r.config["schedule"]["milestones"]) for r in given.runs} == {(2,)}


def test_a_new_arch_drops_the_old_constructor_options(write_yaml):
    text = SWEEP.replace("student: {arch: digits_student}", "student: {arch: digits_student, kwargs: {widths: [8, 16]}}")
    plan = plan_sweep(write_yaml(text), ["student.arch=digits_teacher"])
    assert {r.config["student"]["arch"] for r in plan.runs} == {"digits_teacher"}
    assert all(r.config["student"]["kwargs"] == {} for r in plan.runs)


@pytest.mark.parametrize(("text", "override", "want"), [
    (SWEEP, "seeds=[0,0]", "-o seeds: repeated seed in [0, 0]"),
    (SWEEP, "seeds=[a]", "-o seeds: expected integers, got 'a'"),
    (SWEEP, "grid.loss.kd.Tx=[1]", "-o grid.loss.kd.Tx: 'loss.kd.Tx' is not a grid axis of this sweep "
                                   "(did you mean 'loss.kd.T' or 'loss.kd.alpha'?); a new axis belongs in the file"),
    (SWEEP, "grid.loss.kd.T=3", "-o grid.loss.kd.T: expected a list of values, got 3"),
    (SWEEP, "grid.loss.kd.T=[0]", "point T=0 alpha=0.5 seed=0: loss.kd.T: expected a temperature > 0, got 0"),
    (SWEEP, "search.trials=6", "-o search.trials: this sweep has no search: block to change (add it to the file)"),
    (SWEEP, "tables.x=1", "-o tables.x: tables takes no -o: it is the file's to say; -o reaches base keys "
                          "(-o epochs=1), name, seeds, grid.<axis>"),  # (the error goes on with the list)
    (SWEEP, "base.epochs=1", "-o base.epochs: base takes no -o: write base keys without `base.`: -o epochs=..."),
    (SWEEP, "lossx.kd.T=3", "-o lossx.kd.T: unknown key 'lossx'; did you mean 'loss'?"),
    (SWEEP, "name=", "-o name: required, a non-empty string (it names the MLflow experiment)"),
    # A new schedule drops the old one's options: what it lacks is the override's to give.
    (SWEEP, "schedule.name=multistep",
     "-o schedule.name (schedule.milestones): is required (schedule 'multistep' needs it)"),
    (SWEEP, "schedule.name=nope", "-o schedule.name: unknown schedule 'nope'"),
    (SEARCH, "search.trials=0", "-o search.trials: expected at least 1, got 0"),
    (SEARCH, "search.parallel=x", "-o search.parallel: expected an integer, got 'x'"),
    (SEARCH, "search.space.loss.kd.T={float: [4, 1]}",
     "-o search.space.loss.kd.T: empty range [4, 1]: low must be below high"),
    (SEARCH, "search.space.loss.kd.alpha={float: [0.5, 1.5]}",
     "-o search.space.loss.kd.alpha: 1.5 does not make a valid run: loss.kd.alpha: expected a weight in [0, 1], "
     "got 1.5 (0 <= alpha <= 1)"),
    (SEARCH, "search.pruner.median.warmup_epochs=-1", "-o search.pruner.median.warmup_epochs: expected at least 0, "
                                                      "got -1"),
])
def test_errors_name_the_override_as_written(write_yaml, cli, text, override, want):
    path = write_yaml(text)
    rc, out, err = cli("plan", path, "-o", override)
    assert (rc, out) == (2, ""), err
    assert err.strip().startswith(f"kdsweep: error: {path}: {want}"), err
    assert "\n" not in err.strip()


def test_the_shipped_search_takes_a_budget_from_the_command_line(cli):
    """Issue 24's report: `-o search.trials=6` on the digits search was refused ("unknown key 'search'")."""
    rc, out, err = cli("plan", REPO / "sweeps/digits/digits_T_alpha_search.yaml", "-o", "search.trials=6",
                       "-o", "search.parallel=2")
    assert rc == 0, err
    assert "search, 6 trials" in out and "2 in flight" in out
