"""resolve_run_config fills every default once and checks every value; merge_stage keeps teachers out."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.spec.defaults import RUN_DEFAULTS
from kdsweep.spec.dotted import deep_merge, flatten, get_path, set_path
from kdsweep.spec.entries import LOSSES, SCHEDULES
from kdsweep.spec.resolve import merge_stage, resolve_run_config

STUDENT = {"student": {"arch": "digits_student"}}


def test_defaults_filled():
    config = resolve_run_config(STUDENT)
    assert list(config) == [*[k for k in RUN_DEFAULTS if k not in ("schedule", "loss", "teacher")],
                            "schedule", "loss", "teacher"]
    plain = {k: v for k, v in RUN_DEFAULTS.items() if k not in ("loss", "schedule")}
    filled = ("student.arch", "data.train_transforms", "data.val_transforms")  # the data set's own lists
    for path, default in flatten(plain).items():
        if path not in filled:
            assert get_path(config, path, "<absent>") == default, path
    assert config["data"]["train_transforms"] == [{"name": "RandomCrop", "size": 32, "padding": 2}]
    assert config["data"]["val_transforms"] == []
    assert config["schedule"] == {"name": "constant"}
    assert config["loss"] == {"ce": {"weight": 1.0, "label_smoothing": 0.0}}
    assert config["teacher"] is None


SCHEDULE_DEFAULTS = {name: SCHEDULES.get(name).options.defaults() for name in SCHEDULES}
LOSS_DEFAULTS = {name: LOSSES.get(name).options.defaults() for name in LOSSES}


@pytest.mark.parametrize("name", sorted(SCHEDULE_DEFAULTS))
def test_schedule_defaults_per_name(name):
    given = {"milestones": [10], "T_0": 5}
    body = {"name": name, **{k: v for k, v in given.items() if k in SCHEDULE_DEFAULTS[name]}}
    schedule = resolve_run_config({**STUDENT, "schedule": body})["schedule"]
    assert schedule["name"] == name and set(schedule) == {"name", *SCHEDULE_DEFAULTS[name]}


@pytest.mark.parametrize("loss, ce_weight", [
    ({"kd": {"alpha": 0.7}}, 0.3),
    ({"kd": {"alpha": 0.9, "T": 3}}, 0.1),
    ({"kd": {}}, 1 - LOSS_DEFAULTS["kd"]["alpha"]),
    ({"kd": {"alpha": 0.6}, "ce": {"weight": 0.5}}, 0.5),  # explicit weight wins
    ({"refinery": {}}, 0.0),
    ({"ce": {"label_smoothing": 0.1}}, 1.0),
    ({}, 1.0),
])
def test_ce_weight(loss, ce_weight):
    teacher = {"run": "big"} if set(loss) - {"ce"} else None
    config = resolve_run_config({**STUDENT, "loss": loss, "teacher": teacher})
    assert config["loss"]["ce"]["weight"] == pytest.approx(ce_weight)
    weight = config["loss"]["ce"]["weight"]
    assert weight == round(weight, 10)  # 1 - 0.9 is 0.1, not 0.09999..


def test_loss_terms_sorted_and_filled():
    config = resolve_run_config({**STUDENT, "teacher": {"run": "t"}, "loss": {"kd": {"T": 2}, "ce": {}}})
    assert list(config["loss"]) == ["ce", "kd"]
    assert config["loss"]["kd"] == {**LOSS_DEFAULTS["kd"], "T": 2}


def test_teacher_dropped_without_a_teacher_loss():
    config = resolve_run_config({**STUDENT, "teacher": {"run": "big"}, "loss": {"kd": None}})
    assert config["teacher"] is None and "kd" not in config["loss"]


def test_teacher_by_checkpoint():
    teacher = resolve_run_config({**STUDENT, "teacher": {"arch": "resnet18", "checkpoint": "/w.pt"},
                                  "loss": {"kd": {}}})["teacher"]
    assert teacher["arch"] == "resnet18" and teacher["checkpoint"] == "/w.pt" and teacher["run"] is None


@pytest.mark.parametrize("path", ["epochs", "seed", "optim.lr", "data", "data.batch_size", "optim",
                                  "train.amp", "student.freeze", "schedule.warmup_epochs"])
def test_null_means_default(path):
    """A sweep's `null` removes a key: for a value with a default, the default applies (no crash)."""
    raw = {**STUDENT, "schedule": {"name": "cosine"}}
    parent, _, leaf = path.rpartition(".")
    node = get_path(raw, parent) if parent else raw
    if node is None:
        set_path(raw, parent, {})
        node = get_path(raw, parent)
    node[leaf] = None
    assert resolve_run_config(raw) == resolve_run_config({**STUDENT, "schedule": {"name": "cosine"}})


@pytest.mark.parametrize("raw, where", [
    ({"student": {"arch": "digits_student"}, "optim": {"lr": "fast"}}, "optim.lr"),
    ({"student": {"arch": "digits_student"}, "epochs": 2.5}, "epochs"),
    ({"student": {"arch": "digits_student"}, "data": {"limit": "all"}}, "data.limit"),
    ({"student": {"arch": "digits_student"}, "optim": {"grad_clip": "x"}}, "optim.grad_clip"),
    ({"student": {"arch": "digits_student", "head": "cosine"}}, "student.head"),
    ({"student": {}}, "student.arch"),
    ({"student": {"arch": "digits_student"}, "loss": {"kd": {"alpha": -0.1}}, "teacher": {"run": "t"}}, "loss.kd.alpha"),
    ({"student": {"arch": "digits_student"}, "loss": {"hint": {"layers": []}}, "teacher": {"run": "t"}},
     "loss.hint.layers"),
    ({"student": {"arch": "digits_student"}, "loss": [1]}, "loss"),
    ({"student": {"arch": "digits_student"}, "schedule": "cosine"}, "schedule"),
    ({"student": {"arch": "digits_student"}, "data": {"batch_size": 0}}, "data.batch_size"),
])
def test_errors_name_the_key_path(raw, where):
    with pytest.raises(UserError) as exc:
        resolve_run_config(raw)
    assert exc.value.where == where


def test_free_form_mappings_are_kept_as_written():
    """kwargs and head are checked (the factory's parameters, the head's entry) but not filled in."""
    student = {"arch": "digits_student", "kwargs": {"widths": [2, 2, 2, 2]}, "head": {"name": "cosine", "s": 5}}
    config = resolve_run_config({"student": student})
    assert config["student"]["kwargs"] == {"widths": [2, 2, 2, 2]}
    assert config["student"]["head"] == {"name": "cosine", "s": 5}


def test_merge_stage_drops_teacher_and_distillation_terms():
    base = {"student": {"arch": "digits_student"}, "epochs": 7, "optim": {"lr": 0.1, "weight_decay": 1e-4},
            "teacher": {"run": "big"},
            "loss": {"kd": {"T": 3}, "refinery": {}, "fa": {"weight": 1}, "hint": {"layers": []},
                     "ce": {"label_smoothing": 0.1}}}
    stage = merge_stage(base, {"student": {"arch": "digits_teacher"}, "optim": {"lr": 0.2}})
    assert stage == {"student": {"arch": "digits_teacher"}, "epochs": 7, "optim": {"lr": 0.2, "weight_decay": 1e-4},
                     "loss": {"ce": {"label_smoothing": 0.1}}}
    assert base["teacher"] == {"run": "big"} and "kd" in base["loss"]  # the base is not mutated
    chained = merge_stage(base, {"teacher": {"run": "a"}, "loss": {"refinery": {}}})
    assert chained["teacher"] == {"run": "a"} and set(chained["loss"]) == {"ce", "refinery"}


def test_dotted_helpers():
    tree = {"a": {"b": 1}}
    set_path(tree, "a.c.d", [1])
    assert tree == {"a": {"b": 1, "c": {"d": [1]}}}
    set_path(tree, "a.b", None)
    set_path(tree, "x.y", None)  # removing what is absent is a no-op
    assert tree == {"a": {"c": {"d": [1]}}}
    assert flatten({"a": {"b": {}, "c": [1]}, "d": 2}) == {"a.b": {}, "a.c": [1], "d": 2}
    merged = deep_merge({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]})
    assert merged == {"a": {"b": 1, "c": 3}, "l": [2]}


@pytest.mark.parametrize(("head", "where", "message"), [
    ({"name": "cosin"}, "student.head.name", "did you mean 'cosine'"),
    ({"name": "cosine", "ss": 5}, "student.head.ss", "did you mean 's'"),
    ({"s": -1}, "student.head.s", "expected a scale > 0"),
])
def test_a_head_is_checked_by_its_entry_and_kept_as_written(head, where, message):
    with pytest.raises(UserError) as err:
        resolve_run_config({"student": {"arch": "digits_student", "head": head}})
    assert err.value.where == where and message in str(err.value)
    kept = resolve_run_config({"student": {"arch": "digits_student", "head": {"name": "cosine", "s": 5}}})
    assert kept["student"]["head"] == {"name": "cosine", "s": 5}  # no defaults filled: run keys stay
