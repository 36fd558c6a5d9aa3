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
"""

from __future__ import annotations

from collections.abc import Sequence
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

BATCHED_TAIL = (Flip, Jitter, Erase, Normalize)  # batched twins that keep the image size


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


def worker_pipelines(specs: Any, mean: Sequence[float], std: Sequence[float],
                     where: str) -> tuple[v2.Compose, TensorPipeline | None]:
    """(per-sample pipeline for the workers, batched pipeline for the device, or None when the
    per-sample one does it all and hands over normalised float32)."""
    parsed = tf.parse(specs, where)
    start = tail_start(parsed, where)
    if start is None:
        return tf.pil_pipeline(specs, mean, std, where), None
    steps = [tf.build_one(name, kwargs, f"{where}[{i}]") for i, (name, kwargs) in enumerate(parsed[:start])]
    per_sample = v2.Compose([*steps, v2.ToImage(), v2.ToPureTensor()])  # a uint8 CHW tensor
    tail = [{"name": name, **kwargs} for name, kwargs in parsed[start:]]
    return per_sample, compile_pipeline(tail, mean, std, f"{where}[{start}:]")
