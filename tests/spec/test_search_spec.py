"""The `search:` block: one-line errors for a bad block, and what a good one is read as."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.spec.search import parse_search

KD = """\
name: t
base:
  student: {arch: digits_student}
  data: {name: digits}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
"""

SPACE = "search:\n  space:\n    loss.kd.T: {float: [1, 20], log: true}\n"

CASES = [
    ("unknown-key", SPACE + "  trails: 5\n", ["search.trails", "unknown key 'trails'", "did you mean 'trials'?"]),
    ("not-a-mapping", "search: [1, 2]\n", ["search: expected a mapping"]),
    ("no-space", "search: {trials: 5}\n", ["search.space: required"]),
    ("empty-range", "search:\n  space:\n    loss.kd.alpha: {float: [0.9, 0.1]}\n",
     ["search.space.loss.kd.alpha.float", "empty range [0.9, 0.1]"]),
    ("log-bound-not-positive", "search:\n  space:\n    optim.lr: {float: [0, 0.5], log: true}\n",
     ["search.space.optim.lr.log", "a log range needs bounds > 0"]),
    ("unknown-sampler", SPACE + "  sampler: tpee\n", ["search.sampler", "unknown sampler 'tpee'",
                                                      "did you mean 'tpe'?"]),
    ("trials-below-one", SPACE + "  trials: 0\n", ["search.trials", "expected at least 1, got 0"]),
    ("trials-not-int", SPACE + "  trials: many\n", ["search.trials", "expected an integer, got 'many'"]),
    ("unknown-pruner", SPACE + "  pruner: medain\n", ["search.pruner", "unknown pruner 'medain'",
                                                      "did you mean 'median'?"]),
    ("unknown-sampler-option", SPACE + "  sampler: {tpe: {startup: 3}}\n",
     ["search.sampler.tpe.startup", "did you mean 'startup_trials'?"]),
    ("unknown-pruner-option", SPACE + "  pruner: {median: {warmup: 3}}\n",
     ["search.pruner.median.warmup", "did you mean 'warmup_epochs'?"]),
    ("unknown-kind", "search:\n  space:\n    loss.kd.T: {flaot: [1, 2]}\n",
     ["search.space.loss.kd.T.flaot", "did you mean 'float'?"]),
    ("int-with-floats", "search:\n  space:\n    epochs: {int: [1.5, 4]}\n",
     ["search.space.epochs.int", "expected two integers"]),
    ("empty-choice", "search:\n  space:\n    student.arch: {choice: []}\n",
     ["search.space.student.arch.choice", "non-empty list"]),
    ("grid-needs-countable", "search:\n  space:\n    loss.kd.T: {float: [1, 2]}\n  sampler: grid\n",
     ["search.space.loss.kd.T", "grid sampler", "step"]),
    ("prune-needs-maximize", SPACE + "  direction: minimize\n",
     ["search.pruner", "direction: maximize", "pruner: none"]),
    ("bad-direction", SPACE + "  direction: up\n", ["search.direction", "'up' is not one of maximize, minimize"]),
    ("unknown-config-key", "search:\n  space:\n    loss.kd.TT: {float: [1, 20]}\n",
     ["search.space.loss.kd.TT", "unknown key 'TT'"]),
    ("value-out-of-range", "search:\n  space:\n    loss.kd.alpha: {float: [0.5, 1.5]}\n",
     ["search.space.loss.kd.alpha", "1.5 does not make a valid run", "weight in [0, 1]"]),
]


@pytest.mark.parametrize("block, fragments", [pytest.param(b, f, id=i) for i, b, f in CASES])
def test_bad_search_block_is_one_line_exit_2(block, fragments, tmp_path, cli):
    path = tmp_path / "sweep.yaml"
    path.write_text(KD + block)
    rc, out, err = cli("plan", path)
    assert rc == 2, err
    assert out == "" and "Traceback" not in err
    assert err.startswith(f"kdsweep: error: {path}: ") and err.count("\n") == 1, repr(err)
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


def test_defaults_and_spellings():
    search = parse_search({"space": {"loss.kd.T": {"float": [1, 20], "log": True},
                                     "schedule.warmup_epochs": {"int": [0, 5]},
                                     "student.arch": {"choice": ["a", "b"]}}})
    assert (search.metric, search.direction, search.trials, search.sampler) == ("best_val_acc1", "maximize", 20, "tpe")
    assert search.pruner == "median" and search.pruner_options == {"warmup_epochs": 0, "startup_trials": 5}
    assert search.sampler_options == {"startup_trials": 10}
    tpe = parse_search({"space": {"x": {"choice": [1]}}, "sampler": {"tpe": {"startup_trials": 4}}})
    assert tpe.sampler_text() == "tpe (startup_trials 4)"
    assert search.space["loss.kd.T"].log and search.space["loss.kd.T"].low == 1.0
    assert search.space["schedule.warmup_epochs"].grid_values() == [0, 1, 2, 3, 4, 5]
    assert search.grid_size is None  # a continuous float
    assert parse_search({"space": {"x": {"choice": [1]}}, "pruner": "none"}).pruner_text() == "none"
    hb = parse_search({"space": {"x": {"choice": [1]}}, "pruner": {"hyperband": {"reduction_factor": 2}}})
    assert hb.pruner_options == {"min_epochs": 1, "reduction_factor": 2}


def test_grid_sampler_budget_is_the_grid_size():
    search = parse_search({"space": {"a": {"choice": [1, 2, 3]}, "b": {"float": [0.5, 0.9], "step": 0.2}},
                           "sampler": "grid", "trials": 50})
    assert search.space["b"].grid_values() == [0.5, 0.7, 0.9]
    assert search.grid_size == 9 and search.budget == 9


def test_log_and_step_do_not_mix():
    with pytest.raises(UserError, match="log and step"):
        parse_search({"space": {"x": {"float": [1, 2], "log": True, "step": 0.5}}})
