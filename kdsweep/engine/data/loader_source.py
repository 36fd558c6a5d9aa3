"""Batches from image files through a torch DataLoader (the file-data-set path).

Each sample is decoded with PIL and transformed with torchvision v2 in `workers` worker
processes, wholly, or up to the batched tail `worker_split` leaves to the device: then the
workers hand over uint8 and the tail runs per batch, from the (seed, epoch) "batched" stream
(val: a fixed one). Randomness never depends on which worker handles a sample, nor on the worker
count (a non-result key): the batch sampler, run in the main process, pairs every index
with a seed drawn from the (seed, epoch) "augment" stream, and the sample is transformed
under that seed. The order comes from the "order" stream. The loader's own generator
(worker base seeds) is reseeded per epoch, so the global RNG is never touched. Nothing is
dropped (see `bundle.batch_spans`). Pinned memory only when the device is CUDA.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms.v2.functional import pil_to_tensor

from kdsweep.engine.data.batched import TensorPipeline, augment_copies
from kdsweep.engine.data.bundle import Batch, batch_spans
from kdsweep.engine.data.seeding import (
    DATA_SEED,
    derive_seed,
    generator,
    isolated_rng,
    reseed,
    sample_seeds,
    worker_init,
)

try:  # deprecated since torchvision 0.29 in favour of TorchCodec; where it is gone, PIL decodes
    from torchvision.io import ImageReadMode, decode_image
except ImportError:  # pragma: no cover - torchvision >= its removal
    ImageReadMode, decode_image = None, None


def open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def open_uint8(path: Path) -> Tensor:
    """The image as a uint8 RGB CHW tensor, decoded by torchvision.io (libjpeg-turbo for JPEGs, as
    PIL's decoder: the same pixels on the RGB JPEGs the tests write), by PIL where torchvision
    cannot (other formats, 16-bit images, a torchvision without it). Measured on benchmark 3's
    JPEGs, the workers path ran at 1.39x PIL's DataLoader with it and 1.22x with PIL's decode."""
    if decode_image is not None:
        try:
            with warnings.catch_warnings():  # deprecated, not removed (see the import): kept out of every job's warnings
                warnings.simplefilter("ignore", DeprecationWarning)
                x = decode_image(str(path), mode=ImageReadMode.RGB)
            if x.dtype == torch.uint8:
                return x
        except (RuntimeError, ValueError, OSError):
            pass
    return pil_to_tensor(open_rgb(path))


class FileDataset(Dataset):
    """Index k of an epoch = copy k // n of sample k % n; keys are (k, per-sample seed).

    An item is (image, label, sample index k % n, copy k // n): the index travels with the batch
    (Batch.indices), the copy picks the batched tail's pipeline.
    """

    def __init__(self, items: Sequence[tuple[Path, int]], pipelines: Sequence[Callable[[Any], Any]],
                 opener: Callable[[Path], Any] = open_rgb):
        self.items, self.pipelines, self.opener = list(items), list(pipelines), opener

    def __len__(self) -> int:
        return len(self.items) * len(self.pipelines)

    def __getitem__(self, key: tuple[int, int]) -> tuple[Tensor, int, int, int]:
        k, seed = key
        path, label = self.items[k % len(self.items)]
        copy = k // len(self.items)
        with isolated_rng():
            reseed(seed)
            x = self.pipelines[copy](self.opener(path))
        return torch.as_tensor(x), label, k % len(self.items), copy


class EpochBatchSampler(Sampler):
    """Batches of (index, seed) for the epoch set in `epoch` (read when iteration starts)."""

    def __init__(self, n: int, batch_size: int, seed: int, shuffle: bool):
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.epoch = 0

    def __len__(self) -> int:
        return len(batch_spans(self.n, self.batch_size))

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=generator(self.seed, self.epoch, "order")).tolist()
            seeds = sample_seeds(generator(self.seed, self.epoch, "augment"), self.n)
        else:
            order = list(range(self.n))
            seeds = sample_seeds(generator(DATA_SEED, 0, "val"), self.n)
        for start, stop in batch_spans(self.n, self.batch_size):
            yield list(zip(order[start:stop], seeds[start:stop], strict=True))


class LoaderSource:
    def __init__(self, dataset: FileDataset, *, batch_size: int, workers: int, device: torch.device,
                 seed: int, shuffle: bool, batched: Sequence[TensorPipeline] | None = None):
        self.device, self.seed, self.shuffle = device, seed, shuffle
        self.batched = list(batched) if batched else None  # one per copy: the tail the workers leave
        self.sampler = EpochBatchSampler(len(dataset), batch_size, seed, shuffle)
        self.loader = DataLoader(
            dataset,
            batch_sampler=self.sampler,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            worker_init_fn=worker_init if workers > 0 else None,
            generator=torch.Generator(),
        )

    def __len__(self) -> int:
        return len(self.sampler)

    @property
    def labels(self) -> Tensor:
        return torch.tensor([label for _, label in self.loader.dataset.items], dtype=torch.int64)

    def batches(self, epoch: int) -> Iterator[Batch]:
        self.sampler.epoch = epoch
        self.loader.generator.manual_seed(derive_seed(self.seed, epoch, "workers"))
        tail = generator(self.seed, epoch, "batched") if self.shuffle else generator(DATA_SEED, 0, "batched")
        for x, y, idx, copy in self.loader:
            to = {"device": self.device, "non_blocking": True}
            x = x.to(**to)
            if self.batched is not None:
                x = augment_copies(self.batched, x, copy, tail)
            yield Batch(x, y.to(**to), idx.to(**to))
