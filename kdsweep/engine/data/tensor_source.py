"""Batches from uint8 tensors, augmented on the device (the small-data-set path).

The whole data set is one uint8 NCHW tensor, on the training device when it fits (else on
the host, and each batch is moved). An epoch is the data set once per transform list in
`copies`, all copies shuffled together (000); the order comes from the (seed, epoch) "order"
stream and the augmentation from the "augment" stream, so changing a transform does not
move the order. Nothing is dropped (see `bundle.batch_spans`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from kdsweep.engine.data.batched import TensorPipeline, augment_copies
from kdsweep.engine.data.bundle import Batch, batch_spans
from kdsweep.engine.data.seeding import DATA_SEED, generator


class TensorSource:
    def __init__(self, x: Tensor, y: Tensor, pipelines: Sequence[TensorPipeline], *, batch_size: int,
                 device: torch.device, seed: int, shuffle: bool):
        self.x, self.y = x, y.to(x.device)
        self.pipelines = list(pipelines)
        self.batch_size, self.device, self.seed, self.shuffle = batch_size, device, seed, shuffle

    @property
    def n(self) -> int:
        return len(self.y) * len(self.pipelines)

    def __len__(self) -> int:
        return len(batch_spans(self.n, self.batch_size))

    @property
    def labels(self) -> Tensor:
        return self.y.cpu()

    def _generators(self, epoch: int) -> tuple[torch.Generator, torch.Generator]:
        if self.shuffle:
            return generator(self.seed, epoch, "order"), generator(self.seed, epoch, "augment")
        fixed = generator(DATA_SEED, 0, "val")  # val: the same every epoch, whatever the seed
        return fixed, fixed

    def batches(self, epoch: int) -> Iterator[Batch]:
        order_gen, aug_gen = self._generators(epoch)
        order = torch.randperm(self.n, generator=order_gen) if self.shuffle else torch.arange(self.n)
        count = len(self.y)
        for start, stop in batch_spans(self.n, self.batch_size):
            idx = order[start:stop]
            src = (idx % count).to(self.x.device)
            # index_select, not self.x[src]: 20x faster on the CPU for a CIFAR-sized batch
            x = self.x.index_select(0, src).to(self.device, non_blocking=True)
            y = self.y.index_select(0, src).to(self.device, non_blocking=True)
            yield Batch(augment_copies(self.pipelines, x, idx // count, aug_gen), y,
                        src.to(self.device, non_blocking=True))
