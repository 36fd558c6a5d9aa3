"""scikit-learn's bundled 8x8 handwritten digits as 3x32x32 images: the offline default.

Real data that ships inside the scikit-learn wheel, so a quickstart sweep trains
anywhere. Pixel values 0..16 are scaled to 0..255, upsampled (bilinear) to the input size
and replicated to three channels, so the same models and transforms as CIFAR apply.
The hold-out split is stratified and seeded with the fixed data seed, not the run's seed:
a teacher stage and its students (which may use other seeds) must agree on what "val" is.
Default augmentation is a random crop with padding only: digits are not flip-invariant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from kdsweep.engine.data.raw import TensorData
from kdsweep.engine.data.registry import dataset
from kdsweep.engine.data.seeding import DATA_SEED
from kdsweep.errors import UserError


def render(images: np.ndarray, size: int) -> torch.Tensor:
    """(N, 8, 8) values 0..16 -> (N, 3, size, size) uint8."""
    x = torch.from_numpy(images.astype(np.float32) * (255.0 / 16.0))[:, None]
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < 8)
    return x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


@dataset("digits", num_classes=10, input_size=32, needs_root=False,  # bundled with scikit-learn
         transforms=lambda size: ([{"name": "RandomCrop", "size": size, "padding": max(1, size // 16)}], []))
def load_digits(cfg: dict[str, Any], seed: int) -> TensorData:
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    val_split = cfg.get("val_split", 0.2)
    if not isinstance(val_split, (int, float)) or not 0 < val_split < 1:
        raise UserError(f"expected a fraction in (0, 1), got {val_split!r}", where="data.val_split")
    size = cfg.get("input_size") or 32
    bunch = sk_digits()
    idx_train, idx_val = train_test_split(
        np.arange(len(bunch.target)), test_size=val_split, stratify=bunch.target, random_state=DATA_SEED
    )
    x = render(bunch.images, size)
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    train_x = x[torch.as_tensor(idx_train)]
    pixels = train_x.float().div(255)
    mean = pixels.mean((0, 2, 3)).tolist()
    std = pixels.std((0, 2, 3)).tolist()
    return TensorData(
        train_x=train_x,
        train_y=y[torch.as_tensor(idx_train)],
        val_x=x[torch.as_tensor(idx_val)],
        val_y=y[torch.as_tensor(idx_val)],
        num_classes=10,
        classes=[str(i) for i in range(10)],
        mean=mean,
        std=std,
    )
