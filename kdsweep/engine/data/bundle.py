"""What the trainer gets from the data layer: two batch sources and what it needs to know."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from torch import Tensor


class BatchSource(Protocol):
    def batches(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        """(x float32 normalised NCHW, y int64), both on the device; depends only on (seed, epoch)."""

    def __len__(self) -> int:
        """Batches per epoch."""


@dataclass
class DataBundle:
    train: BatchSource
    val: BatchSource
    num_classes: int
    input_size: int
    n_train: int  # samples per epoch, every copy counted
    n_val: int
    classes: list[str] | None
    on_device: bool = False  # the tensor path (uint8 tensors, batched augmentation) is used
    mean: Sequence[float] = ()
    std: Sequence[float] = ()
    # How each train / val transform runs, e.g. {"train[0]": ["RandomCrop:batched", ...]}.
    transforms: dict[str, list[str]] = field(default_factory=dict)
