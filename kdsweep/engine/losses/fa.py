"""Feature Affinity loss (000): match the student's pixel-to-pixel similarity to the teacher's."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LayerPairTerm, LossContext
from kdsweep.engine.losses.maps import resize_like, spatial
from kdsweep.errors import UserError
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, layer_name, option


@dataclass
class FAOptions(Options):
    weight: float = option(1.0, low=0)
    student_layer: str = option()  # required: a module name as model.named_modules() prints it
    teacher_layer: str = option()
    fast: bool = False
    local_radius: int | None = option(None, types=(int,))  # None: global FA; else pairs within this radius
    local_weight: float = option(2.0, low=0)  # ... weigh local_weight

    def check(self, where: str) -> None:
        layer_name(self.student_layer, f"{where}.student_layer")
        layer_name(self.teacher_layer, f"{where}.teacher_layer")
        radius = self.local_radius
        if radius is not None and (isinstance(radius, bool) or not isinstance(radius, int) or radius < 0):
            raise UserError(f"expected a whole number of pixels >= 0 or null, got {radius!r}",
                            where=f"{where}.local_radius")


ENTRY = LossEntry("fa", FAOptions, impl="FeatureAffinity", needs_teacher=True)


class FeatureAffinity(LayerPairTerm):
    """sum_b L1(A_s - A_t) / (HW)^2, A = F^T F over L2-normalised pixel vectors (000).

    Teacher and student maps may have different channel counts: the affinity is HW x HW,
    so only the spatial sizes must agree, and the teacher's map is bilinearly resized to the
    student's with align_corners=True, as 000's code does. No adapter is learned (000: "we do
    not add extra 1x1 Conv"). The loss is summed over the batch, as 000's code did, so its
    scale grows with the batch size.

    `fast` (000's "Fast FA"): instead of the HW x HW affinities, compare A v = F^T (F v) for
    one Gaussian vector v of length HW drawn per call and shared by the batch, with the
    same L1 / (HW)^2 normalisation: O(HW C) instead of O((HW)^2 C). v comes from a
    `torch.Generator` on the maps' device, seeded per call with a number drawn from torch's
    global (CPU) generator: it is reproducible under the run's seed, and the CUDA kernel
    draws it without a host round trip.

    `local_radius` r: pixel pairs within Chebyshev distance r (the (2r+1) x (2r+1) window
    around a pixel) weigh `local_weight`, all others 1: the global affinity with a local
    emphasis. The normalisation stays (HW)^2, so local_weight 1 is the plain loss. The fast
    variant gets the same weighting without forming HW x HW matrices, through a box sum of
    F * v over each window.
    """

    name = "fa"

    def __init__(self, student_layer: str, teacher_layer: str, weight: float = 1.0, *, fast: bool = False,
                 local_radius: int | None = None, local_weight: float = 2.0, where: str = "loss.fa"):
        super().__init__(weight, where=where)
        self.student_layer = student_layer
        self.teacher_layer = teacher_layer
        self.fast = fast
        self.local_radius = local_radius
        self.local_weight = float(local_weight)
        self._pair_weights: dict[tuple[int, int, str], torch.Tensor] = {}

    @classmethod
    def from_options(cls, opts: FAOptions, *, where: str) -> FeatureAffinity:
        return cls(opts.student_layer, opts.teacher_layer, opts.weight, fast=opts.fast,
                   local_radius=opts.local_radius, local_weight=opts.local_weight, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        fs = spatial(self.feature(ctx.student_feats, self.student_layer, "student"), self.student_layer,
                     where=f"{self.where}.student_layer")
        ft = spatial(self.feature(ctx.teacher_feats, self.teacher_layer, "teacher"), self.teacher_layer,
                     where=f"{self.where}.teacher_layer")
        ft = resize_like(ft, fs, align_corners=True)
        if fs.shape[0] != ft.shape[0]:
            raise ValueError(f"student and teacher batches differ: {fs.shape[0]} vs {ft.shape[0]}")
        h, w = fs.shape[-2:]
        n = h * w
        fs = F.normalize(fs, dim=1).flatten(2)  # (B, C, HW), each pixel's channel vector unit length
        ft = F.normalize(ft, dim=1).flatten(2)
        if self.fast:
            v = probe_vector(n, fs.device)
            diff = self._affinity_times(fs, v, h, w) - self._affinity_times(ft, v, h, w)
        else:
            diff = affinity(fs) - affinity(ft)
            if self._local:
                diff = diff * self._weights(h, w, fs.device)
        return diff.abs().sum() / (n * n)

    @property
    def _local(self) -> bool:
        return self.local_radius is not None and self.local_weight != 1.0

    def _affinity_times(self, f: torch.Tensor, v: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """(W o A) v per sample, A = F^T F, W the pair weights: (B, HW)."""
        out = torch.einsum("bcn,bc->bn", f, f @ v)  # F^T (F v)
        if self._local:
            maps = f.unflatten(2, (h, w))
            window = box_sum(maps * v.view(1, 1, h, w), self.local_radius)  # sum_{j near i} f_j v_j
            out = out + (self.local_weight - 1.0) * (maps * window).sum(dim=1).flatten(1)
        return out

    def _weights(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        key = (h, w, str(device))
        if key not in self._pair_weights:
            ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
            ys, xs = ys.flatten(), xs.flatten()
            cheb = torch.maximum((ys[:, None] - ys[None, :]).abs(), (xs[:, None] - xs[None, :]).abs())
            near = cheb <= self.local_radius
            self._pair_weights[key] = torch.where(near, self.local_weight, 1.0).float()
        return self._pair_weights[key]

    def extra_repr(self) -> str:
        return (f"student_layer={self.student_layer!r}, teacher_layer={self.teacher_layer!r}, "
                f"weight={self.weight:g}, fast={self.fast}, local_radius={self.local_radius}, "
                f"local_weight={self.local_weight:g}")


def affinity(f: torch.Tensor) -> torch.Tensor:
    """F^T F per sample: (B, C, HW) -> (B, HW, HW) cosine similarities between pixels."""
    return f.transpose(1, 2) @ f


def probe_vector(n: int, device: torch.device) -> torch.Tensor:
    """Fast FA's Gaussian vector: a device generator seeded from the global RNG (see FeatureAffinity)."""
    seed = int(torch.randint(0, 2**62, ()).item())
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return torch.randn(n, generator=gen, device=device)


def box_sum(x: torch.Tensor, r: int) -> torch.Tensor:
    """Sum of x over the (2r+1) x (2r+1) window around each pixel, zeros outside: O(1) per pixel."""
    for dim in (-2, -1):
        size = x.shape[dim]
        prefix = F.pad(torch.cumsum(x, dim=dim), (1, 0) if dim == -1 else (0, 0, 1, 0))  # prefix[k] = sum x[:k]
        idx = torch.arange(size, device=x.device)
        hi = (idx + r + 1).clamp(max=size)
        lo = (idx - r).clamp(min=0)
        x = prefix.index_select(dim, hi) - prefix.index_select(dim, lo)
    return x
