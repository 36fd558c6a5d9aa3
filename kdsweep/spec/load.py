"""Read a sweep file: YAML, `extends`, `-o` overrides (spec/overrides.py) and the top-level shape.

Everything a user can get wrong in the file surfaces here or in `resolve`, as one line
naming the file and the key path, before anything is planned or trained.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.dotted import assign, deep_merge
from kdsweep.spec.overrides import Routed, name_override, parse_overrides, route
from kdsweep.spec.search import Search, parse_search
from kdsweep.spec.tables import validate_tables

TOP_LEVEL_KEYS = ("name", "description", "extends", "base", "stages", "grid", "zip", "points", "seeds", "labels",
                  "tables", "search")


@dataclass
class Sweep:
    """A parsed sweep file; `points` and the plan are derived from it by `expand` and `plan`."""

    name: str
    path: Path
    description: str = ""
    base: dict = field(default_factory=dict)
    stages: dict[str, dict] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    zips: list[dict[str, list]] = field(default_factory=list)
    points: list[dict[str, Any]] = field(default_factory=list)
    seeds: list[int] | None = None
    # Names for axis values in run names: {dotted key: [(value, text), ...]}. Written as a list
    # beside the axis' values (`loss.fa: [none, FA, Fast FA]`) or as {value: text}, as tables write it.
    labels: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)
    tables: list[dict] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)  # run-config `-o` keys (applied to base and stages)
    # Run-config overrides that replaced their whole section in base (`schedule.name` -> `schedule`):
    # an error anywhere in that section names the override (plan/origin.py).
    replacing: tuple[str, ...] = ()
    file_overrides: dict[str, Any] = field(default_factory=dict)  # `-o seeds=[0]`, `-o search.trials=6`, ...
    search: Search | None = None  # points picked by Optuna at run time (spec/search.py)
    faked: str | None = None  # "smoke" (--smoke) or "fake" (-o data.name=fake): named apart (plan/smoke.py)
    given: tuple[str, ...] = ()  # the -o overrides as the user gave them: what a printed hint repeats


def _read_yaml(path: Path, *, what: str) -> Any:
    if path.is_dir():
        found = sorted(str(p) for p in path.glob("*.yaml"))[:3]
        hint = f", e.g. {' or '.join(found)}" if found else ""
        raise UserError(f"{what} {str(path)!r} is a directory; give one sweep file{hint}")
    if not path.is_file():
        # A command-line path is relative to where the command runs; `extends` checks its own above.
        raise UserError(f"{what} {str(path)!r} not found (relative paths are relative to the current "
                        f"directory, {Path.cwd()})")
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise UserError(f"not UTF-8 text: {exc.reason} at line {line}", where=str(path)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        position = getattr(exc, "position", None)  # ReaderError (a control character) has no mark
        if mark:
            loc = f"line {mark.line + 1}, column {mark.column + 1}"
        elif isinstance(position, int):
            loc = f"line {text.count(chr(10), 0, position) + 1}"
        else:
            loc = "an unknown place"
        raise UserError(f"YAML syntax error at {loc}: {problem}", where=str(path)) from None


def _load_tree(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The file's mapping with its `extends` chain merged underneath."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise UserError(f"`extends` cycle: {cycle}", where=str(path))
    data = _read_yaml(path, what="extends file" if chain else "sweep file")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping at the top level (name:, base:, grid: ...), got {type(data).__name__}",
                        where=str(path))
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"extends: expected a file path, got {parent!r}", where=str(path))
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise UserError(f"extends: {parent!r} not found (looked at {parent_path}); the path is relative to this file",
                        where=str(path))
    return deep_merge(_load_tree(parent_path, (*chain, resolved)), data)


def _axis_values(where: str, values: Any) -> list:
    if not isinstance(values, list):
        raise UserError(f"expected a list of values, got {values!r}", where=where)
    if not values:
        raise UserError("empty list: an axis needs at least one value", where=where)
    return values


def load_sweep(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] | None = None) -> Sweep:
    """Parse and shape-check a sweep file; raises UserError with the file and key path.

    `overrides`: `["epochs=1", "seeds=[0]"]` as `-o` gives them, or `{"epochs": 1}` (spec/overrides.py).
    """
    path = Path(path)
    tree = _load_tree(path)
    where = str(path)
    routed: Routed | None = None
    try:
        routed = route(parse_overrides(overrides), tree, TOP_LEVEL_KEYS)
        return _build(path, routed, file_axes=_raw_axes(tree))
    except UserError as exc:
        exc = name_override(exc, routed)
        if exc.where and exc.where.startswith(where):
            raise exc from None
        raise UserError(str(exc), where=where) from None


def _raw_axes(tree: dict) -> dict[str, Any]:
    """The file's own grid and zip axes (before `-o grid.<axis>`): a list of labels names their values."""
    grid = tree.get("grid") if isinstance(tree.get("grid"), dict) else {}
    groups = tree.get("zip") or []
    groups = [groups] if isinstance(groups, dict) else groups if isinstance(groups, list) else []
    zipped = {str(k): v for g in groups if isinstance(g, dict) for k, v in g.items()}
    return {**{str(k): v for k, v in grid.items()}, **zipped}


def _build(path: Path, routed: Routed, *, file_axes: dict[str, Any]) -> Sweep:
    tree = routed.tree
    for key in tree:
        if key not in TOP_LEVEL_KEYS:
            raise UserError(f"unknown top-level key {key!r}; {did_you_mean(key, TOP_LEVEL_KEYS)}")
    name = tree.get("name")
    if not isinstance(name, str) or not name.strip():
        raise UserError("required, a non-empty string (it names the MLflow experiment)", where="name")
    base = tree.get("base") or {}
    if not isinstance(base, dict):
        raise UserError(f"base: expected a mapping (the run config every point starts from), got {base!r}")
    base = copy.deepcopy(base)
    replacing = tuple(key for key, value in routed.base.items() if assign(base, key, value))

    stages = tree.get("stages") or {}
    if not isinstance(stages, dict):
        raise UserError(f"stages: expected a mapping of stage name -> run config, got {stages!r}")
    for stage, body in stages.items():
        if not isinstance(body, dict):
            raise UserError(f"stages.{stage}: expected a mapping (a run config), got {body!r}")

    grid = tree.get("grid") or {}
    if not isinstance(grid, dict):
        raise UserError(f"grid: expected a mapping of dotted key -> list of values, got {grid!r}")
    grid = {str(k): _axis_values(f"grid.{k}", v) for k, v in grid.items()}

    raw_zip = tree.get("zip") or []
    if isinstance(raw_zip, dict):
        raw_zip = [raw_zip]
    if not isinstance(raw_zip, list):
        raise UserError(f"zip: expected a mapping of dotted key -> list (or a list of such), got {raw_zip!r}")
    zips = []
    for i, group in enumerate(raw_zip):
        if not isinstance(group, dict) or not group:
            raise UserError(f"zip[{i}]: expected a mapping of dotted key -> list of values")
        axes = {str(k): _axis_values(f"zip.{k}", v) for k, v in group.items()}
        lengths = {k: len(v) for k, v in axes.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise UserError(f"zip: axes that vary together need equal lengths; {shown}")
        clash = set(axes) & set(grid)
        if clash:
            raise UserError(f"zip.{sorted(clash)[0]}: also a grid axis; name each axis once")
        zips.append(axes)

    points = tree.get("points") or []
    if not isinstance(points, list):
        raise UserError(f"points: expected a list of mappings (dotted key -> value), got {points!r}")
    for i, point in enumerate(points):
        if not isinstance(point, dict) or not point:
            raise UserError(f"points[{i}]: expected a non-empty mapping of dotted key -> value, got {point!r}")

    seeds = tree.get("seeds")
    if seeds is not None:
        seeds = _axis_values("seeds", seeds)
        for s in seeds:
            if not isinstance(s, int) or isinstance(s, bool):
                raise UserError(f"expected integers, got {s!r}", where="seeds")
        if len(set(seeds)) != len(seeds):
            raise UserError(f"repeated seed in {seeds}", where="seeds")

    description = tree.get("description") or ""
    if not isinstance(description, str):
        raise UserError("description: expected text")
    tables = validate_tables(tree.get("tables"))
    # A list of labels names the file's own values: an axis changed with -o keeps the labels of the
    # values it still has.
    axes = {**grid, **{k: v for group in zips for k, v in group.items()}}
    axes.update({k: v for k, v in file_axes.items() if k in axes and isinstance(v, list)})
    labels = _labels(tree.get("labels"), axes)
    return Sweep(name=name.strip(), path=path, description=description, base=base, stages=dict(stages),
                 grid=grid, zips=zips, points=[dict(p) for p in points], seeds=seeds, labels=labels,
                 tables=tables, overrides=dict(routed.base), replacing=replacing, file_overrides=dict(routed.file),
                 search=parse_search(tree.get("search")))


def _labels(raw: Any, axes: dict[str, list]) -> dict[str, list[tuple[Any, str]]]:
    """`labels:` -> {dotted key: [(value, text)]}; a list names a grid / zip axis' values in order."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UserError(f"labels: expected a mapping of dotted key -> labels, got {raw!r}")
    out: dict[str, list[tuple[Any, str]]] = {}
    for key, names in raw.items():
        key = str(key)
        if isinstance(names, list):
            if key not in axes:
                raise UserError("a list of labels names a grid or zip axis' values in order; "
                                f"{did_you_mean(key, axes) if axes else 'this sweep has no grid'}",
                                where=f"labels.{key}")
            if len(names) != len(axes[key]):
                raise UserError(f"{len(names)} labels for {len(axes[key])} values; give one per value",
                                where=f"labels.{key}")
            out[key] = [(value, str(text)) for value, text in zip(axes[key], names, strict=True)]
        elif isinstance(names, dict):
            out[key] = [(value, str(text)) for value, text in names.items()]
        else:
            raise UserError(f"expected a list (one per axis value) or a mapping {{value: label}}, got {names!r}",
                            where=f"labels.{key}")
    return out
