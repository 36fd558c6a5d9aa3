"""mini-ImageNet in 004's layout: one image folder, two CSV splits and a class index.

`root/images/*.jpg`, `root/new_train.csv` and `root/new_val.csv` (columns filename,label;
label = WordNet id; written by pandas, so the first column is its unnamed index), and
`root/classes_name.json` = {wnid: [class index, human name]}, which fixes the class index.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from kdsweep.engine.data.layout import require, require_root
from kdsweep.engine.data.raw import IMAGENET_MEAN, IMAGENET_STD, FileData
from kdsweep.engine.data.registry import dataset
from kdsweep.errors import UserError
from kdsweep.spec.data_defaults import resize_size

LAYOUT = "<root>/images/*.jpg, <root>/new_train.csv, <root>/new_val.csv and <root>/classes_name.json"
SOURCE = ("the 100-class mini-ImageNet images re-split 80/20 per class, e.g. by restructure_csv.py in "
          "github.com/WZMIAOMIAO/deep-learning-for-image-processing (004's split)")


def read_classes(path: Path) -> tuple[dict[str, int], list[str]]:
    """{wnid: index} and the human names in index order."""
    try:
        table = json.loads(path.read_text())
        index = {wnid: int(entry[0]) for wnid, entry in table.items()}
        names = {int(entry[0]): str(entry[1]) for entry in table.values()}
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise UserError(f"{path} is not {{wnid: [index, name]}} ({exc})", where="data.root") from None
    if sorted(names) != list(range(len(names))):
        raise UserError(f"{path}: class indices must be 0..{len(names) - 1}", where="data.root")
    return index, [names[i] for i in range(len(names))]


def read_split(path: Path, images: Path, index: dict[str, int]) -> list[tuple[Path, int]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "filename" not in rows[0] or "label" not in rows[0]:
        raise UserError(f"{path} needs the columns filename,label", where="data.root")
    items = []
    for row in rows:
        if row["label"] not in index:
            raise UserError(f"{path}: label {row['label']!r} is not in classes_name.json", where="data.root")
        items.append((images / row["filename"], index[row["label"]]))
    return items


def check_mini_imagenet(cfg: dict[str, Any]) -> Path:
    """The root, when it holds images/ and the three index files (none is read here)."""
    root = require_root(cfg, "mini_imagenet", LAYOUT, SOURCE)
    for part in ("images", "classes_name.json", "new_train.csv", "new_val.csv"):
        require(root / part, "mini_imagenet", LAYOUT, SOURCE)
    return root


def count_mini_imagenet(root: str) -> int | None:
    """The classes listed in classes_name.json (the loader's count), None before the data is there."""
    path = Path(root).expanduser() / "classes_name.json"
    return len(read_classes(path)[1]) if path.is_file() else None


@dataset("mini_imagenet", num_classes=100, input_size=224, check=check_mini_imagenet,
         count_classes=count_mini_imagenet, samples=(48000, 12000),  # 004's 80/20 split of 60,000
         transforms=lambda size: ([{"name": "RandomResizedCrop", "size": size}, {"name": "RandomHorizontalFlip"}],
                                  [{"name": "Resize", "size": resize_size(size)}, {"name": "CenterCrop", "size": size}]))
def load_mini_imagenet(cfg: dict[str, Any], seed: int) -> FileData:
    root = check_mini_imagenet(cfg)
    images = root / "images"
    index, names = read_classes(require(root / "classes_name.json", "mini_imagenet", LAYOUT, SOURCE))
    train = read_split(require(root / "new_train.csv", "mini_imagenet", LAYOUT, SOURCE), images, index)
    val = read_split(require(root / "new_val.csv", "mini_imagenet", LAYOUT, SOURCE), images, index)
    for items in (train, val):  # one stat per split catches a wrong root without scanning 60k files
        if items:
            require(items[0][0], "mini_imagenet", LAYOUT, SOURCE)
    return FileData(
        train=train,
        val=val,
        num_classes=len(names),
        classes=names,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
