"""Augmentation of a whole batch on its device, airbench style.

On the tensor path a batch is one NCHW tensor on the training device: uint8 while the ops
allow it (see `TensorPipeline`), then float in [0, 1] until Normalize. The common random transforms are reimplemented as batched tensor ops with per-sample
random parameters drawn from the epoch's generator (on the CPU, so the CPU and CUDA draw the
same parameters), following torchvision v2's sampling rules:

- RandomHorizontalFlip, RandomVerticalFlip: a per-sample coin.
- RandomCrop (padding, pad_if_needed, fill, constant / edge / reflect padding): pad once,
  take a per-sample window (`batched_crops`: a uint8 copy per sample on the CPU, one gather
  on a GPU).
- RandomResizedCrop (nearest / bilinear / bicubic): torchvision's 10-try box sampling,
  vectorised; then on the CPU torchvision's own uint8 crop + resize per sample (antialiased,
  as v2 is), on a GPU one `grid_sample` (no antialiasing; crops are mostly upsampled).
- ColorJitter without hue: brightness / contrast / saturation with a per-sample random order.
- RandomErasing with a constant value: one per-sample rectangle.
- Normalize.

Deterministic transforms (Resize, CenterCrop, Pad, Grayscale, RGB, ...) run once on the
whole batch. Every other transform (RandAugment, RandomRotation, ColorJitter with hue, ...)
runs per sample with torchvision v2 under a per-sample seed drawn from the same generator
(see `seeding.isolated_rng`). Type conversions (ToTensor, ToImage, ToDtype, ...) are skipped:
the pipeline converts to float itself. Arguments are read on the float 0..1 scale, as v2 reads them
for float images (e.g. RandomSolarize's threshold), except fill values above 1, which are
read as 0..255 and scaled, so a fill written for PIL images means the same here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchvision.transforms import v2

from kdsweep.engine.data import transforms as tf
from kdsweep.engine.data.batched_crops import (
    PadCrop,
    ResizedCrop,
    box_tries,
    first_fit,
    randint_upto,
    uniform,
)
from kdsweep.engine.data.seeding import isolated_rng, reseed, sample_seeds
from kdsweep.errors import UserError

WHOLE_BATCH = frozenset(
    {"Resize", "CenterCrop", "Pad", "Grayscale", "RGB", "Identity", "LinearTransformation"}
)
GRAYSCALE = (0.2989, 0.587, 0.114)


class Flip:
    def __init__(self, p: float, dim: int):
        self.p, self.dim = float(p), dim

    def takes_uint8(self, device: torch.device) -> bool:
        return True

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        # The coins are on the CPU, so picking the flipped rows costs no device sync; copying only
        # those rows back was 3x faster than a `where` over the whole batch (CPU, CIFAR-sized).
        rows = (torch.rand(x.shape[0], generator=gen) < self.p).nonzero().squeeze(1)
        if len(rows) == 0:
            return x
        rows = rows.to(x.device, non_blocking=True)
        return x.index_copy(0, rows, x.index_select(0, rows).flip(self.dim))


def _gray(x: Tensor) -> Tensor:
    if x.shape[1] != 3:
        return x.mean(1, keepdim=True)
    weights = torch.tensor(GRAYSCALE, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


class Jitter:
    """ColorJitter without hue; each sample applies its factors in its own random order."""

    def __init__(self, t: v2.ColorJitter):
        self.ranges = [t.brightness, t.contrast, t.saturation]

    @staticmethod
    def _apply(kind: int, x: Tensor, f: Tensor) -> Tensor:
        f = f.view(-1, 1, 1, 1)
        if kind == 0:
            other = torch.zeros_like(x[:1])
        elif kind == 1:
            other = _gray(x).mean((1, 2, 3), keepdim=True)
        else:
            if x.shape[1] == 1:
                return x
            other = _gray(x)
        return (f * x + (1 - f) * other).clamp_(0, 1)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        n = x.shape[0]
        order = torch.rand(n, 3, generator=gen).argsort(1)
        factors = [None if r is None else uniform(gen, n, r[0], r[1]).float() for r in self.ranges]
        for slot in range(3):
            for kind, f in enumerate(factors):
                if f is None:
                    continue
                f = torch.where(order[:, slot] == kind, f, torch.ones_like(f))  # 1 leaves a sample alone
                x = self._apply(kind, x, f.to(x.device, non_blocking=True))
        return x


class Erase:
    def __init__(self, t: v2.RandomErasing):
        self.p, self.scale, self.ratio, self.value = t.p, t.scale, t.ratio, t.value

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        n, c, height, width = x.shape
        apply = torch.rand(n, generator=gen) < self.p
        # v2 draws the box as (h, w) = (sqrt(a * r), sqrt(a / r)) and needs it strictly inside.
        h, w = box_tries(gen, n, float(height * width), self.scale, self.ratio)
        ok = (h < height) & (w < width)
        apply &= ok.any(1)
        h, w = first_fit(ok, h).clamp(max=height - 1), first_fit(ok, w).clamp(max=width - 1)
        i = randint_upto(gen, height - h + 1)
        j = randint_upto(gen, width - w + 1)
        dev = x.device
        ys = torch.arange(height, device=dev).view(1, -1, 1)
        xs = torch.arange(width, device=dev).view(1, 1, -1)
        i, j, h, w, apply = (t.to(dev, non_blocking=True).view(-1, 1, 1) for t in (i, j, h, w, apply))
        mask = apply & (ys >= i) & (ys < i + h) & (xs >= j) & (xs < j + w)
        value = torch.tensor([float(v) for v in self.value], device=dev, dtype=x.dtype)
        value = value.expand(c) if value.numel() == 1 else value
        return torch.where(mask[:, None], value.view(1, c, 1, 1), x)


class Normalize:
    """(x - mean) / std; a uint8 batch is converted and normalised in one pass, x * a - b with
    a = 1 / (255 std) and b = mean / std (within 1e-6 of dividing by 255 first)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)
        self.scale, self.shift = 1 / (255 * self.std), self.mean / self.std

    def takes_uint8(self, device: torch.device) -> bool:
        return True

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        if self.mean.device != x.device:  # moved once, not per batch
            self.mean, self.std, self.scale, self.shift = (
                t.to(x.device) for t in (self.mean, self.std, self.scale, self.shift))
        if x.dtype == torch.uint8:
            return x.float().mul_(self.scale).sub_(self.shift)
        return (x - self.mean) / self.std


class WholeBatch:
    """A deterministic v2 transform, applied to the batch at once."""

    def __init__(self, t: v2.Transform):
        self.t = t

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        return torch.as_tensor(self.t(x))


class PerSample:
    """Random v2 transforms without a batched twin: one sample at a time, each from its own seed."""

    def __init__(self, ts: list[v2.Transform], names: list[str], where: str):
        self.t = v2.Compose(ts)
        self.names, self.where = names, where

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        seeds = sample_seeds(gen, x.shape[0])
        outs = []
        with isolated_rng(x.device):
            for sample, seed in zip(x, seeds, strict=True):
                reseed(seed, x.device)
                outs.append(torch.as_tensor(self.t(sample)))
        if len({o.shape for o in outs}) > 1:
            raise UserError(f"{'+'.join(self.names)} gives images of different sizes within a batch; "
                            "follow it with a fixed-size crop or resize", where=self.where)
        return torch.stack(outs).float()


def batched_op(name: str, t: v2.Transform) -> Any:
    """The batched twin of a v2 transform, or None when it has to run per sample."""
    if name in ("RandomHorizontalFlip", "RandomVerticalFlip"):
        return Flip(t.p, -1 if name == "RandomHorizontalFlip" else -2)
    if name == "RandomCrop" and t.padding_mode in PadCrop._MODES:
        return PadCrop(t)
    if name == "RandomResizedCrop" and ResizedCrop.mode_of(t):
        return ResizedCrop(t, ResizedCrop.mode_of(t))
    if name == "ColorJitter" and t.hue is None:
        return Jitter(t)
    if name == "RandomErasing" and t.value is not None:
        return Erase(t)
    if name == "Normalize":
        return Normalize(t.mean, t.std)
    if name in WHOLE_BATCH:
        return WholeBatch(t)
    return None


class TensorPipeline:
    """uint8 NCHW batch -> augmented, normalised float32 NCHW batch on the same device.

    The batch stays uint8 while the ops can take it on its device (`takes_uint8`: flips, and on
    the CPU the crops), so they move a quarter of the bytes and the conversion to float happens
    once, at the output size, fused into Normalize where it comes next."""

    def __init__(self, ops: list[Any], names: list[str]):
        self.ops, self.names = ops, names

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        for op in self.ops:
            if x.dtype == torch.uint8 and not _takes_uint8(op, x.device):
                x = x.float().div_(255)
            x = op(x, gen)
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        return x.contiguous()

    def describe(self) -> list[str]:
        """Which op runs how, e.g. ['RandomCrop:batched', 'RandAugment:per-sample']."""
        return self.names


def _takes_uint8(op: Any, device: torch.device) -> bool:
    takes = getattr(op, "takes_uint8", None)
    return takes is not None and takes(device)


def compile_pipeline(specs: Any, mean: Sequence[float], std: Sequence[float], where: str) -> TensorPipeline:
    """Build the tensor path's pipeline from a transform list (Normalize appended when absent)."""
    parsed = tf.parse(specs, where)
    if not tf.has_normalize(parsed):
        parsed = [*parsed, ("Normalize", {"mean": list(mean), "std": list(std)})]
    ops: list[Any] = []
    names: list[str] = []
    pending: list[tuple[str, v2.Transform]] = []

    def flush() -> None:
        if pending:
            ops.append(PerSample([t for _, t in pending], [n for n, _ in pending], where))
            names.extend(f"{n}:per-sample" for n, _ in pending)
            pending.clear()

    for i, (name, kwargs) in enumerate(parsed):
        if name in tf.CONVERSIONS:
            continue
        t = tf.build_one(name, kwargs, f"{where}[{i}]")
        op = batched_op(name, t)
        if op is None:
            pending.append((name, t))
            continue
        flush()
        ops.append(op)
        names.append(f"{name}:{'whole-batch' if isinstance(op, WholeBatch) else 'batched'}")
    flush()
    return TensorPipeline(ops, names)


def augment_copies(pipelines: Sequence[TensorPipeline], x: Tensor, copy: Tensor, gen: torch.Generator) -> Tensor:
    """A batch mixing copies of the train set (`data.copies`): each sample through its copy's
    pipeline; `copy` holds each sample's copy number, on the CPU."""
    if len(pipelines) == 1:
        return pipelines[0](x, gen)
    out = None
    for k, pipeline in enumerate(pipelines):
        rows = (copy == k).nonzero().squeeze(1).to(x.device)
        if len(rows) == 0:
            continue
        part = pipeline(x[rows], gen)
        if out is None:
            out = torch.empty((len(copy), *part.shape[1:]), dtype=part.dtype, device=part.device)
        out[rows] = part
    assert out is not None
    return out
