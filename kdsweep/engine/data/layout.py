"""Finding a data set on disk, and saying exactly what is missing when it is not there.

Nothing is downloaded at run time (the machines that train may have no internet): a
missing path fails before training with the layout expected and where to get it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError


def missing(path: Any, dataset: str, layout: str, source: str) -> UserError:
    message = f"{path} does not exist; {dataset} expects {layout}; get it from {source}"
    return UserError(message, where="data.root")


def require_root(cfg: dict[str, Any], dataset: str, layout: str, source: str) -> Path:
    root = cfg.get("root")
    if root is None:
        raise UserError(f"not set; {dataset} expects {layout}; get it from {source}", where="data.root")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise missing(path, dataset, layout, source)
    return path


def require(path: Path, dataset: str, layout: str, source: str) -> Path:
    if not path.exists():
        raise missing(path, dataset, layout, source)
    return path


def _squash(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def split_root(root: Path, names: Sequence[str], splits: Sequence[str]) -> Path:
    """`root` when it holds the splits, else the child of `root` named like the data set.

    002 keeps several data sets side by side (`root/<dataset>/{train,val}`), so both
    `root/{train,val}` and e.g. `root/Caltech-101/{train,val}` are accepted; the child's name
    is matched ignoring case, '-' and '_'.
    """
    if all((root / s).is_dir() for s in splits):
        return root
    wanted = {_squash(n) for n in names}
    for child in sorted(root.iterdir()):
        if child.is_dir() and _squash(child.name) in wanted and all((child / s).is_dir() for s in splits):
            return child
    return root
