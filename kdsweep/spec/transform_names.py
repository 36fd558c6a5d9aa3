"""The transforms a sweep may list (`data.train_transforms`, `data.val_transforms`, `data.copies`),
and their arguments, checked without importing torch or torchvision.

Names are the classes of `torchvision.transforms.v2` (torchvision's docs are the reference for
the arguments). As `spec.names` reads torchvision's model builders, the classes and their
`__init__` parameters are read from torchvision's source with `ast` (found with
`importlib.util.find_spec`, never imported), so `kdsweep plan` refuses `RandomCorp` or
`RandomCrop: {sise: 32}` in one line, before any job starts. The engine builds the transforms
(`engine/data/transforms.py`) from the same parsed lists. When torchvision is not installed,
only the list's shape is checked here and the engine checks the rest.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.signature import Signature

# Transforms that act on a batch with labels, or on boxes, not on one image.
NOT_IMAGE_TRANSFORMS = frozenset(
    {"CutMix", "MixUp", "ClampBoundingBoxes", "ClampKeyPoints", "ConvertBoundingBoxFormat",
     "SanitizeBoundingBoxes", "SanitizeKeyPoints", "SetClampingMode", "FiveCrop", "TenCrop",
     "UniformTemporalSubsample", "Transform", "RandomIoUCrop"}
)
# Type conversions: the tensor path manages dtype itself and skips these.
CONVERSIONS = frozenset({"ToTensor", "ToImage", "PILToTensor", "ToPureTensor", "ToDtype",
                         "ConvertImageDtype", "ToPILImage"})
# Transforms that take a list of transforms as their `transforms` argument.
CONTAINERS = frozenset({"Compose", "RandomApply", "RandomChoice", "RandomOrder"})


@lru_cache(maxsize=1)
def torchvision_transforms() -> dict[str, Signature]:
    """Every image transform of torchvision.transforms.v2, with its constructor; {} without torchvision."""
    try:
        spec = importlib.util.find_spec("torchvision")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return {}
    folder = Path(next(iter(spec.submodule_search_locations))) / "transforms" / "v2"
    exported = {alias.asname or alias.name
                for node in ast.parse((folder / "__init__.py").read_text()).body
                if isinstance(node, ast.ImportFrom) and node.level == 1 and (node.module or "").startswith("_")
                for alias in node.names}
    classes: dict[str, ast.ClassDef] = {}
    for path in sorted(folder.glob("_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = node

    def bases(name: str) -> list[str]:
        return [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in classes[name].bases]

    def is_transform(name: str) -> bool:
        return name == "Transform" or any(b in classes and is_transform(b) for b in bases(name))

    def signature(name: str) -> Signature:
        for node in classes[name].body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                return Signature.of(node, skip_first=True)
        parents = [b for b in bases(name) if b in classes]
        return signature(parents[0]) if parents else Signature((), ())

    return {name: signature(name) for name in sorted(exported)
            if name in classes and name not in NOT_IMAGE_TRANSFORMS and is_transform(name)}


def parse_transforms(specs: Any, where: str, known: dict[str, Signature] | None = None) -> list[tuple[str, dict]]:
    """A transform list normalised to (name, kwargs), each name and argument checked against `known`
    (torchvision's, read from its source; empty: names are not checked here)."""
    if specs is None:
        return []
    if not isinstance(specs, (list, tuple)):
        raise UserError(f"expected a list of transforms like [{{name: RandomHorizontalFlip}}], got {specs!r}",
                        where=where)
    known = torchvision_transforms() if known is None else known
    out = []
    for i, item in enumerate(specs):
        at = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UserError(f"expected {{name: <torchvision v2 transform>, <args>}}, got {item!r}", where=at)
        name, kwargs = item["name"], {k: v for k, v in item.items() if k != "name"}
        if known:
            _check_one(name, kwargs, known, at)
        if name in CONTAINERS and "transforms" in kwargs:
            parse_transforms(kwargs["transforms"], f"{at}.transforms", known)
        out.append((name, kwargs))
    return out


def _check_one(name: str, kwargs: dict, known: dict[str, Signature], at: str) -> None:
    if name not in known:
        raise UserError(f"unknown transform {name!r}; {did_you_mean(name, known)}", where=f"{at}.name")
    sig = known[name]
    for key in kwargs:
        if key not in sig.params and not sig.any_keyword:
            hint = did_you_mean(key, sig.params) if sig.params else f"{name} takes no arguments"
            raise UserError(f"{name} has no argument {key!r}; {hint} (torchvision.transforms.v2.{name})",
                            where=f"{at}.{key}")
    missing = [p for p in sig.required if p not in kwargs]
    if missing:
        raise UserError(f"{name} needs {', '.join(missing)} (torchvision.transforms.v2.{name})", where=at)


def check_data_transforms(data: dict[str, Any], where: str = "data") -> None:
    """The plan's check of a resolved data section's transform lists (each of `copies` is one)."""
    for key in ("train_transforms", "val_transforms"):
        parse_transforms(data.get(key), f"{where}.{key}")
    copies = data.get("copies")
    if copies is not None:
        if not isinstance(copies, (list, tuple)):
            raise UserError(f"expected a list of transform lists, got {copies!r}", where=f"{where}.copies")
        for i, specs in enumerate(copies):
            parse_transforms(specs, f"{where}.copies[{i}]")
