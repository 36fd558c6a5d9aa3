"""The workers path: which part of a transform list runs per sample, which in batches.

Image files have their own sizes, so decoding and every transform up to the one that fixes the
size (crops, resizes) run per sample in the DataLoader's worker processes, on PIL images as
torchvision's classic recipe runs them, ending in a uint8 tensor. The tail that keeps the size
and has a batched twin (flips, ColorJitter without hue, RandomErasing with a value, Normalize;
conversions are skipped) runs a batch at a time on the training device (`batched`). A batch
crosses from the workers as uint8: a quarter of the bytes of float32, and the per-sample
float conversion and normalisation torchvision's recipe pays are one pass per batch here.

A list that converts or normalises before its last per-sample transform cannot stay uint8 in
the workers; it runs wholly per sample (`transforms.pil_pipeline`), as before this split.

Where every per-sample transform is geometric (crops, resizes, pads, flips: `ON_TENSORS`), the
workers decode straight to a uint8 tensor (`loader_source.open_uint8`) and v2 runs them on it:
torch's uint8 antialiased resize instead of PIL's, within 2 levels of PIL's pixels (mean 0.03
levels on benchmark 3's JPEGs), for about a quarter less CPU per image than decode + crop in PIL.
Other transforms (RandAugment, ColorJitter with hue, ...) keep their PIL inputs, and so does
the val split, so that evaluation sees PIL's exact pixels (those the decoded path's cache holds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchvision.transforms import v2

from kdsweep.engine.data import transforms as tf
from kdsweep.engine.data.batched import (
    Erase,
    Flip,
    Jitter,
    Normalize,
    TensorPipeline,
    batched_op,
    compile_pipeline,
)
from kdsweep.engine.data.loader_source import open_rgb, open_uint8

BATCHED_TAIL = (Flip, Jitter, Erase, Normalize)  # batched twins that keep the image size
# v2 transforms that do the same to a PIL image and a uint8 tensor (resampling rounding aside)
ON_TENSORS = frozenset({"RandomResizedCrop", "Resize", "CenterCrop", "RandomCrop", "Pad", "RandomHorizontalFlip",
                        "RandomVerticalFlip"})


@dataclass
class WorkerSplit:
    per_sample: v2.Compose  # in the workers: the image -> uint8 tensor, or (tail None) the whole list
    tail: TensorPipeline | None  # per batch on the device; None: the workers hand over normalised float32
    on_tensors: bool  # the per-sample part takes a decoded uint8 tensor (`open_uint8`), not a PIL image


def tail_start(parsed: list[tuple[str, dict[str, Any]]], where: str) -> int | None:
    """Index of the first item of the batched tail, or None when the list cannot be split."""
    start = len(parsed)
    while start > 0:
        name, kwargs = parsed[start - 1]
        if name not in tf.CONVERSIONS and not isinstance(
                batched_op(name, tf.build_one(name, kwargs, f"{where}[{start - 1}]")), BATCHED_TAIL):
            break
        start -= 1
    if any(name in tf.CONVERSIONS or name == "Normalize" for name, _ in parsed[:start]):
        return None
    return start


def worker_pipelines(specs: Any, mean: Sequence[float], std: Sequence[float], where: str) -> WorkerSplit:
    """How a transform list runs on the workers path."""
    parsed = tf.parse(specs, where)
    start = tail_start(parsed, where)
    if start is None:
        return WorkerSplit(tf.pil_pipeline(specs, mean, std, where), None, False)
    steps = [tf.build_one(name, kwargs, f"{where}[{i}]") for i, (name, kwargs) in enumerate(parsed[:start])]
    per_sample = v2.Compose([*steps, v2.ToImage(), v2.ToPureTensor()])  # a uint8 CHW tensor
    tail = [{"name": name, **kwargs} for name, kwargs in parsed[start:]]
    on_tensors = all(name in ON_TENSORS for name, _ in parsed[:start])
    return WorkerSplit(per_sample, compile_pipeline(tail, mean, std, f"{where}[{start}:]"), on_tensors)


def worker_copies(lists: list[tuple[Any, str]], mean: Sequence[float], std: Sequence[float], *, tensors: bool
                  ) -> tuple[list[v2.Compose], list[TensorPipeline] | None, Callable[[Path], Any]]:
    """For the copies of one split ([(transform list, where)]): the per-sample pipelines, the batched
    tails (None: every copy wholly per sample, since one batch cannot mix uint8 and float samples) and
    the file opener (a uint8 tensor where `tensors` allows it and every copy takes one)."""
    splits = [worker_pipelines(specs, mean, std, where) for specs, where in lists]
    if any(split.tail is None for split in splits):
        return [tf.pil_pipeline(specs, mean, std, where) for specs, where in lists], None, open_rgb
    opener = open_uint8 if tensors and all(split.on_tensors for split in splits) else open_rgb
    return [split.per_sample for split in splits], [split.tail for split in splits], opener
