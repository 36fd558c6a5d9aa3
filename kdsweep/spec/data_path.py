"""Which data path a run gets, decided in this one place from the data set and the device.

- tensor: the data set is uint8 tensors in memory (digits, cifar100, fake), augmented a batch at
  a time on the training device (`engine.data.batched`).
- decoded: an image-file data set decoded once into uint8 tensors (`engine.data.decode_cache`),
  then as `tensor`; random crops see each image's central square. On a GPU, where the whole
  augmentation is a few kernels per batch; on the CPU only when `data.on_device: true` asks.
- workers: image files decoded in DataLoader workers, cropped and resized per sample there in
  uint8 (torchvision's classic recipe), the size-keeping tail batched on the device
  (`engine.data.worker_split`). The CPU's default: on a CPU the batched float crop-and-resize
  of `decoded` ran at 0.49x torchvision's PIL DataLoader (benchmarks/README.md, benchmark 3).

The engine asks `choose` with the device it trains on; `kdsweep plan`, which imports no torch
and knows no device, shows `planned`: for `auto` on file data sets both cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kdsweep.errors import UserError
from kdsweep.spec.names import datasets_of_files

TENSOR, DECODED, WORKERS = "tensor", "decoded", "workers"


def on_device_value(value: Any) -> bool | str:
    """`data.on_device` as True, False or "auto" (YAML and `-o` may give a bool or a string)."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("auto", "true", "false"):
        return "auto" if text == "auto" else text == "true"
    raise UserError(f"expected true, false or auto, got {value!r}", where="data.on_device")


def choose(on_device: Any, *, files: bool, device_type: str, fits: Callable[[], bool]) -> str:
    """The path for a data set (`files`: its loader reads image files) on a device of `device_type`;
    `fits()`: whether the decoded data set fits the device's share of memory (asked only on CUDA)."""
    if not files:
        return TENSOR
    wanted = on_device_value(on_device)
    if wanted is True or (wanted == "auto" and device_type == "cuda" and fits()):
        return DECODED
    return WORKERS


def planned(data: dict[str, Any]) -> str:
    """The path a resolved `data` section gets, as `kdsweep plan` shows it (no device known)."""
    if data.get("fake") or data["name"] not in datasets_of_files():
        return TENSOR
    wanted = on_device_value(data.get("on_device", "auto"))
    if wanted == "auto":
        return f"{WORKERS} (CUDA: {DECODED} if it fits)"
    return DECODED if wanted else WORKERS
