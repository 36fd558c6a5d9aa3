"""The batched crops of the tensor path (`batched`): RandomCrop and RandomResizedCrop, and the
per-sample parameter draws they share with RandomErasing.

Parameters are drawn from the epoch's CPU generator in one call per batch, the same on every
device. How the pixels move depends on the device, because what is fast differs:

- On the CPU the batch stays uint8 (`takes_uint8`) and each sample is copied (RandomCrop) or
  resized (RandomResizedCrop, torch's uint8 antialiased `interpolate`: what torchvision v2 does
  to a uint8 tensor) one at a time; per-sample slices are cheap there, and uint8 moves a
  quarter of the bytes. Profiled on CIFAR-sized batches, the batched gather below was half of
  the whole epoch's time; the loop takes a quarter of it (benchmarks/README.md, benchmark 3).
- On a GPU one launch per batch matters more: RandomCrop is one gather of per-sample windows,
  RandomResizedCrop one `grid_sample` on floats (no antialiasing; crops are mostly upsampled).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from kdsweep.errors import UserError


def uniform(gen: torch.Generator, n: int, lo: float, hi: float, *shape: int) -> Tensor:
    return torch.rand(n, *shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo


def randint_upto(gen: torch.Generator, high: Tensor) -> Tensor:
    """Per-sample integers in [0, high) (high >= 1), as torch.randint would give one at a time."""
    draws = torch.rand(high.shape, generator=gen, dtype=torch.float64) * high
    return draws.floor().long().clamp_(max=high - 1)


def box_tries(gen: torch.Generator, n: int, area: float, scale: Sequence[float], ratio: Sequence[float],
              tries: int = 10) -> tuple[Tensor, Tensor]:
    """torchvision's candidate boxes: (n, tries) widths and heights before the fit test."""
    target = area * uniform(gen, n, scale[0], scale[1], tries)
    log_r = uniform(gen, n, math.log(ratio[0]), math.log(ratio[1]), tries).exp()
    return (target * log_r).sqrt().round().long(), (target / log_r).sqrt().round().long()


def first_fit(ok: Tensor, values: Tensor) -> Tensor:
    """Per row, the value of the first try that fits (any value where none does)."""
    return values.gather(1, ok.long().argmax(1, keepdim=True)).squeeze(1)


def fill01(fill: Any, channels: int) -> Tensor:
    """A fill on the 0..1 scale; values above 1 were written for PIL images, on the 0..255 scale."""
    values = [float(fill)] * channels if isinstance(fill, (int, float)) else [float(v) for v in fill]
    if len(values) == 1:
        values = values * channels
    return torch.tensor([v / 255.0 if v > 1 else v for v in values], dtype=torch.float32)


def _on_cpu(x: Tensor) -> bool:
    return x.device.type == "cpu"


class PadCrop:
    _MODES = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}

    def __init__(self, t: v2.RandomCrop):
        self.size = tuple(t.size)
        self.padding = list(t.padding) if t.padding is not None else [0, 0, 0, 0]  # left, right, top, bottom
        self.pad_if_needed = t.pad_if_needed
        self.mode = self._MODES[t.padding_mode]
        self.fill = t.fill
        # uint8 only where it gives the float path's exact values: a fill of one whole 0..255 level.
        fill = fill01(self.fill, 3) * 255
        self.uint8_fill = self.mode != "constant" or bool((fill == fill[0]).all() and fill[0] == fill[0].round())

    def takes_uint8(self, device: torch.device) -> bool:
        return device.type == "cpu" and self.uint8_fill

    def _pad(self, x: Tensor, pads: list[int]) -> Tensor:
        if not any(pads):
            return x
        if self.mode != "constant":
            return F.pad(x, pads, mode=self.mode)
        fill = fill01(self.fill, x.shape[1])  # on the CPU: inspecting it costs no device sync
        if x.dtype == torch.uint8:  # takes_uint8: one whole level for every channel
            return F.pad(x, pads, value=int(round(float(fill[0]) * 255)))
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
        i = randint_upto(gen, torch.full((n,), h - th + 1))
        j = randint_upto(gen, torch.full((n,), w - tw + 1))
        if _on_cpu(x):
            out = torch.empty((n, c, th, tw), dtype=x.dtype)
            for k, (top, left) in enumerate(zip(i.tolist(), j.tolist(), strict=True)):
                out[k] = x[k, :, top:top + th, left:left + tw]
            return out
        i, j = i.to(x.device), j.to(x.device)
        rows = (i[:, None] + torch.arange(th, device=x.device))[:, None, :, None]
        cols = (j[:, None] + torch.arange(tw, device=x.device))[:, None, None, :]
        batch = torch.arange(n, device=x.device)[:, None, None, None]
        chan = torch.arange(c, device=x.device)[None, :, None, None]
        return x[batch, chan, rows, cols]


class ResizedCrop:
    _MODES = {"nearest": "nearest", "nearest-exact": "nearest", "bilinear": "bilinear", "bicubic": "bicubic"}

    def __init__(self, t: v2.RandomResizedCrop, mode: str):
        self.size, self.scale, self.ratio, self.mode = tuple(t.size), t.scale, t.ratio, mode
        self.interpolation, self.antialias = t.interpolation, t.antialias

    @classmethod
    def mode_of(cls, t: v2.RandomResizedCrop) -> str | None:
        interp = getattr(t.interpolation, "value", t.interpolation)
        return cls._MODES.get(str(interp).lower())

    def takes_uint8(self, device: torch.device) -> bool:
        return device.type == "cpu"

    def boxes(self, gen: torch.Generator, n: int, height: int, width: int) -> Tensor:
        """(n, 4) boxes i, j, h, w, sampled as torchvision's RandomResizedCrop.get_params."""
        w, h = box_tries(gen, n, float(height * width), self.scale, self.ratio)
        ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        found = ok.any(1)
        w, h = first_fit(ok, w), first_fit(ok, h)
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
        i = torch.where(found, randint_upto(gen, height - h + 1), (height - h) // 2)
        j = torch.where(found, randint_upto(gen, width - w + 1), (width - w) // 2)
        return torch.stack([i, j, h, w], 1)

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        n, _, height, width = x.shape
        boxes = self.boxes(gen, n, height, width)
        if _on_cpu(x):
            return self._per_sample(x, boxes)
        return self._grid(x, boxes)

    def _per_sample(self, x: Tensor, boxes: Tensor) -> Tensor:
        """torchvision v2's own crop + resize of each sample (uint8 in, uint8 out; antialiased as v2's)."""
        out = torch.empty((x.shape[0], x.shape[1], *self.size), dtype=x.dtype)
        for k, (i, j, h, w) in enumerate(boxes.tolist()):
            out[k] = TF.resized_crop(x[k], i, j, h, w, list(self.size), interpolation=self.interpolation,
                                     antialias=self.antialias)
        return out

    def _grid(self, x: Tensor, boxes: Tensor) -> Tensor:
        """One `grid_sample` for the batch: each output pixel centre mapped onto its sample's box."""
        n, _, height, width = x.shape
        i, j, h, w = boxes.double().unbind(1)
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
