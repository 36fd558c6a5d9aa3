"""Every key a sweep file takes, generated from the declarations: `kdsweep keys [PREFIX]` and docs/keys.md.

Nothing here is written by hand: the run keys and their defaults come from `spec.defaults`
(their descriptions from the comments beside them), each optimiser's, schedule's and loss
term's options from its entry (defaults, bounds, choices; descriptions from the comments in the
Options class), models with their constructor arguments and data sets with their metadata from
the registration decorators, transforms from torchvision's source. A test regenerates
docs/keys.md and fails when the committed file is stale. No torch is imported.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from kdsweep.spec import defaults as run_defaults
from kdsweep.spec import names
from kdsweep.spec.entries import HEADS, LOSSES, OPTIMIZERS, PACKAGE_ROOT, SCHEDULES, Entry, EntryTable
from kdsweep.spec.load import TOP_LEVEL_KEYS
from kdsweep.spec.options import REQUIRED
from kdsweep.spec.transform_names import torchvision_transforms

# What each top-level key of a sweep file holds (spec/load.py owns the list; a test checks both agree).
TOP_LEVEL_HELP = {
    "name": "required; the MLflow experiment name",
    "description": "free text",
    "extends": "a base file, relative to this one, deep-merged under it",
    "base": "the run config every point starts from (the run keys below)",
    "stages": "runs other runs need first, by name (teachers, refinery chains): {name: run-config overrides}; "
              "`checkpoint: <file>` in one (or -o stages.<name>.checkpoint=<file>) gives it: not trained",
    "grid": "cartesian product over dotted run keys: {key: [values]}",
    "zip": "axes that vary together (equal lengths): {key: [values]}",
    "points": "explicit extra points, added to the grid: [{key: value}]",
    "seeds": "replicate every point: [0, 1, 2]",
    "labels": "names for an axis's values in run names and tables: {key: [names]} or {key: {value: name}}",
    "tables": "what `kdsweep table` prints (README, Tables)",
    "search": "an Optuna search instead of (or beside) the grid (README, Search)",
}


@dataclass(frozen=True)
class KeyDoc:
    """One line of the reference: a dotted key, its default, its rule and what it is for."""

    key: str
    default: str = ""
    rule: str = ""
    help: str = ""


@cache
def _comments(path: Path) -> dict[int, str]:
    """Line number -> the comment on that line of a source file."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def _shown(value: Any) -> str:
    if value == REQUIRED:
        return "required"
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value).replace("'", "")


def _dict_lines(node: ast.Dict, prefix: str) -> Iterator[tuple[str, int]]:
    for k, v in zip(node.keys, node.values, strict=True):
        if isinstance(k, ast.Constant) and isinstance(k.value, str):
            yield f"{prefix}{k.value}", k.lineno
            if isinstance(v, ast.Dict) and v.keys and all(isinstance(x, ast.Constant) for x in v.keys):
                yield from _dict_lines(v, f"{prefix}{k.value}.")


def _flatten(value: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for k, v in value.items():
        if isinstance(v, dict) and v and f"{prefix}{k}" not in run_defaults.FREE_FORM:
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


def run_keys() -> list[KeyDoc]:
    """The run skeleton (`spec.defaults`), with the comments written beside each key as its help."""
    path = Path(run_defaults.__file__)
    tree = ast.parse(path.read_text())
    lines: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            prefix = {"RUN_DEFAULTS": "", "TEACHER_DEFAULTS": "teacher."}.get(getattr(target, "id", ""))
            if prefix is not None:
                lines.update(_dict_lines(node.value, prefix))
    comments = _comments(path)
    skeleton = {k: v for k, v in run_defaults.RUN_DEFAULTS.items() if k not in ("optim", "schedule", "loss")}
    flat = dict(_flatten(skeleton))
    flat.update((f"teacher.{k}", v) for k, v in run_defaults.TEACHER_DEFAULTS.items())
    flat.pop("teacher", None)
    docs = []
    for key, value in flat.items():
        rule = []
        if key in run_defaults.CHOICES:
            rule.append(" | ".join(run_defaults.CHOICES[key]))
        if key in run_defaults.NON_RESULT_KEYS:
            rule.append("not in the run key")
        if key in run_defaults.FUSABLE:
            rule.append("may differ inside a fused group")
        docs.append(KeyDoc(key, _shown(value), "; ".join(rule), comments.get(lines.get(key, -1), "")))
    docs += [KeyDoc("teacher", "null", "", "none, {run: <stage>} or {arch: ..., checkpoint: <file>}; its keys above"),
             KeyDoc("optim", "", "", "the optimiser as a whole sub-config {name: ..., <option>: ...}"),
             KeyDoc("schedule", "", "", "the lr schedule as a whole sub-config {name: ..., <option>: ...}"),
             KeyDoc("optim.name", repr(run_defaults.DEFAULT_OPTIMIZER), " | ".join(OPTIMIZERS.known()),
                    "the optimiser; its options below"),
             KeyDoc("schedule.name", "'constant'", " | ".join(SCHEDULES.known()), "the lr schedule; its options below"),
             KeyDoc("loss", "{ce: {}}", "", "loss terms by name: {term: {options}}; each term's options below")]
    return docs


def _rule(f: dataclasses.Field) -> str:
    meta = f.metadata
    parts = []
    if meta.get("choices"):
        parts.append(" | ".join(map(str, meta["choices"])))
    if meta.get("low") is not None:
        parts.append(f"{'>' if meta['low_open'] else '>='} {meta['low']:g}")
    if meta.get("high") is not None:
        parts.append(f"{'<' if meta['high_open'] else '<='} {meta['high']:g}")
    if meta.get("integer"):
        parts.append("integer")
    return ", ".join(parts)


def _option_comments(entry: Entry) -> dict[str, str]:
    path = PACKAGE_ROOT.parent.joinpath(*entry.module.split(".")).with_suffix(".py")
    if not path.is_file():
        return {}
    comments = _comments(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef) and node.name == entry.options.__name__:
            return {n.target.id: comments.get(n.lineno, "") for n in node.body
                    if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    return {}


def component_keys(table: EntryTable, prefix: str) -> list[KeyDoc]:
    """`<prefix>.<option>` for each entry of a kind (loss.kd.T, schedule.multistep.milestones, ...)."""
    docs = []
    for name in table.known():
        entry = table.get(name)
        helps = _option_comments(entry)
        docs.append(KeyDoc(f"{prefix}.{name}", "", "", (entry.options.__doc__ or "").strip().split("\n")[0]
                           if entry.options.__doc__ and "(" not in entry.options.__doc__[:40] else ""))
        for f in dataclasses.fields(entry.options):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            docs.append(KeyDoc(f"{prefix}.{name}.{f.name}", _shown(default), _rule(f), helps.get(f.name, "")))
    return docs


def model_keys() -> list[KeyDoc]:
    """`student.arch` values of kdsweep's own, with the `kwargs` each takes."""
    docs = []
    mdistillers = {ours: key for key, ours in names.mdistiller_models().items()}
    for name, sig in sorted(names.kdsweep_model_signatures().items()):
        args = [p for p in sig.params if p != "num_classes"] + (["**"] if sig.any_keyword else [])
        what = f"mdistiller's {mdistillers[name]} (CIFAR, 32x32)" if name in mdistillers else ""
        docs.append(KeyDoc(f"arch: {name}", "", f"kwargs: {', '.join(args)}" if args else "no kwargs", what))
    docs.append(KeyDoc("arch: <torchvision model>", "", "kwargs: the builder's",
                       f"any of torchvision's {len(names.torchvision_models())} classification models, from scratch"))
    return docs


def dataset_keys() -> list[KeyDoc]:
    docs = []
    for name, meta in sorted(names.dataset_metadata().items()):
        shown = ", ".join(f"{k} {v}" for k, v in meta.items() if v is not None and k != "classes_from_config")
        rule = "data.num_classes sets its classes" if meta.get("classes_from_config") else ""
        docs.append(KeyDoc(f"name: {name}", "", rule, shown))
    return docs


def transform_keys() -> list[KeyDoc]:
    return [KeyDoc(f"{name}", "", ", ".join(sig.params) or "no arguments", "")
            for name, sig in torchvision_transforms().items()]


def sections() -> list[tuple[str, str, list[KeyDoc]]]:
    """(title, what the keys are, lines) in the order the reference prints them."""
    return [
        ("Sweep file", "top-level keys", [KeyDoc(k, "", "", TOP_LEVEL_HELP.get(k, "")) for k in TOP_LEVEL_KEYS]),
        ("Run keys", "under base:, a stage, a grid axis or -o", run_keys()),
        ("Optimisers", "optim: {name: <name>, <option>: ...}", component_keys(OPTIMIZERS, "optim")),
        ("Schedules", "schedule: {name: <name>, <option>: ...}", component_keys(SCHEDULES, "schedule")),
        ("Loss terms", "loss: {<term>: {<option>: ...}}", component_keys(LOSSES, "loss")),
        ("Heads", "student.head / teacher.head: {name: <name>, <option>: ...}", component_keys(HEADS, "head")),
        ("Models", "student.arch / teacher.arch, with student.kwargs", model_keys()),
        ("Data sets", "data.name", dataset_keys()),
        ("Transforms", "data.train_transforms / val_transforms / copies: [{name: <name>, <arg>: ...}]",
         transform_keys()),
    ]


def render_text(prefix: str = "") -> str:
    """What `kdsweep keys [PREFIX]` prints: the lines whose key starts with PREFIX."""
    out = []
    for title, what, docs in sections():
        shown = [d for d in docs if d.key.startswith(prefix) or title.lower().startswith(prefix.lower())]
        if not shown:
            continue
        out.append(f"{title} ({what})")
        width = max(len(d.key) for d in shown) + 2
        for d in shown:
            extra = "  ".join(x for x in (f"= {d.default}" if d.default else "", f"[{d.rule}]" if d.rule else "",
                                          f"# {d.help}" if d.help else "") if x)
            out.append(f"  {d.key:<{width}}{extra}".rstrip())
        out.append("")
    return "\n".join(out)


def render_markdown() -> str:
    """docs/keys.md."""
    out = ["# Every key a sweep takes", "",
           "Generated by `kdsweep keys --markdown > docs/keys.md` from the declarations (defaults, entries,",
           "registrations, torchvision's source); tests/spec/test_key_reference.py fails when it is stale.", ""]
    for title, what, docs in sections():
        out += [f"## {title}", "", f"{what}", "", "| key | default | rule | what |", "|---|---|---|---|"]
        out += [f"| `{d.key}` | {_cell(d.default)} | {_cell(d.rule)} | {_cell(d.help)} |" for d in docs]
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else ""
