"""Random class-dependent images of any size: smoke runs of full-scale sweeps.

`-o data.name=fake` must run a sweep written for mini-ImageNet or CIFAR without its
files, so `fake` accepts and ignores `root`, transforms and copies meant for the real data
set; it honours `input_size` (the models may need it), `num_classes`, `limit` and
`val_limit`. Each class is a random low-resolution colour pattern plus per-image noise,
so a smoke run can learn something and show a rising accuracy. Deterministic in the seed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kdsweep.engine.data.raw import TensorData
from kdsweep.engine.data.registry import dataset
from kdsweep.engine.data.seeding import generator

TRAIN, VAL = 256, 64


def make_images(gen: torch.Generator, prototypes: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    k, _, size, _ = prototypes.shape
    y = torch.arange(n) % k
    y = y[torch.randperm(n, generator=gen)]
    noise = torch.randn(n, 3, size, size, generator=gen) * 0.15
    x = (prototypes[y] + noise).clamp(0, 1).mul(255).round().to(torch.uint8)
    return x, y


CLASSES = 10  # unless data.num_classes says otherwise


@dataset("fake", num_classes=CLASSES, input_size=32, needs_root=False, classes_from_config=True,  # made in code
         transforms=lambda size: ([{"name": "RandomCrop", "size": size, "padding": max(1, size // 8)},
                                   {"name": "RandomHorizontalFlip"}], []))
def load_fake(cfg: dict[str, Any], seed: int) -> TensorData:
    size = cfg.get("input_size") or 32
    k = cfg.get("num_classes") or CLASSES
    gen = generator(seed, 0, "fake")
    coarse = torch.rand(k, 3, 4, 4, generator=gen)
    prototypes = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    train_x, train_y = make_images(gen, prototypes, cfg.get("limit") or TRAIN)
    val_x, val_y = make_images(gen, prototypes, cfg.get("val_limit") or VAL)
    return TensorData(
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        num_classes=k,
        classes=None,
        mean=(0.5, 0.5, 0.5),
        std=(0.25, 0.25, 0.25),
        ignores_transforms=True,
    )
