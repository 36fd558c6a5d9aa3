"""Checks that need no training: names and files a user can get wrong, before any job starts.

A typo in an architecture name or a data path should cost one second and one line, not a
night of failed runs; and nothing is created in MLflow until these pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kdsweep.errors import UserError
from kdsweep.plan import Plan
from kdsweep.spec.names import datasets_taking_num_classes, unknown_model


def preflight(plan: Plan, *, local: bool = True) -> None:
    """Raise UserError naming the sweep, the run and the key; file checks only on a local cluster."""
    from kdsweep.engine.data import DATASETS
    from kdsweep.engine.models.zoo import all_model_names

    models = set(all_model_names())

    def check_arch(arch: str, where: str) -> None:
        if arch not in models:
            raise UserError(unknown_model(arch, models), where=where)

    sweep = str(plan.sweep.path)
    checked: set[tuple[str, str]] = set()
    checked_fits: set[str] = set()
    for run in plan.runs:
        where = f"{sweep}: {'stage ' + run.stage if run.stage else run.name}"
        cfg = run.config
        check_arch(cfg["student"]["arch"], f"{where}: student.arch")
        teacher = cfg.get("teacher")
        if teacher:
            check_arch(teacher["arch"], f"{where}: teacher.arch")
        dataset = DATASETS.get(cfg["data"]["name"], where=f"{where}: data.name")
        if not local:
            continue
        name, root = cfg["data"]["name"], cfg["data"].get("root")
        if dataset.needs_root and not cfg["data"].get("fake"):  # a smoke run reads no file of the data set
            if not root:
                raise UserError(f"data set {name!r} needs `data.root: <directory>`", where=f"{where}: data.root")
            if not Path(root).expanduser().exists():
                raise UserError(f"{root} does not exist; put the {name} data there or pass -o data.root=<dir> "
                                "(see README, Data)", where=f"{where}: data.root")
            if (name, root) not in checked:  # once per data set and root, however many runs share it
                checked.add((name, root))
                _check_layout(dataset, cfg["data"], where)
        if teacher and teacher.get("checkpoint") and not teacher.get("key"):
            if not Path(teacher["checkpoint"]).expanduser().is_file():
                raise UserError(f"teacher checkpoint {teacher['checkpoint']} not found", where=f"{where}: "
                                "teacher.checkpoint")
            _check_fit(teacher, "teacher", cfg["data"], where, checked_fits)
        init = cfg["student"].get("init")
        if isinstance(init, dict) and init.get("checkpoint") and not init.get("key"):
            if not Path(init["checkpoint"]).expanduser().is_file():
                raise UserError(f"init checkpoint {init['checkpoint']} not found", where=f"{where}: "
                                "student.init.checkpoint")
            _check_fit(cfg["student"], "student", cfg["data"], where, checked_fits)


def _check_fit(model_cfg: dict, role: str, data_cfg: dict, where: str, checked: set[str]) -> None:
    """A teacher checkpoint file must fit its architecture exactly, and a student's `init` file must
    share tensors with it: built and loaded here once per (model, file), as the trainer would, so a
    wrong file stops the sweep now instead of failing every run that uses it after start-up."""
    import json

    from kdsweep.engine.data.build import dataset_info
    from kdsweep.engine.models import build_model, load_weights

    fit = json.dumps([role, model_cfg, data_cfg.get("name"), data_cfg.get("root"), data_cfg.get("num_classes")],
                     sort_keys=True, default=str)
    if fit in checked:
        return
    checked.add(fit)
    classes = (model_cfg.get("num_classes")
               or dataset_info(data_cfg["name"], data_cfg.get("root"), data_cfg.get("num_classes"))["num_classes"])
    if not classes:
        return  # the class count is known only once the data is read: the trainer checks then
    if role == "teacher":
        model = build_model(model_cfg, int(classes), where=f"{where}: teacher")
        try:
            load_weights(model, model_cfg["checkpoint"], strict=True, where=f"{where}: teacher.checkpoint")
        except UserError as exc:
            if not (data_cfg["name"] in datasets_taking_num_classes() and not model_cfg.get("num_classes")):
                raise
            raise UserError(f"{exc.message}; {data_cfg['name']} data has {classes} classes here: set "
                            f"-o data.num_classes=<the checkpoint's> (or run with --smoke, which fakes the real "
                            "data set's classes)", where=exc.where) from None
    else:  # build_model loads `init` (by name and shape; a file matching nothing is an error)
        build_model(model_cfg, int(classes), where=f"{where}: student")


def _check_layout(entry: Any, data_cfg: dict, where: str) -> None:
    """The data set's own layout check (files that must exist, no image read), named for this run."""
    if entry.check is None:
        return
    try:
        entry.check(data_cfg)
    except UserError as exc:
        raise UserError(str(exc), where=where) from None
