"""Random class-dependent images of any size: smoke runs of full-scale sweeps.

`-o data.name=fake` must run a sweep written for mini-ImageNet or CIFAR without its
files, so `fake` accepts and ignores `root`, transforms and copies meant for the real data
set; it honours `input_size` (the models may need it), `num_classes`, `limit` and
`val_limit`. Each class is a random low-resolution colour pattern plus per-image noise,
so a smoke run can learn something and show a rising accuracy. Deterministic in the seed.

`data.fake: true` beside a real data set's name (what `--smoke` sets) is the other way in:
`shaped_like` makes that data set's class count and image size and keeps the run's transforms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kdsweep.engine.data.raw import DatasetDef, TensorData
from kdsweep.engine.data.registry import dataset
from kdsweep.engine.data.seeding import generator
from kdsweep.spec.data_defaults import resize_size

TRAIN, VAL = 256, 64


def make_images(gen: torch.Generator, prototypes: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    k, _, size, _ = prototypes.shape
    y = torch.arange(n) % k
    y = y[torch.randperm(n, generator=gen)]
    noise = torch.randn(n, 3, size, size, generator=gen) * 0.15
    x = (prototypes[y] + noise).clamp(0, 1).mul(255).round().to(torch.uint8)
    return x, y


CLASSES = 10  # unless data.num_classes says otherwise


def fake_images(size: int, k: int, n_train: int, n_val: int, seed: int, *, ignores_transforms: bool) -> TensorData:
    """`k` classes of `size`-pixel images: a random 4x4 colour pattern per class, upsampled, plus noise."""
    gen = generator(seed, 0, "fake")
    coarse = torch.rand(k, 3, 4, 4, generator=gen)
    prototypes = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    train_x, train_y = make_images(gen, prototypes, n_train)
    val_x, val_y = make_images(gen, prototypes, n_val)
    return TensorData(train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y, num_classes=k, classes=None,
                      mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), ignores_transforms=ignores_transforms)


def shaped_like(entry: DatasetDef, cfg: dict[str, Any], seed: int) -> TensorData:
    """`data.fake: true` (a smoke run): images standing in for `entry`'s, with its class count and through
    the run's own transforms, so a transform the real data would fail on fails here too. Images are
    stored as the real ones reach the transforms: at the input size, or at the resize size where the
    data set's own val transforms resize and crop (image-file data sets)."""
    size = cfg.get("input_size") or entry.input_size
    stored = resize_size(size) if entry.transforms(size)[1] else size
    k = shaped_like_classes(entry, cfg)
    return fake_images(stored, k, cfg.get("limit") or TRAIN, cfg.get("val_limit") or VAL, seed,
                       ignores_transforms=False)


def shaped_like_classes(entry: DatasetDef, cfg: dict[str, Any]) -> int:
    """The real data set's class count: declared, else counted from `data.root` when it is there, else
    `data.num_classes`, else the fake default (a folder data set smoke-run with no files at hand)."""
    if entry.num_classes:
        return entry.num_classes
    root = cfg.get("root")
    if root and entry.count_classes is not None and Path(root).expanduser().exists():
        counted = entry.count_classes(root)
        if counted:
            return counted
    return cfg.get("num_classes") or CLASSES


@dataset("fake", num_classes=CLASSES, input_size=32, needs_root=False, classes_from_config=True,  # made in code
         transforms=lambda size: ([{"name": "RandomCrop", "size": size, "padding": max(1, size // 8)},
                                   {"name": "RandomHorizontalFlip"}], []))
def load_fake(cfg: dict[str, Any], seed: int) -> TensorData:
    return fake_images(cfg.get("input_size") or 32, cfg.get("num_classes") or CLASSES, cfg.get("limit") or TRAIN,
                       cfg.get("val_limit") or VAL, seed, ignores_transforms=True)
