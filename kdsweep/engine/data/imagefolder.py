"""ImageFolder trees: `imagefolder` (any), `caltech101` and `caltech256` (002).

A split is `<split>/<class name>/<image>`; classes are the sorted folder names of the
train split, and val must not name a class train lacks. 002 keeps its data sets side by
side, so `root/{train,val}` and `root/<data set>/{train,val}` (e.g. `root/caltech-101/train`)
are both accepted. Caltech defaults are 002's: train RandomResizedCrop, flip, RandAugment,
ToTensor, Normalize(0.5, 0.5), RandomErasing; val Resize + CenterCrop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchvision.datasets.folder import IMG_EXTENSIONS

from kdsweep.engine.data.layout import require, require_root, split_root
from kdsweep.engine.data.raw import IMAGENET_MEAN, IMAGENET_STD, FileData
from kdsweep.engine.data.registry import dataset
from kdsweep.errors import UserError
from kdsweep.spec.data_defaults import resize_size

LAYOUT = "<root>/{train,val}/<class>/<image> or <root>/<data set>/{train,val}/<class>/<image>"
SOURCES = {
    "imagefolder": "your own images, one folder per class, split into train/ and val/",
    "caltech101": "https://data.caltech.edu/records/mzrjq-6wc02 (101_ObjectCategories, split ~90/10 "
                  "into train/ and val/ per class)",
    "caltech256": "https://data.caltech.edu/records/nyy15-4j048 (256_ObjectCategories, split ~90/10 "
                  "into train/ and val/ per class)",
}
ALIASES = {
    "imagefolder": ("imagefolder",),
    "caltech101": ("caltech101", "101_ObjectCategories"),
    "caltech256": ("caltech256", "256_ObjectCategories"),
}


def _find(cfg: dict[str, Any], name: str) -> Path:
    """The folder holding train/ and val/, each with at least one class folder (no image is read)."""
    root = require_root(cfg, name, LAYOUT, SOURCES[name])
    base = split_root(root, ALIASES[name], ("train", "val"))
    for split in ("train", "val"):
        require(base / split, name, LAYOUT, SOURCES[name])
    for split in ("train", "val"):  # both there first: a missing split is the likelier mistake
        if not class_names(base / split):
            raise UserError(f"{base / split} holds no class folders; {name} expects {LAYOUT}; "
                            f"get it from {SOURCES[name]}", where="data.root")
    return base


def _check(name: str) -> Any:
    return lambda cfg: _find(cfg, name)


def class_names(split: Path) -> list[str]:
    return sorted(d.name for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))


def scan(split: Path, index: dict[str, int], name: str) -> list[tuple[Path, int]]:
    items = []
    for cls in class_names(split):
        if cls not in index:
            raise UserError(f"{split / cls} is a class the train split does not have", where="data.root")
        items += [(p, index[cls]) for p in sorted((split / cls).iterdir())
                  if p.suffix.lower() in IMG_EXTENSIONS and p.is_file()]
    if not items:
        raise UserError(f"{split} holds no images; {name} expects {LAYOUT}", where="data.root")
    return items


def _count(name: str) -> Any:
    def count(root: str) -> int | None:
        try:
            base = split_root(Path(root).expanduser(), ALIASES[name], ("train", "val"))
            return len(class_names(base / "train")) or None
        except OSError:
            return None

    return count


def load_tree(cfg: dict[str, Any], name: str, mean: Sequence[float], std: Sequence[float]) -> FileData:
    base = _find(cfg, name)
    classes = class_names(base / "train")
    index = {c: i for i, c in enumerate(classes)}
    return FileData(
        train=scan(base / "train", index, name),
        val=scan(base / "val", index, name),
        num_classes=len(classes),
        classes=classes,
        mean=mean,
        std=std,
    )


def imagefolder_transforms(size: int) -> tuple[list, list]:
    return ([{"name": "RandomResizedCrop", "size": size}, {"name": "RandomHorizontalFlip"}],
            [{"name": "Resize", "size": resize_size(size)}, {"name": "CenterCrop", "size": size}])


def caltech_transforms(size: int) -> tuple[list, list]:
    train = [
        {"name": "RandomResizedCrop", "size": size},
        {"name": "RandomHorizontalFlip"},
        {"name": "RandAugment"},
        {"name": "ToTensor"},
        {"name": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        {"name": "RandomErasing"},
    ]
    val = [{"name": "Resize", "size": size}, {"name": "CenterCrop", "size": size}]
    return train, val


@dataset("imagefolder", num_classes=None, input_size=224, count_classes=_count("imagefolder"),
         check=_check("imagefolder"), transforms=imagefolder_transforms)
def load_imagefolder(cfg: dict[str, Any], seed: int) -> FileData:
    return load_tree(cfg, "imagefolder", IMAGENET_MEAN, IMAGENET_STD)


# Class counts of the official archives' folders (Caltech-101 has BACKGROUND_Google, -256 clutter).
@dataset("caltech101", num_classes=102, input_size=224, count_classes=_count("caltech101"),
         check=_check("caltech101"), transforms=caltech_transforms)
def load_caltech101(cfg: dict[str, Any], seed: int) -> FileData:
    return load_tree(cfg, "caltech101", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@dataset("caltech256", num_classes=257, input_size=224, count_classes=_count("caltech256"),
         check=_check("caltech256"), transforms=caltech_transforms)
def load_caltech256(cfg: dict[str, Any], seed: int) -> FileData:
    return load_tree(cfg, "caltech256", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
