"""Dotted key paths (`loss.kd.T`) over nested dicts: the one addressing scheme of sweep files.

Grid axes, `-o` overrides, MLflow params and table columns all name a config value by its
dotted path, so these helpers are shared by spec, plan, tracking and report.
"""

from __future__ import annotations

import copy
from typing import Any

_MISSING = object()
RENAMED_REPLACES = ("schedule",)
MODEL_SECTIONS = ("student", "teacher")


def get_path(tree: dict, path: str, default: Any = None) -> Any:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def has_path(tree: dict, path: str) -> bool:
    return get_path(tree, path, _MISSING) is not _MISSING


def set_path(tree: dict, path: str, value: Any) -> None:
    """Set a value; `None` removes the key (a sweep's `null` means "without this")."""
    parts = path.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if value is None:
                return
            child = {}
            node[part] = child
        node = child
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = copy.deepcopy(value)


def replaces(key: str, old: Any, new: Any) -> bool:
    """Whether `new` at section `key` replaces `old` instead of merging into it: a schedule that
    names a different kind (its options belong to the old kind)."""
    return key in RENAMED_REPLACES and isinstance(old, dict) and isinstance(new, dict) and \
        new.get("name", old.get("name")) != old.get("name")


def assign(tree: dict, path: str, value: Any) -> str | None:
    """`set_path` for an override (`-o schedule.name=cosine`), with `deep_merge`'s rules: a new
    schedule name replaces the whole schedule, a new model arch drops the old arch's kwargs.
    Returns the section the value replaced (`schedule`), else None."""
    section, _, leaf = path.rpartition(".")
    old = get_path(tree, section) if section else None
    if value is not None and isinstance(old, dict):
        if replaces(section, old, {leaf: value}):
            set_path(tree, section, {leaf: value})
            return section
        if section in MODEL_SECTIONS and leaf == "arch" and old.get("arch") != value:
            old.pop("kwargs", None)  # constructor options of the old arch
    set_path(tree, path, value)
    return None


def deep_merge(base: dict, over: dict) -> dict:
    """A new dict: `over` merged into `base`, dicts recursively, everything else replaced.

    A schedule that names a different kind (`schedule: {name: constant}` over a cosine one)
    replaces the old one: its options belong to the old kind. Other sections (data, optim)
    keep merging, so a stage can change `data.name` and keep the batch size. A model section
    whose `arch` changes drops the old `kwargs` (they are the old constructor's options) but
    keeps its head, init and freeze settings.
    """
    out = copy.deepcopy(base)
    for key, value in over.items():
        old = out.get(key)
        renamed = replaces(key, old, value)
        if key in MODEL_SECTIONS and isinstance(old, dict) and isinstance(value, dict) and \
                value.get("arch", old.get("arch")) != old.get("arch") and "kwargs" not in value:
            old = {k: v for k, v in old.items() if k != "kwargs"}  # constructor options of the old arch
            out[key] = old
        if isinstance(value, dict) and isinstance(old, dict) and not renamed:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves by dotted path; an empty dict or a list is a leaf."""
    if not isinstance(tree, dict) or (not tree and prefix):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out
