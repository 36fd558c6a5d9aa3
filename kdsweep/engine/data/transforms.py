"""Transform lists from the sweep file -> torchvision v2 transforms.

A sweep writes transforms as data (`[{name: RandomResizedCrop, size: 224}, RandomHorizontalFlip]`)
so they are part of the run key and can be overridden from the command line. Names are the
class names of `torchvision.transforms.v2`, so the torchvision docs are the reference for
the arguments; a typo fails before training with the closest names.

Conventions shared by both pipelines (file loader and on-device tensors):
- `ToTensor` (deprecated in v2) means `ToImage` + `ToDtype(float32, scale=True)`, as in 002.
- Images reach the model as float32 in [0, 1] before normalisation, whatever conversions the
  list names; a list that names no `Normalize` gets the data set's mean / std at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchvision.transforms import v2

from kdsweep.errors import UserError
from kdsweep.spec.transform_names import CONTAINERS, CONVERSIONS, NOT_IMAGE_TRANSFORMS, parse_transforms

__all__ = ["CONVERSIONS", "build_one", "has_normalize", "known_names", "parse", "pil_pipeline"]

def known_names() -> list[str]:
    """Every v2 transform a sweep may name, from torchvision itself (tests check the plan's list against it)."""
    names = []
    for name in dir(v2):
        obj = getattr(v2, name)
        if isinstance(obj, type) and issubclass(obj, v2.Transform) and name not in NOT_IMAGE_TRANSFORMS:
            names.append(name)
    return sorted(names)


def parse(specs: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Validate a transform list and normalise each item to (name, kwargs): the plan's own check
    (`spec.transform_names`), so a list the plan accepted is read the same way here."""
    return parse_transforms(specs, where)


def _convert_args(name: str, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
    args = dict(kwargs)
    if isinstance(args.get("dtype"), str):
        dtype = getattr(torch, args["dtype"], None)
        if not isinstance(dtype, torch.dtype):
            raise UserError(f"unknown dtype {args['dtype']!r}; e.g. float32", where=f"{where}.dtype")
        args["dtype"] = dtype
    if name in CONTAINERS and "transforms" in args:
        args["transforms"] = [build_one(n, kw, f"{where}.transforms[{i}]")
                              for i, (n, kw) in enumerate(parse(args["transforms"], f"{where}.transforms"))]
    return args


def build_one(name: str, kwargs: dict[str, Any], where: str) -> v2.Transform:
    """One v2 transform from its name and YAML arguments; bad arguments are the user's to fix."""
    if name == "ToTensor":
        if kwargs:
            raise UserError("ToTensor takes no arguments", where=where)
        return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    try:
        return getattr(v2, name)(**_convert_args(name, kwargs, where))
    except UserError:
        raise
    except (TypeError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"bad arguments for {name}: {msg}; see torchvision.transforms.v2.{name}",
                        where=where) from None


def has_normalize(parsed: Sequence[tuple[str, dict[str, Any]]]) -> bool:
    return any(name == "Normalize" for name, _ in parsed)


def _to_float() -> list[v2.Transform]:
    # Idempotent on float tensors, so it is safe wherever a float image is needed.
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]


def pil_pipeline(specs: Any, mean: Sequence[float], std: Sequence[float], where: str) -> v2.Compose:
    """The per-sample pipeline of the file loader: PIL image in, normalised float32 CHW out."""
    parsed = parse(specs, where)
    steps: list[v2.Transform] = []
    for i, (name, kwargs) in enumerate(parsed):
        if name == "Normalize":
            steps += _to_float()
        steps.append(build_one(name, kwargs, f"{where}[{i}]"))
    steps += _to_float()
    if not has_normalize(parsed):
        steps.append(v2.Normalize(list(mean), list(std)))
    steps.append(v2.ToPureTensor())
    return v2.Compose(steps)
