"""A data set's default transforms, filled into each run's `data` section by the plan, without torch.

Each data set declares its defaults once, in its registration: `@dataset("cifar100", ...,
transforms=lambda size: (train, val))`, or `transforms=<name>` of a function in the same file.
It maps the run's input size to the train list (one copy of the train set per epoch) and the val
list, as a sweep writes them. The engine calls the function itself; the plan reads its source from
the decorator's syntax tree (as `spec.names` reads the names) and runs only it, so `kdsweep plan
--json` shows the transforms every run gets and the run key covers them. The function may use
plain Python and `resize_size`, nothing else: the plan runs it apart from its module.
"""

from __future__ import annotations

import ast
import builtins
import copy
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from kdsweep.spec.entries import PACKAGE_ROOT

DATASET_FILES = PACKAGE_ROOT / "engine" / "data"
Defaults = Callable[[int], tuple[list, list]]  # input size -> (train transforms, val transforms)
SAFE_BUILTINS = ("max", "min", "int", "round", "float", "list", "dict", "tuple", "len", "range")


def resize_size(input_size: int) -> int:
    """The ImageNet convention: resize to 256 before a 224 centre crop, scaled to other sizes."""
    return int(round(input_size * 256 / 224))


def _namespace() -> dict[str, Any]:
    return {"__builtins__": {name: getattr(builtins, name) for name in SAFE_BUILTINS}, "resize_size": resize_size}


def _function(node: ast.expr, module: ast.Module, path: Path) -> Defaults:
    """The declared defaults as a function: a lambda, or a module-level def named by the decorator."""
    namespace = _namespace()
    if isinstance(node, ast.Name):
        defs = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == node.id]
        if not defs:
            raise RuntimeError(f"{path}: transforms={node.id} names no function defined in the file")
        exec(compile(ast.Module(body=defs, type_ignores=[]), str(path), "exec"), namespace)
        return namespace[node.id]
    if isinstance(node, ast.Lambda):
        return eval(compile(ast.Expression(body=node), str(path), "eval"), namespace)
    raise RuntimeError(f"{path}:{node.lineno}: transforms= takes a lambda or the name of a function in the file")


@lru_cache(maxsize=1)
def declared() -> dict[str, tuple[int, Defaults]]:
    """{data set name: (its default input size, its transforms function)}, read from the decorators."""
    out: dict[str, tuple[int, Defaults]] = {}
    for path in sorted(DATASET_FILES.glob("*.py")):
        text = path.read_text()
        if "@dataset(" not in text:
            continue
        module = ast.parse(text, filename=str(path))
        for node in module.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not (isinstance(dec, ast.Call) and ast.unparse(dec.func) == "dataset" and dec.args):
                    continue
                keywords = {k.arg: k.value for k in dec.keywords}
                name = ast.literal_eval(dec.args[0])
                if "transforms" not in keywords or "input_size" not in keywords:
                    raise RuntimeError(f"{path}:{dec.lineno}: @dataset({name!r}) declares no transforms= / "
                                       "input_size=; the plan fills every run's transforms from them")
                out[name] = (ast.literal_eval(keywords["input_size"]), _function(keywords["transforms"], module, path))
    return out


def fill_transforms(data: dict[str, Any], declaration: tuple[int, Defaults] | None = None) -> None:
    """The data set's defaults where the run names none: `train_transforms` unless `copies` says
    what each pass over the train set gets, and `val_transforms`. `declaration`: (default input
    size, transforms function) as the engine registered them; None: read from the decorator."""
    if data.get("val_transforms") is not None and (data.get("train_transforms") is not None
                                                   or data.get("copies") is not None):
        return
    size, function = declaration or declared()[data["name"]]
    train, val = copy.deepcopy(function(data.get("input_size") or size))
    if data.get("train_transforms") is None and data.get("copies") is None:
        data["train_transforms"] = train
    if data.get("val_transforms") is None:
        data["val_transforms"] = val
