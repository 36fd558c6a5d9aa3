"""What a data set loader hands to `build_data`, before batching.

Loaders only read the data set and name its defaults; everything they have in common
(limits, transforms, the two batching paths, devices, seeding) lives in `build`, so a new
data set is one small file with one registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from kdsweep.spec.data_defaults import Defaults

Specs = list[Any]  # a transform list as the sweep writes it: [{name: ..., <args>}, ...]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class TensorData:
    """A data set held in memory as uint8 NCHW tensors (CPU) with int64 labels."""

    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    num_classes: int
    classes: list[str] | None
    mean: Sequence[float]
    std: Sequence[float]
    ignores_transforms: bool = False  # `fake`: stands in for other data sets, ignores their transforms


@dataclass
class FileData:
    """A data set of image files: (path, class index) pairs, decoded per sample."""

    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]
    num_classes: int
    classes: list[str] | None
    mean: Sequence[float]
    std: Sequence[float]


Loader = Callable[[dict[str, Any], int], "TensorData | FileData"]


@dataclass(frozen=True)
class DatasetDef:
    """A registry entry: how to load a data set, and what is known about it without loading."""

    name: str
    num_classes: int | None
    input_size: int
    load: Loader
    transforms: Defaults  # input size -> (train, val) default transform lists (spec.data_defaults)
    count_classes: Callable[[str], int | None] | None = None  # cheap class count from a root, if any
    needs_root: bool = True  # reads files under data.root (preflight checks the directory)
    # Cheap layout check of cfg["data"] (the files and folders that must exist; no image is read):
    # preflight calls it before anything starts, the loader calls it first. Raises UserError.
    check: Callable[[dict[str, Any]], Any] | None = None
    classes_from_config: bool = False  # data made in code: `data.num_classes` sets its class count
    samples: tuple[int, int] | None = None  # (train, val) images as published: an estimate without the files

    def __call__(self, cfg: dict[str, Any], seed: int) -> TensorData | FileData:
        return self.load(cfg, seed)
