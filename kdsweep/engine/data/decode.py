"""Decode a file data set once into uint8 tensors, for the on-device path (`on_device`).

Each image is resized (shorter side) and centre-cropped to a square of `resize_size`
(256 for a 224 input), the size the ImageNet-style val transforms resize to, so the val
transforms (Resize + CenterCrop) give what they give on the files, and the train transforms
(RandomResizedCrop, ...) then run batched on the device. The difference from the file
path: random crops only see the central square of each image. Decoding runs in the
DataLoader's worker processes. With a cache directory (`data.cache_dir`, on by default) the
decoded arrays are kept on disk and shared by every job on the machine (`decode_cache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from kdsweep.engine.data.loader_source import open_rgb
from kdsweep.engine.data.raw import FileData


class _Decode(Dataset):
    def __init__(self, items: Sequence[tuple[Path, int]], size: int):
        self.items = items
        self.t = v2.Compose([v2.Resize(size), v2.CenterCrop(size), v2.PILToTensor()])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.as_tensor(self.t(open_rgb(self.items[i][0])))


def decode_items(
    items: Sequence[tuple[Path, int]], size: int, workers: int
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.empty((len(items), 3, size, size), dtype=torch.uint8)
    loader = DataLoader(_Decode(items, size), batch_size=64, num_workers=workers, generator=torch.Generator())
    start = 0
    for batch in loader:
        x[start:start + len(batch)] = batch
        start += len(batch)
    return x, torch.tensor([label for _, label in items], dtype=torch.int64)


def decoded_bytes(data: FileData, size: int) -> int:
    return (len(data.train) + len(data.val)) * 3 * size * size
