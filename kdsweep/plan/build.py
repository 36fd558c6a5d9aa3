"""From a sweep to a plan: resolved runs, their stages, keys and fused groups.

The plan is what every later step agrees on: the executor schedules its groups, tracking
names MLflow runs by its keys, and the report knows which runs a table expects, so a cell
can say "not run" instead of silently missing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.plan.keys import digest, run_key, short_key
from kdsweep.plan.origin import Layer, blame, override_layer
from kdsweep.spec.dotted import assign, has_path, set_path
from kdsweep.spec.expand import axis_names, expand_points
from kdsweep.spec.groups import shared_part
from kdsweep.spec.load import Sweep
from kdsweep.spec.overrides import GIVEN
from kdsweep.spec.resolve import merge_stage, resolve_run_config, teacher_terms

TEACHER_MODEL_KEYS = ("arch", "num_classes", "cifar", "head", "kwargs")


def student_only(key: str) -> bool:
    """An override a stage never inherits: the teacher, or a loss term that needs one."""
    parts = key.split(".")
    return parts[0] == "teacher" or (parts[0] == "loss" and len(parts) > 1 and bool(teacher_terms([parts[1]])))


@dataclass
class PlannedRun:
    key: str
    config: dict
    stage: str | None = None  # stage name, or None for a sweep point
    point: dict[str, Any] = field(default_factory=dict)  # axis values that made this run
    depends_on: list[str] = field(default_factory=list)  # run keys that must finish first
    group: str = ""
    name: str = ""
    given: str | None = None  # a stage given as a weights file (`checkpoint:`): not trained, its students load it

    @property
    def short(self) -> str:
        return short_key(self.key)

    def to_json(self) -> dict:
        return {"key": self.key, "name": self.name, "stage": self.stage, "depends_on": self.depends_on,
                "group": self.group, "point": self.point, "config": self.config}


@dataclass
class Plan:
    sweep: Sweep
    runs: list[PlannedRun]  # stages first (dependencies before dependants), then sweep points
    axes: list[str]
    stages: dict[str, PlannedRun] = field(default_factory=dict)  # stage name -> its run (a search's trials need it)
    warnings: list[str] = field(default_factory=list)  # one line each: legal but probably not meant

    @property
    def by_key(self) -> dict[str, PlannedRun]:
        return {r.key: r for r in self.runs}

    @property
    def groups(self) -> dict[str, list[PlannedRun]]:
        out: dict[str, list[PlannedRun]] = {}
        for run in self.runs:
            out.setdefault(run.group, []).append(run)
        return out


def format_value(value: Any) -> str:
    """Compact text for an axis value: `cosine(warmup_epochs=1)`, `none` for a removed key."""
    if value is None:
        return "none"
    if isinstance(value, dict):
        name = value.get("name") or value.get("arch")
        rest = ",".join(f"{k}={format_value(v)}" for k, v in value.items() if k not in ("name", "arch"))
        if name is not None:
            return f"{name}({rest})" if rest else str(name)
        return "{" + rest + "}"
    if isinstance(value, list):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def value_label(value: Any, labels: list[tuple[Any, str]] | None) -> str | None:
    """The sweep's name for an axis value (`FA` for a whole `loss.fa` sub-config), if it gives one;
    a {value: text} label also matches the value's compact text (`cosine(warmup_epochs=1)`)."""
    for known, text in labels or ():
        if known == value or (isinstance(known, str) and known == format_value(value)):
            return text
    return None


def run_name(point: dict[str, Any], labels: dict[str, list[tuple[Any, str]]] | None = None) -> str:
    """`T=3 alpha=0.6`: the last segment of each axis key with its value, or the value's label."""
    if not point:
        return "base"
    parts = []
    for k, v in point.items():
        label = value_label(v, (labels or {}).get(k))
        parts.append(f"{k.rsplit('.', 1)[-1]}={label if label is not None else format_value(v)}")
    return " ".join(parts)


def _apply(base: dict, point: dict[str, Any]) -> dict:
    raw = copy.deepcopy(base)
    for key, value in point.items():
        set_path(raw, key, value)
    return raw


def _unknown_stage(name: Any, known: Any) -> str | None:
    """The message for a stage reference that names no stage, or None when it names one."""
    if isinstance(name, str) and name in known:
        return None
    if not known:
        return f"unknown stage {name!r}: this sweep declares no `stages:`"
    return f"unknown stage {name!r}; {did_you_mean(name, known)}"


def _stage_order(sweep: Sweep) -> list[str]:
    """Stages in dependency order; unknown teacher stages and cycles are errors."""
    order: list[str] = []
    state: dict[str, str] = {}

    def parents(name: str) -> list[tuple[str, str]]:
        body = sweep.stages[name]
        found = []
        teacher = body.get("teacher")
        if isinstance(teacher, dict) and teacher.get("run") is not None:
            found.append((teacher["run"], "teacher.run"))
        init = (body.get("student") or {}).get("init") if isinstance(body.get("student"), dict) else None
        if isinstance(init, dict) and init.get("run") is not None:
            found.append((init["run"], "student.init.run"))
        return found

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join([*path[path.index(name):], name])
            raise UserError(f"stage cycle: {cycle}", where=f"stages.{name}.teacher.run")
        state[name] = "visiting"
        for parent, key in parents(name):
            message = _unknown_stage(parent, sweep.stages)
            if message:
                raise UserError(message, where=f"stages.{name}.{key}")
            visit(parent, [*path, name])
        state[name] = "done"
        order.append(name)

    for name in sweep.stages:
        visit(name, [])
    return order


def _check_teacher_stage(raw: dict, where: str, stage_names: list[str]) -> None:
    """A `teacher: {run: ...}` must name a stage even when no loss term uses the teacher (which
    resolving then drops): a typo there is a mistake today and a wrong teacher tomorrow."""
    teacher = raw.get("teacher")
    if isinstance(teacher, dict) and teacher.get("run") is not None:
        message = _unknown_stage(teacher["run"], stage_names)
        if message:
            raise UserError(message, where=f"{where}: teacher.run")


def _resolve(raw: dict, where: str, stage_runs: dict[str, PlannedRun], stage_names: list[str],
             layers: list[Layer]) -> dict:
    _check_teacher_stage(raw, where, stage_names)
    try:
        config = resolve_run_config(raw)
    except UserError as exc:  # named where the user wrote the key (base, -o, the stage or point)
        raise UserError(exc.message, where=blame(exc.where, layers, where)) from None
    teacher = config.get("teacher")
    if teacher and teacher.get("run") is not None:
        name = teacher["run"]
        message = _unknown_stage(name, stage_names)
        if message:
            raise UserError(message, where=f"{where}: teacher.run")
        stage_model = stage_runs[name].config["student"]
        for k in TEACHER_MODEL_KEYS:
            teacher[k] = copy.deepcopy(stage_model[k])
        if teacher["num_classes"] is None:
            teacher["num_classes"] = stage_runs[name].config["data"].get("num_classes")
        teacher["key"] = stage_runs[name].key
        if stage_runs[name].given:  # the file stands in for the stage: a checkpoint teacher, nothing to wait for
            teacher.update(run=None, key=None, checkpoint=stage_runs[name].given)
    init = config["student"].get("init")
    if isinstance(init, dict) and init.get("run") is not None:
        name = init["run"]
        message = _unknown_stage(name, stage_names)
        if message:
            raise UserError(message, where=f"{where}: student.init.run")
        init["key"] = stage_runs[name].key
        init.setdefault("checkpoint", None)
        if stage_runs[name].given:
            init.update(run=None, key=None, checkpoint=stage_runs[name].given)
    elif init is not None and not (isinstance(init, dict) and init.get("checkpoint")):
        raise UserError("expected {checkpoint: <path>} or {run: <stage>}", where=f"{where}: student.init")
    return config


def dependencies(config: dict) -> list[str]:
    """Run keys whose best checkpoint this run needs: its teacher stage and its init stage."""
    keys = []
    teacher = config.get("teacher")
    if teacher and teacher.get("key"):
        keys.append(teacher["key"])
    init = config["student"].get("init")
    if isinstance(init, dict) and init.get("key") and init["key"] not in keys:
        keys.append(init["key"])
    return keys


def group_signature(config: dict) -> str:
    """Runs with the same signature can train in one process over one data pipeline
    (the rule: `spec.groups`)."""
    return digest(shared_part(config), 12)


def _unused_teacher(raw: dict, config: dict) -> bool:
    """The run was given a teacher that none of its loss terms uses (resolving dropped it)."""
    return bool(raw.get("teacher")) and not config.get("teacher")


def build_plan(sweep: Sweep, *, fuse: bool = True) -> Plan:
    stage_runs: dict[str, PlannedRun] = {}
    runs: list[PlannedRun] = []
    seen: dict[str, PlannedRun] = {}
    warnings: list[str] = []
    order = _stage_order(sweep)
    inherited = merge_stage(sweep.base, {})
    for name in order:
        given_file = sweep.stages[name].get(GIVEN)  # `-o stages.<name>.checkpoint=FILE`
        if given_file is not None and (not isinstance(given_file, str) or not given_file):
            raise UserError(f"expected the path of the stage's weights file, got {given_file!r}",
                            where=f"stages.{name}.{GIVEN}")
        raw = merge_stage(sweep.base, {k: v for k, v in sweep.stages[name].items() if k != GIVEN})
        stage_overrides = {k: v for k, v in sweep.overrides.items() if not student_only(k)}
        # `-o epochs=1` means every run, stages too, except what a stage never inherits. A section
        # the override replaced in base, and the stage does not write, is the override's here too.
        replacing = tuple(k for k, v in stage_overrides.items() if assign(raw, k, v) or (
            k in sweep.replacing and not has_path(sweep.stages[name], k.rpartition(".")[0])))
        layers = [Layer("base", tree=inherited), Layer(f"stages.{name}", tree=sweep.stages[name]),
                  Layer("-o", keys=tuple(stage_overrides), replacing=replacing)]
        config = _resolve(raw, f"stages.{name}", stage_runs, order, layers)
        if _unused_teacher(raw, config):
            warnings.append(f"{sweep.path}: stages.{name}.teacher: no loss term of this stage uses the teacher, "
                            f"so it is ignored; add a distillation term (e.g. loss.kd) or remove `teacher:`")
        key = run_key(config)
        if given_file is not None:  # not planned as a run: the stage's config only names the model the file holds
            stage_runs[name] = PlannedRun(key=key, config=config, stage=name, name=name, given=given_file)
            continue
        if key in seen:  # two stages that train the same thing are one run
            stage_runs[name] = seen[key]
            continue
        depends = dependencies(config)
        run = PlannedRun(key=key, config=config, stage=name, depends_on=depends, name=name)
        stage_runs[name] = run
        seen[key] = run
        runs.append(run)

    # A search alone trains only its stages up front; its trials are planned as Optuna asks for them.
    search_only = sweep.search is not None and not (sweep.grid or sweep.zips or sweep.points)
    axes = [] if search_only else axis_names(sweep)
    points = [] if search_only else expand_points(sweep)
    given = used = 0  # points with a teacher, points whose loss terms use it
    for i, point in enumerate(points):
        # Name parts in one order in every run (an explicit point may list its keys in another).
        point = {k: point[k] for k in sorted(point, key=lambda k: axes.index(k) if k in axes else len(axes))}
        where = f"point {run_name(point)}" if point else "base"
        if i and not point:
            where = f"points[{i}]"
        layers = [Layer("base", tree=sweep.base), override_layer(sweep), Layer(where, keys=tuple(point))]
        raw = _apply(sweep.base, point)
        config = _resolve(raw, where, stage_runs, order, layers)
        given += bool(raw.get("teacher"))
        used += bool(config.get("teacher"))
        key = run_key(config)
        if key in seen:  # the same run named twice (or equal to a stage) is planned once
            if not seen[key].point and point:
                seen[key].point = dict(point)
            continue
        depends = dependencies(config)
        run = PlannedRun(key=key, config=config, point=dict(point), depends_on=depends,
                         name=run_name(point, sweep.labels))
        seen[key] = run
        runs.append(run)

    if given and not used:  # a baseline point without KD beside KD points is intended; none using it is not
        warnings.append(f"{sweep.path}: teacher: no loss term of any run uses the teacher, so it is ignored; "
                        f"add a distillation term (e.g. loss.kd) or remove `teacher:`")
    _assign_groups(runs, fuse=fuse)
    return Plan(sweep=sweep, runs=runs, axes=axes, stages=stage_runs, warnings=warnings)


def _assign_groups(runs: list[PlannedRun], *, fuse: bool) -> None:
    ids: dict[str, str] = {}
    for run in runs:
        signature = group_signature(run.config) if fuse else run.key
        if signature not in ids:
            ids[signature] = f"g{len(ids) + 1:02d}"
        run.group = ids[signature]
