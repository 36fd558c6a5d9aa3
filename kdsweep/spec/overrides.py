"""`-o KEY=VALUE` overrides: which part of the sweep file each one changes, and where its errors point.

A key whose first part is one of `FILE_KEYS` changes that part of the file for one call:

    -o name=digits_try2                 the sweep's name (its MLflow experiment)
    -o seeds=[0]                        the seeds every point is replicated over
    -o grid.loss.kd.T=[1,2]             an axis' values (the axis key keeps its dots; the axis must exist)
    -o search.trials=6                  any key of the search block: parallel, sampler_seed,
    -o search.space.loss.kd.T={float: [1, 4]}     a dimension of the space (null removes it), ...
    -o stages.big.checkpoint=teacher.pth  a stage given as a weights file: not trained, its students load it

Every other key is a run-config key (`epochs`, `data.root`, `schedule.name`): it applies to
`base`, and to every stage as the plan says (plan/build.py). The rest of the file (tables,
labels, points, zip, extends, a stage's body) is the file's to say: overriding it is refused, in one
line naming the override. Errors in an overridden value name the override (`-o search.trials`),
not the file's key it replaced.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.dotted import set_path

FILE_KEYS = ("name", "seeds", "grid", "search", "stages")  # top-level keys of the sweep file that take -o
WHAT_TAKES_O = "base keys (-o epochs=1), name, seeds, grid.<axis>, search.<key> and stages.<stage>.checkpoint"
GIVEN = "checkpoint"  # the one key -o sets in a stage: its weights file, given instead of training it


def parse_override(text: str) -> tuple[str, Any]:
    """`key.path=value`, the value read as YAML (so `epochs=1` is an int, `x=[1,2]` a list)."""
    if "=" not in text:
        raise UserError(f"-o {text!r}: expected KEY=VALUE, e.g. -o epochs=1 -o data.root=/data")
    key, _, value = text.partition("=")
    key = _check_key(key.strip(), text)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        raise UserError(f"-o {text!r}: the value is not valid YAML; quote it") from None
    return key, parsed


def _check_key(key: str, text: str) -> str:
    if not key or any(not part for part in key.split(".")) or " " in key:
        raise UserError(f"-o {text!r}: {key!r} is not a dotted key path like data.root")
    return key


def parse_overrides(overrides: Iterable[str] | Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """`["epochs=1", ...]` as the CLI gives them (values read as YAML), or `{"epochs": 1}` from Python."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return [(_check_key(str(k).strip(), f"{k}={v!r}"), copy.deepcopy(v)) for k, v in overrides.items()]
    if isinstance(overrides, str):
        raise UserError(f"overrides: expected a list of KEY=VALUE texts or a mapping, got the text {overrides!r}")
    return [parse_override(o) for o in overrides]


def override_texts(overrides: Iterable[str] | Mapping[str, Any] | None) -> tuple[str, ...]:
    """The overrides as `-o` texts: as given on the command line, or `key=<value as YAML>` from Python."""
    if isinstance(overrides, Mapping):
        return tuple(f"{k}={yaml.safe_dump(v, default_flow_style=True, width=10**6).strip().removesuffix('...').strip()}"
                     for k, v in overrides.items())
    return tuple(str(o) for o in overrides or ())


@dataclass
class Routed:
    """The sweep file's tree with the file-level overrides applied, and the run-config ones apart."""

    tree: dict
    base: dict[str, Any] = field(default_factory=dict)  # run-config key -> value, in the order given
    file: dict[str, Any] = field(default_factory=dict)  # file-level key as written -> value

    def origin(self, where: str | None) -> str | None:
        return file_origin(where, self.file)


def file_origin(where: str | None, keys: Iterable[str]) -> str | None:
    """`-o <key>` when an error at `where` (a file key path, `search.space.loss.kd.T.float`) lies in
    what one of the file-level overrides `keys` wrote (the last one that did); else None."""
    if not where:
        return None
    for key in reversed(list(keys)):
        if where == key or where.startswith((key + ".", key + "[")):
            return f"-o {key}"
    return None


def route(pairs: list[tuple[str, Any]], tree: dict, top_level: tuple[str, ...]) -> Routed:
    """Apply file-level overrides to a copy of `tree`; collect the run-config ones for `base`."""
    out = Routed(tree=copy.deepcopy(tree))
    for key, value in pairs:
        head, _, rest = key.partition(".")
        if head not in top_level:
            out.base[key] = value
            continue
        if head not in FILE_KEYS:
            hint = f"write base keys without `base.`: -o {rest}=..." if head == "base" and rest else \
                f"it is the file's to say; -o reaches {WHAT_TAKES_O}"
            raise UserError(f"{head} takes no -o: {hint}", where=f"-o {key}")
        _apply(out.tree, head, rest, value, key)
        out.file[key] = value
    return out


def _apply(tree: dict, head: str, rest: str, value: Any, key: str) -> None:
    where = f"-o {key}"
    if head in ("name", "seeds"):
        if rest:
            raise UserError(f"{head} is one value: -o {head}=...", where=where)
        tree[head] = value
        return
    block = tree.get(head)
    if not rest:
        raise UserError(f"name one key of the {head} block: -o {head}.<key>=...", where=where)
    if not isinstance(block, dict):
        raise UserError(f"this sweep has no {head}: block to change (add it to the file)", where=where)
    if head == "stages":
        stage, _, inner = rest.partition(".")
        if stage not in block:
            raise UserError(f"{stage!r} is not a stage of this sweep ({did_you_mean(stage, block)})", where=where)
        if inner != GIVEN:
            raise UserError(f"a stage takes one -o: stages.{stage}.{GIVEN}=<weights file>, given instead of "
                            "training the stage; the rest of a stage is the file's to say", where=where)
        block[stage] = {**block[stage], GIVEN: value}
        return
    if head == "grid":
        if rest not in block:
            raise UserError(f"{rest!r} is not a grid axis of this sweep ({did_you_mean(rest, block)}); "
                            "a new axis belongs in the file", where=where)
        block[rest] = value
        return
    space_key = rest.removeprefix("space.")
    if space_key != rest:  # a dimension's key keeps its dots
        space = block.setdefault("space", {})
        if not isinstance(space, dict):
            raise UserError("the search block's space: is not a mapping", where=where)
        if value is None:
            space.pop(space_key, None)
        else:
            space[space_key] = value
        return
    set_path(block, rest, value)


def name_override(exc: UserError, routed: Routed | None) -> UserError:
    """The error itself, or the same message named after the -o override that wrote its key."""
    origin = routed.origin(exc.where) if routed is not None else None
    return UserError(exc.message, where=origin) if origin else exc
