"""CIFAR-100 from the python pickles, held as one uint8 tensor.

The defaults are the standard CIFAR recipe every KD paper trains with (mdistiller at a08d46f,
mdistiller/dataset/cifar100.py; RepDistiller's is the same): one pass over the train set per
epoch with RandomCrop(32, padding 4) and a horizontal flip, normalised with the CIFAR-100 train
set's mean / std; the test set as is, which is what papers and write-ups call validation.
Write-ups 000 / 001 train on two other augmented copies per epoch: sweeps/base/cifar100_efficientnet.yaml.
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

MEAN = (0.5071, 0.4867, 0.4408)  # mdistiller's and RepDistiller's Normalize
STD = (0.2675, 0.2565, 0.2761)
LAYOUT = "<root>/cifar-100-python/{train,test,meta} (the python pickles)"
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (untar into data.root)"


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


@dataset("cifar100", num_classes=100, input_size=32, check=check_cifar100, samples=(50000, 10000),
         transforms=lambda size: ([{"name": "RandomCrop", "size": size, "padding": 4},
                                   {"name": "RandomHorizontalFlip"}], []))
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
    )
