"""What the trainer gets from the data layer: two batch sources and what it needs to know."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from torch import Tensor


def batch_spans(n: int, batch_size: int) -> list[tuple[int, int]]:
    """[start, stop) of each batch of an epoch of n samples: nothing is dropped.

    The last batch keeps the remainder, except that a remainder of one sample joins the
    batch before it: BatchNorm cannot train on a batch of one (a 1x1 feature map with N=1).
    """
    spans = [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] == 1:
        spans[-2:] = [(spans[-2][0], n)]
    return spans


@dataclass
class Batch:
    """One batch on the device, and what a loss term may need to know about its samples.

    `indices` are the samples' positions in their split (0 .. samples - 1; every copy of a
    sample under `data.copies` shares its index), so a term can keep per-sample state such
    as CRD's memory bank (torchdistill and mdistiller hand the same index from their data
    sets); the trainer hands them to the losses in their `LossContext`.
    """

    x: Tensor  # float32, normalised, NCHW
    y: Tensor  # int64 class indices
    indices: Tensor  # int64, same length as y


class BatchSource(Protocol):
    def batches(self, epoch: int) -> Iterator[Batch]:
        """The epoch's batches, all tensors on the device; depends only on (seed, epoch)."""

    def __len__(self) -> int:
        """Batches per epoch."""

    @property
    def labels(self) -> Tensor:
        """Every sample's label (int64, on the CPU), by sample index: a data fact some terms
        need before training (CRD draws its negatives from the other classes)."""


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
    path: str = ""  # spec.data_path's name for how the batches are made: tensor, decoded or workers
