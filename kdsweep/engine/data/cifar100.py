"""CIFAR-100 from the python pickles, held as one uint8 tensor (000, 001).

Each epoch of 000 is two augmented copies of the train set, shuffled together:
(i) ColorJitter(brightness .2, contrast .2) + flip; (ii) ColorJitter(.4, .4) +
RandomResizedCrop(32, scale (0.3, 1), ratio (0.8, 1.2)) + flip. The test set is used as is
and is what the write-ups call validation.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kdsweep.engine.data.layout import require, require_root
from kdsweep.engine.data.raw import TensorData
from kdsweep.engine.data.registry import dataset
from kdsweep.errors import UserError

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
LAYOUT = "<root>/cifar-100-python/{train,test,meta} (the python pickles)"
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (untar into data.root)"


def default_copies(size: int) -> list[list[dict[str, Any]]]:
    return [
        [{"name": "ColorJitter", "brightness": 0.2, "contrast": 0.2}, {"name": "RandomHorizontalFlip"}],
        [
            {"name": "ColorJitter", "brightness": 0.4, "contrast": 0.4},
            {"name": "RandomResizedCrop", "size": size, "scale": [0.3, 1.0], "ratio": [0.8, 1.2]},
            {"name": "RandomHorizontalFlip"},
        ],
    ]


def _unpickle(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}


def _split(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    part = _unpickle(require(path, "cifar100", LAYOUT, SOURCE))
    try:
        data = np.asarray(part["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = torch.as_tensor(np.asarray(part["fine_labels"]), dtype=torch.int64)
    except (KeyError, ValueError) as exc:
        raise UserError(f"{path} is not a CIFAR-100 pickle ({exc}); expected {LAYOUT}",
                        where="data.root") from None
    return torch.from_numpy(data.copy()), labels


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if size == x.shape[-1]:
        return x
    out = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.round().clamp(0, 255).to(torch.uint8)


def check_cifar100(cfg: dict[str, Any]) -> Path:
    """The folder holding the train / test / meta pickles (the layout, checked without reading them)."""
    root = require_root(cfg, "cifar100", LAYOUT, SOURCE)
    folder = root / "cifar-100-python"
    if not folder.is_dir() and (root / "meta").is_file():  # data.root is the pickles' folder itself
        folder = root
    require(folder, "cifar100", LAYOUT, SOURCE)
    for part in ("train", "test", "meta"):
        require(folder / part, "cifar100", LAYOUT, SOURCE)
    return folder


@dataset("cifar100", num_classes=100, input_size=32, check=check_cifar100)
def load_cifar100(cfg: dict[str, Any], seed: int) -> TensorData:
    folder = check_cifar100(cfg)
    size = cfg.get("input_size") or 32
    train_x, train_y = _split(folder / "train")
    val_x, val_y = _split(folder / "test")
    meta = _unpickle(require(folder / "meta", "cifar100", LAYOUT, SOURCE))
    return TensorData(
        train_x=_resize(train_x, size),
        train_y=train_y,
        val_x=_resize(val_x, size),
        val_y=val_y,
        num_classes=100,
        classes=list(meta.get("fine_label_names", [])) or None,
        mean=MEAN,
        std=STD,
        train_copies=default_copies(size),
        val_transforms=[],
    )
