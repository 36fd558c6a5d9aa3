"""Part c2: images/s of kdsweep's tensor data path on the device vs a PIL DataLoader.

The cases are benchmark 3's (bench_data.py: the same files, transforms and batch sizes), with
the tensor path's batches made on the training device and the DataLoader's batches copied to
it (pinned memory, non-blocking), as a training loop would consume them; each side's epoch
ends with a device sync. Median of the rounds after a warm-up epoch each, sides alternating.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import torch
from bench_data import cifar_sides, jpeg_sides
from torch.utils.data import DataLoader, Dataset

from gpu_parts.common import MEASURED, Context, PartResult

TITLE = "c2. data path: kdsweep's tensor path on the device vs a PIL DataLoader"
CORRECTNESS = False
ROUNDS = {True: 3, False: 1}  # on CUDA / on the CPU


def pil_loader(dataset: Dataset, batch: int, workers: int, cuda: bool) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=cuda,
        generator=torch.Generator().manual_seed(0),
    )


def compare(ctx: Context, bundle: Any, loader: DataLoader) -> tuple[float, float]:
    """(tensor path, PIL loader) median seconds per epoch."""
    count = {"epoch": 0}

    def tensor_epoch() -> None:
        count["epoch"] += 1
        for batch in bundle.train.batches(count["epoch"]):
            batch.x.sum()  # touch the batch, as a model would
        ctx.sync()

    def pil_epoch() -> None:
        for x, _ in loader:
            x.to(ctx.device, non_blocking=True).sum()
        ctx.sync()

    times: dict[str, list[float]] = {"tensor": [], "pil": []}
    sides = {"tensor": tensor_epoch, "pil": pil_epoch}
    for r in range(1 + ROUNDS[ctx.cuda]):
        for name in ("tensor", "pil") if r % 2 == 0 else ("pil", "tensor"):
            t0 = time.perf_counter()
            sides[name]()
            if r > 0:  # round 0 warms up (workers start, kernels load)
                times[name].append(time.perf_counter() - t0)
    return statistics.median(times["tensor"]), statistics.median(times["pil"])


def run(ctx: Context, result: PartResult) -> None:
    sizes = ctx.sizes
    root = ctx.work / "data_path"
    workers = min(sizes.loader_workers, os.cpu_count() or 1)
    result.status = MEASURED
    result.reason = (
        f"tensor path on {ctx.device.type}; PIL DataLoader with {workers} worker(s), batches copied "
        f"to the device; median of {ROUNDS[ctx.cuda]} round(s) after a warm-up"
    )
    rows = result.rows
    n = sizes.cifar_images
    bundle, pil = cifar_sides(root, n, 128, ctx.device)
    rows.append(
        _row(
            "CIFAR-sized 32x32, RandomCrop(32, 4) + flip, batch 128",
            n,
            workers,
            *compare(ctx, bundle, pil_loader(pil, 128, workers, ctx.cuda)),
        )
    )
    if sizes.jpegs:
        n = sizes.jpegs
        bundle, pil, build_s, map_s = jpeg_sides(root, n, 64, ctx.device)
        row = _row(
            "JPEG 500x375 -> RandomResizedCrop(224) + flip, batch 64, decode-once cache",
            n,
            workers,
            *compare(ctx, bundle, pil_loader(pil, 64, workers, ctx.cuda)),
        )
        row["note"] = f"cache built in {build_s:.1f} s, mapped in {map_s * 1e3:.0f} ms"
        rows.append(row)


def _row(case: str, n: int, workers: int, tensor_s: float, pil_s: float) -> dict[str, Any]:
    return {
        "case": case,
        "images": n,
        "tensor path images/s": round(n / tensor_s),
        "PIL images/s": round(n / pil_s),
        "PIL loader workers": workers,
        "speed-up": round(pil_s / tensor_s, 2),
    }
