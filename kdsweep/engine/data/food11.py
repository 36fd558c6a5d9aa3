"""Food-11 (003): `{training,validation,evaluation}/<label>_<n>.jpg`.

The label is the file name's prefix before '_'. `evaluation/` carries no labels, so it is
not used; validation is `validation/`. Defaults are 003's: Resize(256), CenterCrop(224),
ImageNet normalisation, and the train split adds a horizontal flip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kdsweep.engine.data.layout import require, require_root, split_root
from kdsweep.engine.data.raw import IMAGENET_MEAN, IMAGENET_STD, FileData
from kdsweep.engine.data.registry import dataset
from kdsweep.errors import UserError
from kdsweep.spec.data_defaults import resize_size

CLASSES = ["Bread", "Dairy product", "Dessert", "Egg", "Fried food", "Meat", "Noodles/Pasta", "Rice",
           "Seafood", "Soup", "Vegetable/Fruit"]
LAYOUT = "<root>/{training,validation}/<label>_<n>.jpg (or <root>/food-11/...)"
SOURCE = "https://www.kaggle.com/datasets/vermaavi/food11 (EPFL Food-11; unzip into data.root)"
EXTENSIONS = (".jpg", ".jpeg", ".png")


def scan(split: Path) -> list[tuple[Path, int]]:
    items = []
    for path in sorted(split.iterdir()):
        if path.suffix.lower() not in EXTENSIONS:
            continue
        prefix = path.name.split("_", 1)[0]
        if not prefix.isdigit() or int(prefix) >= len(CLASSES):
            raise UserError(f"{path}: expected <label 0..10>_<n>{path.suffix}", where="data.root")
        items.append((path, int(prefix)))
    if not items:
        raise UserError(f"{split} holds no images; food11 expects {LAYOUT}", where="data.root")
    return items


def check_food11(cfg: dict[str, Any]) -> Path:
    """The folder holding training/ and validation/ (the layout, checked without listing the images)."""
    root = require_root(cfg, "food11", LAYOUT, SOURCE)
    base = split_root(root, ("food11", "Food-11"), ("training", "validation"))
    for split in ("training", "validation"):
        require(base / split, "food11", LAYOUT, SOURCE)
    return base


def food11_transforms(size: int) -> tuple[list, list]:
    val = [{"name": "Resize", "size": resize_size(size)}, {"name": "CenterCrop", "size": size}]
    return [*val, {"name": "RandomHorizontalFlip"}], val


@dataset("food11", num_classes=11, input_size=224, check=check_food11, transforms=food11_transforms,
         samples=(9866, 3430))  # training/, validation/
def load_food11(cfg: dict[str, Any], seed: int) -> FileData:
    base = check_food11(cfg)
    return FileData(
        train=scan(require(base / "training", "food11", LAYOUT, SOURCE)),
        val=scan(require(base / "validation", "food11", LAYOUT, SOURCE)),
        num_classes=len(CLASSES),
        classes=list(CLASSES),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
