"""What data a run saw, cheaply: a digest per split, of file names and sizes or of how data was made.

`data.root` is rightly not in the run key (the same data may live anywhere), so without this
nothing would tell a run trained on a partial copy from one trained on the whole set. No image
is read: a data set in files is its files' relative paths and sizes under `data.root` (one stat
each), grouped by the split their path names (`train`, `training`; `val`, `validation`, `test`;
the rest, such as a shared image folder or class index, is `shared`); data made in code, or
fake data of a smoke run, is the parameters it is made from. The worker logs it with the run
(tracking/logger.py: MLflow's Datasets and the `kdsweep.data` tag); the driver compares it
before skipping a finished run (execute/data_check.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kdsweep.engine.data.registry import DATASETS

SPLITS = (("train", re.compile(r"(^|[^a-z])(train|training)([^a-z]|$)")),
          ("val", re.compile(r"(^|[^a-z])(val|valid|validation|test)([^a-z]|$)")))
SHARED = "shared"
MADE_FROM = ("name", "fake", "input_size", "num_classes", "limit", "val_limit", "val_split")  # data made in code


@dataclass(frozen=True)
class SplitPrint:
    """One split's fingerprint: `digest` changes when any of its files (or parameters) does."""

    digest: str
    source: str  # the root directory, or `code`
    files: int = 0
    bytes: int = 0
    made_from: str = ""  # data made in code: its parameters as JSON

    def describe(self) -> str:
        if self.made_from:
            return f"made in code from {self.made_from}"
        return f"{self.files} files, {self.bytes / 1e6:.1f} MB"


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def split_of(relative: str) -> str:
    """The split a file's path (relative to the root) names, by its folders or file name; else `shared`."""
    parts = relative.lower().split("/")
    for split, pattern in SPLITS:
        if any(pattern.search(p) for p in parts):
            return split
    return SHARED


def _files(root: Path) -> dict[str, SplitPrint]:
    lines: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            try:
                size = path.stat().st_size
            except OSError:  # a broken link: its name still counts
                size = -1
            split = split_of(relative)
            lines.setdefault(split, []).append(f"{relative}\t{size}")
            sizes[split] = sizes.get(split, 0) + max(size, 0)
    return {split: SplitPrint(_digest(found), str(root), len(found), sizes[split]) for split, found in
            sorted(lines.items())}


def fingerprint(data: dict[str, Any]) -> dict[str, SplitPrint]:
    """{split: SplitPrint} of a run's resolved `data` section, as it is on this machine now."""
    entry = DATASETS.get(data["name"], where="data.name")
    root = data.get("root")
    if data.get("fake") or not entry.needs_root or not root:
        made = {k: data.get(k) for k in MADE_FROM}
        text = json.dumps(made, sort_keys=True, default=str)
        return {split: SplitPrint(_digest([split, text]), "code", made_from=text) for split in ("train", "val")}
    return _files(Path(root).expanduser())


def as_json(prints: dict[str, SplitPrint]) -> str:
    """The `kdsweep.data` tag: {split: digest}, compact."""
    return json.dumps({split: p.digest for split, p in prints.items()}, sort_keys=True, separators=(",", ":"))


def as_dicts(prints: dict[str, SplitPrint]) -> dict[str, dict[str, Any]]:
    return {split: asdict(p) for split, p in prints.items()}
