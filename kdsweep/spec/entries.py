"""Registry entries: what the plan knows about a component without importing it (or torch).

A component (a loss term, a schedule, an optimiser) is one file in the engine that owns
everything about it: its torch implementation and, at the top, a torch-free *spec block*:

    from kdsweep.spec.entries import LossEntry          # spec-block imports: kdsweep.spec,
    from kdsweep.spec.options import Options, option    # dataclasses, typing, __future__

    @dataclass
    class KDOptions(Options):                           # classes that derive from an *Options
        T: float = option(4.0, low=0, low_open=True)

    ENTRY = LossEntry("kd", KDOptions, impl="HintonKD", needs_teacher=True)   # ENTRY / ENTRIES

The plan reads those statements from the file's syntax tree (`ast`) and runs only them, so
`kdsweep plan` never imports torch; the engine imports the implementation (`impl`, a name
in the same file, or "module:attr") when it builds the component. Adding a loss term is one
new file in `kdsweep/engine/losses/`: nothing else lists it. (timm's `_registry.py` attaches
metadata at registration; here the registration is the spec block.)
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
import sys
import threading
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.options import Options

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the kdsweep package
SPEC_IMPORTS = ("__future__", "dataclasses", "typing", "collections", "math", "kdsweep.spec", "kdsweep.errors")
ENTRY_NAMES = ("ENTRY", "ENTRIES")


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered name: its options and where its implementation lives."""

    name: str
    options: type[Options]
    impl: str  # "attr" in the declaring module, or "package.module:attr"
    module: str = ""  # the declaring module, filled by discovery

    @property
    def target(self) -> str:
        return self.impl if ":" in self.impl else f"{self.module}:{self.impl}"

    def load(self) -> Any:
        """The implementation (imports the engine module, and torch with it)."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def parse(self, raw: Any, where: str) -> Options:
        return self.options.parse(raw, where)


@dataclasses.dataclass(frozen=True)
class LossEntry(Entry):
    """A loss term. All its options may differ between runs of a fused group: they only
    change what each student computes from the shared batch and teacher outputs."""

    needs_teacher: bool = False
    # The option that says how the teacher runs (eval / train mode); the teacher is shared
    # by a group, so this one option must agree inside it. None: always eval.
    teacher_mode_option: str | None = None
    # The weight the hard-label `ce` term takes beside this one when the sweep leaves it
    # open (kd: 1 - alpha; refinery: 0); None: ce keeps weight 1.
    ce_weight: Callable[[dict[str, Any]], float] | None = None
    # The term reads only the logits and labels (no hooked features, no parameters or buffers of
    # its own, no random draws), so students of one architecture can train as one batched model
    # and compute it on their own slice of the logits (spec/fuse.py, engine/student_block.py).
    batched: bool = False

    def teacher_mode(self, opts: dict[str, Any]) -> str:
        return str(opts.get(self.teacher_mode_option, "eval")) if self.teacher_mode_option else "eval"


@dataclasses.dataclass(frozen=True)
class ScheduleEntry(Entry):
    """A learning-rate schedule; `impl` is a factor builder `(opts, epochs=, iters_per_epoch=, where=)`."""


@dataclasses.dataclass(frozen=True)
class OptimizerEntry(Entry):
    """An optimiser; `impl` builds it from `(param groups, options, where)`. `fusable`: options
    that may differ between the runs of one fused group (each student has its own optimiser)."""

    fusable: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class HeadEntry(Entry):
    """A classifier head that replaces a model's last Linear (`student.head: {name: ..., <option>: ...}`);
    `impl` is the module class, built as `impl(in_features, num_classes, **options)`."""


class EntryTable:
    """The entries of one kind, discovered from spec blocks in engine files, with did-you-mean."""

    def __init__(self, kind: str, sources: Callable[[], list[Path]]):
        self.kind = kind
        self._sources = sources
        self._entries: dict[str, Entry] | None = None
        self._lock = threading.Lock()

    @property
    def entries(self) -> dict[str, Entry]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    self._entries = self._discover()
        return self._entries

    def _discover(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for path in self._sources():
            for entry in read_spec_block(path):
                if entry.name in found:
                    raise ValueError(f"{self.kind} {entry.name!r} registered twice ({path})")
                found[entry.name] = entry
        return found  # file order, then declaration order: how error messages list the names

    def known(self) -> list[str]:
        return list(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def get(self, name: Any, *, where: str | None = None) -> Any:
        if isinstance(name, str) and name in self.entries:
            return _imported(self.entries[name])
        raise UserError(f"unknown {self.kind} {name!r}; {did_you_mean(name, self.known())}", where=where)


def _imported(entry: Entry) -> Entry:
    """The entry as its module declares it, once that module is imported (the engine's side): so the
    options it parses are instances of the module's own Options class, not of the spec block's copy
    that the plan ran without torch. Before the import (the plan's side), the spec block's entry."""
    module = sys.modules.get(entry.module)
    declared = getattr(module, "ENTRIES", None) or [getattr(module, "ENTRY", None)] if module else []
    for real in declared:
        if isinstance(real, Entry) and real.name == entry.name:
            return dataclasses.replace(real, module=entry.module)
    return entry


def module_name(path: Path) -> str:
    """The module a file is imported as: dotted under the package, else its stem (on sys.path)."""
    try:
        rel = path.resolve().relative_to(PACKAGE_ROOT.parent).with_suffix("")
    except ValueError:
        return path.stem
    return ".".join(rel.parts)


def _is_spec_node(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return bool(node.module) and node.level == 0 and node.module.startswith(SPEC_IMPORTS)
    if isinstance(node, ast.Import):
        return all(alias.name.startswith(SPEC_IMPORTS) for alias in node.names)
    if isinstance(node, ast.ClassDef):
        return any(isinstance(b, ast.Name) and b.id.endswith("Options") for b in node.bases)
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Name) and t.id in ENTRY_NAMES for t in targets)
    return False


def read_spec_block(path: Path) -> list[Entry]:
    """The entries a file declares, by running only its spec block (no torch is imported)."""
    name = module_name(path)
    text = path.read_text()
    found = re.search(r"^(ENTRY|ENTRIES)\b", text, flags=re.MULTILINE)
    if found is None:  # a helper module (base, maps): nothing to read
        return []
    # The spec block sits above the implementation: parsing only the head, up to the blank line
    # after ENTRY, keeps `kdsweep plan` fast. A head that does not parse alone: the whole file.
    end = text.find("\n\n", found.start())
    try:
        tree = ast.parse(text[:end] if end > 0 else text, filename=str(path))
    except SyntaxError:
        tree = ast.parse(text, filename=str(path))
    block = ast.Module(body=[n for n in tree.body if _is_spec_node(n)], type_ignores=[])
    # Run in a module of its own (dataclasses look their module up), named apart from the real one.
    spec_module = types.ModuleType(f"kdsweep.spec.block[{name}]")
    spec_module.__file__ = str(path)
    sys.modules[spec_module.__name__] = spec_module
    namespace = spec_module.__dict__
    try:
        exec(compile(block, str(path), "exec"), namespace)
    except Exception as exc:  # a developer's mistake in a component file, not a user's
        raise RuntimeError(f"{path}: its spec block (the imports from kdsweep.spec, the *Options classes and "
                           f"ENTRY) cannot run on its own: {type(exc).__name__}: {exc}") from exc
    declared = namespace.get("ENTRIES") or ([namespace["ENTRY"]] if "ENTRY" in namespace else [])
    return [dataclasses.replace(e, module=name) for e in declared]


def _files(*relative: str) -> Callable[[], list[Path]]:
    """Source files under the package: a folder means every module in it (not `_private` ones)."""
    def sources() -> list[Path]:
        out: list[Path] = []
        for rel in relative:
            path = PACKAGE_ROOT / rel
            out.extend(sorted(p for p in path.glob("*.py") if not p.name.startswith("_")) if path.is_dir()
                       else [path])
        return out

    return sources


LOSSES = EntryTable("loss term", _files("engine/losses"))
SCHEDULES = EntryTable("schedule", _files("engine/schedules.py"))
OPTIMIZERS = EntryTable("optimizer", _files("engine/optim.py"))
HEADS = EntryTable("head", _files("engine/models/heads.py"))
DEFAULT_HEAD = "cosine"  # `head: {s: 5}` without a name
