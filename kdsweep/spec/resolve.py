"""Turn a raw run config (base + point) into a complete, validated one.

Filling every default here, once, is what makes a run key honest: two YAML files that
spell the same experiment differently resolve to the same config and the same key.
A generic walker: the run's skeleton (`defaults.RUN_DEFAULTS`) is filled key by key, and
each named component (the optimiser, the schedule, every loss term) is filled and checked
by its registry entry's options (`spec.entries`), the same checks the engine runs.
Validation errors name the dotted key path; the sweep loader prefixes the file.
"""

from __future__ import annotations

import copy
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.data_defaults import fill_transforms
from kdsweep.spec.defaults import CHOICES, FREE_FORM, NULLABLE_TYPES, RUN_DEFAULTS, TEACHER_DEFAULTS
from kdsweep.spec.dotted import deep_merge
from kdsweep.spec.entries import DEFAULT_HEAD, HEADS, LOSSES, OPTIMIZERS, SCHEDULES
from kdsweep.spec.names import check_arch, check_dataset, check_model_kwargs, check_num_classes
from kdsweep.spec.options import REQUIRED, check_type, types_of
from kdsweep.spec.transform_names import check_data_transforms

COMPONENT_SECTIONS = ("optim", "schedule", "loss", "teacher")  # filled by their own rules, in this order


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _fill(raw: dict, defaults: dict, path: str) -> dict:
    """Defaults merged under `raw`, with unknown keys, missing required keys and types checked."""
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {raw!r}", where=path)
    out: dict[str, Any] = {}
    for key in raw:
        if key not in defaults:
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
            types = NULLABLE_TYPES.get(sub) or types_of(default)
            if types and value is not None:
                check_type(value, types, sub)
        if sub in CHOICES and value is not None and str(value).lower() not in CHOICES[sub]:
            raise UserError(f"{value!r} is not one of {', '.join(CHOICES[sub])}", where=sub)
        out[key] = value
    return out


def _resolve_optim(raw: Any) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {raw!r}", where="optim")
    name = raw.get("name") or RUN_DEFAULTS["optim"]["name"]
    if name not in OPTIMIZERS:
        raise UserError(f"{name!r} is not one of {', '.join(OPTIMIZERS.known())}", where="optim.name")
    opts = OPTIMIZERS.get(name).parse({k: v for k, v in raw.items() if k != "name"}, "optim")
    return {"name": name, **opts.to_dict()}


def _resolve_schedule(raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping with a name, got {raw!r}", where="schedule")
    name = raw.get("name", "constant")
    entry = SCHEDULES.get(name, where="schedule.name")
    return {"name": name, **entry.parse({k: v for k, v in raw.items() if k != "name"}, "schedule").to_dict()}


def _resolve_loss(raw: Any) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping of loss terms, got {raw!r}", where="loss")
    out: dict[str, Any] = {}
    for term, body in raw.items():
        entry = LOSSES.get(term, where=f"loss.{term}")
        if body is None:
            continue
        out[term] = entry.parse(body, f"loss.{term}").to_dict()
    ce = out.setdefault("ce", LOSSES.get("ce").parse({}, "loss.ce").to_dict())
    if ce["weight"] is None:  # the first term that says what the hard-label term weighs beside it
        rule = next((t for t in sorted(out) if LOSSES.get(t).ce_weight is not None), None)
        ce["weight"] = round(float(LOSSES.get(rule).ce_weight(out[rule])), 10) if rule else 1.0
    return dict(sorted(out.items()))


def teacher_terms(loss: dict) -> list[str]:
    """The loss terms of a resolved or raw loss section that need a teacher."""
    return [t for t in loss if t in LOSSES and LOSSES.get(t).needs_teacher]


def teacher_mode(loss: dict) -> str:
    """How the shared teacher runs for these terms: 'train' if any term asks for it, else 'eval'."""
    modes = {LOSSES.get(t).teacher_mode(body or {}) for t, body in loss.items() if t in LOSSES}
    return "train" if "train" in modes else "eval"


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
    out = _fill(filled, TEACHER_DEFAULTS, "teacher")
    if out["run"] is None:  # with `run:`, the stage's model replaces any arch written here
        check_arch(out["arch"], "teacher.arch")
    return out


def _check_head(head: Any, where: str) -> None:
    """A head's name and options, checked by its entry (engine/models/heads.py); the config keeps what
    the user wrote (filling the defaults in would change the run keys of sweeps that name a head)."""
    if head is None:
        return
    if not isinstance(head, dict):
        raise UserError(f"expected a mapping like {{name: cosine, s: 5}}, got {head!r}", where=where)
    entry = HEADS.get(head.get("name", DEFAULT_HEAD), where=f"{where}.name")
    entry.parse({k: v for k, v in head.items() if k != "name"}, where)


def resolve_run_config(raw: dict) -> dict:
    """Every default filled in and every value checked; raises UserError naming the key path."""
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping, got {raw!r}", where="base")
    raw = copy.deepcopy(raw)
    parts = {k: raw.pop(k, None) for k in COMPONENT_SECTIONS}
    skeleton = {k: None if k in COMPONENT_SECTIONS else v for k, v in RUN_DEFAULTS.items()
                if k not in ("schedule", "loss", "teacher")}
    out = _fill(raw, {**skeleton, "schedule": None, "loss": None, "teacher": None}, "")
    for section, key, where in ((out, "epochs", "epochs"), (out["data"], "batch_size", "data.batch_size")):
        if section[key] < 1:
            raise UserError(f"expected at least 1, got {section[key]!r}", where=where)
    out["optim"] = _resolve_optim(parts["optim"])
    out["schedule"] = _resolve_schedule(parts["schedule"] or {"name": "constant"})
    out["loss"] = _resolve_loss(parts["loss"])
    needing = teacher_terms(out["loss"])
    out["teacher"] = _resolve_teacher(parts["teacher"]) if needing else None
    if needing and out["teacher"] is None:
        raise UserError(f"loss term(s) {', '.join(needing)} need a teacher; add `teacher: {{run: <stage>}}`",
                        where="teacher")
    # Names last, so a run's other mistakes are reported as before; the engine's registries
    # check them again (preflight), with the names read here from the same decorators.
    check_dataset(out["data"]["name"], "data.name")
    check_num_classes(out["data"], "data.num_classes")
    if out["data"]["copies"] is not None and out["data"]["train_transforms"] is not None:
        raise UserError("set data.copies or data.train_transforms, not both", where="data.copies")
    fill_transforms(out["data"])  # the data set's own lists where the run names none: the key covers them
    check_data_transforms(out["data"])
    check_arch(out["student"]["arch"], "student.arch")
    check_model_kwargs(out["student"], "student.kwargs")
    _check_head(out["student"]["head"], "student.head")
    if out["teacher"] is not None and out["teacher"]["run"] is None:
        check_model_kwargs(out["teacher"], "teacher.kwargs")
        _check_head(out["teacher"]["head"], "teacher.head")
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
        for term in teacher_terms(loss):
            loss.pop(term, None)
    return deep_merge(inherited, body)
