"""Augmentation of a whole batch on its device, airbench style.

On the tensor path a batch is one float NCHW tensor in [0, 1] on the training device.
The common random transforms are reimplemented as batched tensor ops with per-sample
random parameters drawn from the epoch's generator (on the CPU, so the CPU and CUDA draw the
same parameters), following torchvision v2's sampling rules:

- RandomHorizontalFlip, RandomVerticalFlip: a per-sample coin.
- RandomCrop (padding, pad_if_needed, fill, constant / edge / reflect padding): pad once,
  gather a per-sample window.
- RandomResizedCrop (nearest / bilinear / bicubic): torchvision's 10-try box sampling,
  vectorised, then one `grid_sample`; no antialiasing (crops are mostly upsampled).
- ColorJitter without hue: brightness / contrast / saturation with a per-sample random order.
- RandomErasing with a constant value: one per-sample rectangle.
- Normalize.

Deterministic transforms (Resize, CenterCrop, Pad, Grayscale, RGB, ...) run once on the
whole batch. Every other transform (RandAugment, RandomRotation, ColorJitter with hue, ...)
runs per sample with torchvision v2 under a per-sample seed drawn from the same generator
(see `seeding.isolated_rng`). Type conversions (ToTensor, ToImage, ToDtype, ...) are skipped:
the batch is already float. Arguments are read on the float 0..1 scale, as v2 reads them
for float images (e.g. RandomSolarize's threshold), except fill values above 1, which are
read as 0..255 and scaled, so a fill written for PIL images means the same here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms import v2

from kdsweep.engine.data import transforms as tf
from kdsweep.engine.data.seeding import isolated_rng, reseed, sample_seeds
from kdsweep.errors import UserError

WHOLE_BATCH = frozenset(
    {"Resize", "CenterCrop", "Pad", "Grayscale", "RGB", "Identity", "LinearTransformation"}
)
GRAYSCALE = (0.2989, 0.587, 0.114)


def _uniform(gen: torch.Generator, n: int, lo: float, hi: float, *shape: int) -> Tensor:
    return torch.rand(n, *shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo


def _randint_upto(gen: torch.Generator, high: Tensor) -> Tensor:
    """Per-sample integers in [0, high) (high >= 1), as torch.randint would give one at a time."""
    draws = torch.rand(high.shape, generator=gen, dtype=torch.float64) * high
    return draws.floor().long().clamp_(max=high - 1)


def _fill01(fill: Any, channels: int) -> Tensor:
    values = [float(fill)] * channels if isinstance(fill, (int, float)) else [float(v) for v in fill]
    if len(values) == 1:
        values = values * channels
    return torch.tensor([v / 255.0 if v > 1 else v for v in values], dtype=torch.float32)


class Flip:
    def __init__(self, p: float, dim: int):
        self.p, self.dim = float(p), dim

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        flip = (torch.rand(x.shape[0], generator=gen) < self.p).to(x.device, non_blocking=True)
        return torch.where(flip.view(-1, 1, 1, 1), x.flip(self.dim), x)


class PadCrop:
    _MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}

    def __init__(self, t: v2.RandomCrop):
        self.size = tuple(t.size)
        self.padding = list(t.padding) if t.padding is not None else [0, 0, 0, 0]  # left, right, top, bottom
        self.pad_if_needed = t.pad_if_needed
        self.mode = self._MODES[t.padding_mode]
        self.fill = t.fill

    def _pad(self, x: Tensor, pads: list[int]) -> Tensor:
        if not any(pads):
            return x
        if self.mode != "constant":
            return F.pad(x, pads, mode=self.mode)
        fill = _fill01(self.fill, x.shape[1])  # on the CPU: inspecting it costs no device sync
        if bool((fill == fill[0]).all()):  # one value for every channel (the usual 0): one pass
            return F.pad(x, pads, value=float(fill[0]))
        border = F.pad(torch.zeros(1, 1, *x.shape[-2:], device=x.device), pads, value=1.0)
        return F.pad(x, pads) + border * fill.to(x.device).view(1, -1, 1, 1)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        th, tw = self.size
        pads = list(self.padding)
        h, w = x.shape[-2] + pads[2] + pads[3], x.shape[-1] + pads[0] + pads[1]
        if self.pad_if_needed and h < th:  # torchvision pads both sides by the difference
            pads[2] += th - h
            pads[3] += th - h
        if self.pad_if_needed and w < tw:
            pads[0] += tw - w
            pads[1] += tw - w
        x = self._pad(x, pads)
        n, c, h, w = x.shape
        if h < th or w < tw:
            raise UserError(f"RandomCrop size {(th, tw)} is larger than the padded image {(h, w)}; "
                            "add padding or pad_if_needed: true", where="data transforms")
        i = _randint_upto(gen, torch.full((n,), h - th + 1)).to(x.device)
        j = _randint_upto(gen, torch.full((n,), w - tw + 1)).to(x.device)
        rows = (i[:, None] + torch.arange(th, device=x.device))[:, None, :, None]
        cols = (j[:, None] + torch.arange(tw, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(c, device=x.device)[None, :, None, None]
        return x[batch, chan, rows, cols]


def _box_tries(gen: torch.Generator, n: int, area: float, scale: Sequence[float], ratio: Sequence[float],
               tries: int = 10) -> tuple[Tensor, Tensor]:
    """torchvision's candidate boxes: (n, tries) widths and heights before the fit test."""
    target = area * _uniform(gen, n, scale[0], scale[1], tries)
    log_r = _uniform(gen, n, math.log(ratio[0]), math.log(ratio[1]), tries).exp()
    return (target * log_r).sqrt().round().long(), (target / log_r).sqrt().round().long()


def _first(ok: Tensor, values: Tensor) -> Tensor:
    return values.gather(1, ok.long().argmax(1, keepdim=True)).squeeze(1)


class ResizedCrop:
    _MODES = {"nearest": "nearest", "nearest-exact": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}

    def __init__(self, t: v2.RandomResizedCrop, mode: str):
        self.size, self.scale, self.ratio, self.mode = tuple(t.size), t.scale, t.ratio, mode

    @classmethod
    def mode_of(cls, t: v2.RandomResizedCrop) -> str | None:
        interp = getattr(t.interpolation, "value", t.interpolation)
        return cls._MODES.get(str(interp).lower())

    def boxes(self, gen: torch.Generator, n: int, height: int, width: int) -> Tensor:
        """(n, 4) boxes i, j, h, w, sampled as torchvision's RandomResizedCrop.get_params."""
        w, h = _box_tries(gen, n, float(height * width), self.scale, self.ratio)
        ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        found = ok.any(1)
        w, h = _first(ok, w), _first(ok, h)
        # Fallback when no try fits: the central crop clipped to the ratio range.
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            fw, fh = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            fw, fh = int(round(height * max(self.ratio))), height
        else:
            fw, fh = width, height
        w = torch.where(found, w, torch.full_like(w, fw))
        h = torch.where(found, h, torch.full_like(h, fh))
        i = torch.where(found, _randint_upto(gen, height - h + 1), (height - h) // 2)
        j = torch.where(found, _randint_upto(gen, width - w + 1), (width - w) // 2)
        return torch.stack([i, j, h, w], 1)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        n, _, height, width = x.shape
        i, j, h, w = self.boxes(gen, n, height, width).double().unbind(1)
        # Map output pixel centres onto the box (align_corners=False), as a crop + resize does.
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0] = w / width
        theta[:, 0, 2] = (2 * j + w) / width - 1
        theta[:, 1, 1] = h / height
        theta[:, 1, 2] = (2 * i + h) / height - 1
        # Keep samples within the box's outer pixel centres, as resizing the cropped image does.
        lo = torch.stack([(2 * j + 1) / width, (2 * i + 1) / height], 1) - 1
        hi = torch.stack([(2 * (j + w) - 1) / width, (2 * (i + h) - 1) / height], 1) - 1
        lo, hi, theta = (t.to(device=x.device, dtype=x.dtype) for t in (lo, hi, theta))
        grid = F.affine_grid(theta, [n, x.shape[1], *self.size], align_corners=False)
        grid = torch.minimum(torch.maximum(grid, lo[:, None, None]), hi[:, None, None])
        out = F.grid_sample(x, grid, mode=self.mode, padding_mode="border", align_corners=False)
        return out.clamp_(0, 1) if self.mode == "bicubic" else out


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
        factors = [None if r is None else _uniform(gen, n, r[0], r[1]).float() for r in self.ranges]
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
        h, w = _box_tries(gen, n, float(height * width), self.scale, self.ratio)
        ok = (h < height) & (w < width)
        apply &= ok.any(1)
        h, w = _first(ok, h).clamp(max=height - 1), _first(ok, w).clamp(max=width - 1)
        i = _randint_upto(gen, height - h + 1)
        j = _randint_upto(gen, width - w + 1)
        dev = x.device
        ys = torch.arange(height, device=dev).view(1, -1, 1)
        xs = torch.arange(width, device=dev).view(1, 1, -1)
        i, j, h, w, apply = (t.to(dev, non_blocking=True).view(-1, 1, 1) for t in (i, j, h, w, apply))
        mask = apply & (ys >= i) & (ys < i + h) & (xs >= j) & (xs < j + w)
        value = torch.tensor([float(v) for v in self.value], device=dev, dtype=x.dtype)
        value = value.expand(c) if value.numel() == 1 else value
        return torch.where(mask[:, None], value.view(1, c, 1, 1), x)


class Normalize:
    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        if self.mean.device != x.device:  # moved once, not per batch
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
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


def _batched(name: str, t: v2.Transform) -> Any:
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
    """uint8 NCHW batch -> augmented, normalised float32 NCHW batch on the same device."""

    def __init__(self, ops: list[Any], names: list[str]):
        self.ops, self.names = ops, names

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
        for op in self.ops:
            x = op(x, gen)
        return x.contiguous()

    def describe(self) -> list[str]:
        """Which op runs how, e.g. ['RandomCrop:batched', 'RandAugment:per-sample']."""
        return self.names


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
        op = _batched(name, t)
        if op is None:
            pending.append((name, t))
            continue
        flush()
        ops.append(op)
        names.append(f"{name}:{'whole-batch' if isinstance(op, WholeBatch) else 'batched'}")
    flush()
    return TensorPipeline(ops, names)
