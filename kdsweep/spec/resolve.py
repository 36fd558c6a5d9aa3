"""Turn a raw run config (base + point) into a complete, validated one.

Filling every default here, once, is what makes a run key honest: two YAML files that
spell the same experiment differently resolve to the same config and the same key.
Validation errors name the dotted key path; the sweep loader prefixes the file.
"""

from __future__ import annotations

import copy
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.defaults import (
    AMP_MODES,
    DEVICES,
    LOSS_DEFAULTS,
    OPTIMIZERS,
    REQUIRED,
    RUN_DEFAULTS,
    SCHEDULE_DEFAULTS,
    TEACHER_DEFAULTS,
    TEACHER_LOSSES,
)
from kdsweep.spec.dotted import deep_merge

# Types of keys whose default is None (the default itself says the type of the others).
NULLABLE_TYPES: dict[str, tuple[type, ...]] = {
    "data.root": (str,),
    "data.val_batch_size": (int,),
    "data.limit": (int,),
    "data.val_limit": (int,),
    "data.input_size": (int,),
    "data.num_classes": (int,),
    "data.train_transforms": (list,),
    "data.val_transforms": (list,),
    "data.copies": (list,),
    "student.num_classes": (int,),
    "student.head": (dict,),
    "student.init": (dict,),
    "teacher.num_classes": (int,),
    "teacher.head": (dict,),
    "teacher.run": (str,),
    "teacher.key": (str,),
    "teacher.checkpoint": (str,),
    "optim.grad_clip": (int, float),
    "train.patience": (int,),
    "train.threads": (int,),
    "loss.ce.weight": (int, float),
    "loss.fa.local_radius": (int,),
    "data.on_device": (str, bool),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "device": DEVICES,
    "optim.name": OPTIMIZERS,
    "train.amp": AMP_MODES,
    "schedule.name": tuple(SCHEDULE_DEFAULTS),
    "schedule.per": ("epoch", "iter"),
    "loss.refinery.teacher_mode": ("eval", "train"),
    "loss.hint.kind": ("smooth_l1", "mse"),
    "data.on_device": ("auto", "true", "false"),
}

# Values that are free-form mappings: their inner keys are not checked here.
FREE_FORM = {"student.kwargs", "teacher.kwargs", "student.head", "teacher.head", "student.init"}

_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
               list: "a list", dict: "a mapping"}


def _expected(types: tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)


def _check_type(path: str, value: Any, types: tuple[type, ...]) -> None:
    if value is None:
        return
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        hint = ""
        if isinstance(value, str) and float in types:
            try:
                float(value)
                hint = f" (YAML reads {value} as text; write it with a dot, e.g. 1.0e-3)"
            except ValueError:
                pass
        raise UserError(f"expected {_expected(types)}, got {value!r}{hint}", where=path)


def _types_for(path: str, default: Any) -> tuple[type, ...] | None:
    if path in NULLABLE_TYPES:
        return NULLABLE_TYPES[path]
    if default is None or default == REQUIRED:
        return None
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, float):
        return (int, float)
    if isinstance(default, int):
        return (int,)
    return (type(default),)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _fill(raw: dict, defaults: dict, path: str, *, allow_extra: bool = False) -> dict:
    """Defaults merged under `raw`, with unknown keys, missing required keys and types checked."""
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {raw!r}", where=path)
    out: dict[str, Any] = {}
    for key in raw:
        if key not in defaults and not allow_extra:
            raise UserError(f"unknown key {key!r}; {did_you_mean(key, defaults)}", where=_join(path, key))
    for key, default in defaults.items():
        sub = _join(path, key)
        value = raw.get(key)
        if value is None:  # absent or null: a sweep's `null` removes a key, so its default applies
            value = copy.deepcopy(default)
        if value == REQUIRED:
            raise UserError("is required", where=sub)
        if isinstance(default, dict) and default and sub not in FREE_FORM and isinstance(value, dict):
            value = _fill(value, default, sub)
        else:
            types = _types_for(sub, default)
            if types:
                _check_type(sub, value, types)
        if sub in CHOICES and value is not None and str(value).lower() not in CHOICES[sub]:
            raise UserError(f"{value!r} is not one of {', '.join(CHOICES[sub])}", where=sub)
        out[key] = value
    if allow_extra:
        out.update({k: v for k, v in raw.items() if k not in out})
    return out


def _resolve_schedule(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping with a name, got {raw!r}", where="schedule")
    name = raw.get("name", "constant")
    if not isinstance(name, str) or name not in SCHEDULE_DEFAULTS:
        raise UserError(f"unknown schedule {name!r}; {did_you_mean(name, SCHEDULE_DEFAULTS)}", where="schedule.name")
    out = _fill({k: v for k, v in raw.items() if k != "name"}, SCHEDULE_DEFAULTS[name], "schedule")
    return {"name": name, **out}


def _resolve_loss(raw: Any) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping of loss terms, got {raw!r}", where="loss")
    out: dict[str, Any] = {}
    for term, body in raw.items():
        if term not in LOSS_DEFAULTS:
            raise UserError(f"unknown loss term {term!r}; {did_you_mean(term, LOSS_DEFAULTS)}", where=f"loss.{term}")
        if body is None:
            continue
        if term == "kd" and isinstance(body, dict):
            for k in ("alpha",):
                if k in body and isinstance(body[k], (int, float)) and not 0 <= body[k] <= 1:
                    raise UserError(f"expected a weight in [0, 1], got {body[k]!r}", where=f"loss.kd.{k}")
        out[term] = _fill(body, LOSS_DEFAULTS[term], f"loss.{term}")
    ce = out.setdefault("ce", _fill({}, LOSS_DEFAULTS["ce"], "loss.ce"))
    if ce["weight"] is None:
        if "kd" in out:
            ce["weight"] = round(1.0 - float(out["kd"]["alpha"]), 10)
        elif "refinery" in out:
            ce["weight"] = 0.0
        else:
            ce["weight"] = 1.0
    if "kd" in out and out["kd"]["T"] <= 0:
        raise UserError(f"expected a temperature > 0, got {out['kd']['T']!r}", where="loss.kd.T")
    if "hint" in out:
        layers = out["hint"]["layers"]
        if not isinstance(layers, list) or not layers:
            raise UserError("expected a list of {student, teacher, weight} layer pairs", where="loss.hint.layers")
        for i, pair in enumerate(layers):
            if not isinstance(pair, dict) or "student" not in pair or "teacher" not in pair:
                raise UserError("expected {student: <module>, teacher: <module>, weight: w}",
                                where=f"loss.hint.layers[{i}]")
    return dict(sorted(out.items()))


def _resolve_teacher(raw: Any) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping ({{run: <stage>}} or {{arch: ..., checkpoint: ...}}), got {raw!r}",
                        where="teacher")
    if raw.get("run") is None and "arch" not in raw:
        raise UserError("needs `run: <stage name>` or `arch:` with `checkpoint:`", where="teacher")
    if raw.get("run") is None and not raw.get("checkpoint"):
        raise UserError("a teacher given by arch needs `checkpoint: <path>` (or use `run: <stage>`)",
                        where="teacher.checkpoint")
    filled = dict(raw)
    if filled.get("run") is not None and "arch" not in filled:
        filled["arch"] = "<from stage>"  # the plan replaces it with the stage's student model
    return _fill(filled, TEACHER_DEFAULTS, "teacher")


def resolve_run_config(raw: dict) -> dict:
    """Every default filled in and every value checked; raises UserError naming the key path."""
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {raw!r}", where="base")
    raw = copy.deepcopy(raw)
    schedule = raw.pop("schedule", None) or {"name": "constant"}
    loss = raw.pop("loss", None)
    teacher = raw.pop("teacher", None)
    skeleton = {k: v for k, v in RUN_DEFAULTS.items() if k not in ("schedule", "loss", "teacher")}
    out = _fill(raw, {**skeleton, "schedule": None, "loss": None, "teacher": None}, "")
    out["schedule"] = _resolve_schedule(schedule)
    out["loss"] = _resolve_loss(loss)
    needs_teacher = any(term in out["loss"] for term in TEACHER_LOSSES)
    out["teacher"] = _resolve_teacher(teacher) if needs_teacher else None
    if needs_teacher and out["teacher"] is None:
        terms = ", ".join(t for t in TEACHER_LOSSES if t in out["loss"])
        raise UserError(f"loss term(s) {terms} need a teacher; add `teacher: {{run: <stage>}}`", where="teacher")
    for key in ("epochs",):
        if out[key] < 1:
            raise UserError(f"expected at least 1, got {out[key]!r}", where=key)
    if out["data"]["batch_size"] < 1:
        raise UserError(f"expected at least 1, got {out['data']['batch_size']!r}", where="data.batch_size")
    if out["optim"]["lr"] <= 0:
        raise UserError(f"expected a learning rate > 0, got {out['optim']['lr']!r}", where="optim.lr")
    return out


def merge_stage(base: dict, body: dict) -> dict:
    """A stage's raw config: base without its teacher and distillation terms, then the stage body.

    A teacher stage must not inherit the students' teacher or KD loss (it would distil from
    itself); only the body names those for a stage.
    """
    inherited = copy.deepcopy(base)
    inherited.pop("teacher", None)
    loss = inherited.get("loss")
    if isinstance(loss, dict):
        for term in TEACHER_LOSSES:
            loss.pop(term, None)
    return deep_merge(inherited, body)
