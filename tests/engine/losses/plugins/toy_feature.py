"""A toy feature method, written as a contributor would: this one file is the whole method.

It matches the channel-mean of one hooked student layer to the same of one teacher layer
(a made-up loss: the point is the plug-in contract, not the method).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LayerPairTerm, LossContext
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class ToyFeatureOptions(Options):
    weight: float = option(1.0, low=0)
    student_layer: str = option("features.3")
    teacher_layer: str = option("features.3")


ENTRY = LossEntry("toy_feature", ToyFeatureOptions, impl="ToyFeature", needs_teacher=True)


class ToyFeature(LayerPairTerm):
    name = "toy_feature"

    def __init__(self, weight: float, student_layer: str, teacher_layer: str, *, where: str):
        super().__init__(weight, where=where)
        self.student_layer, self.teacher_layer = student_layer, teacher_layer

    @classmethod
    def from_options(cls, opts: ToyFeatureOptions, *, where: str) -> ToyFeature:
        return cls(opts.weight, opts.student_layer, opts.teacher_layer, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        s = self.feature(ctx.student_feats, self.student_layer, "student").mean(dim=(1, 2, 3))
        t = self.feature(ctx.teacher_feats, self.teacher_layer, "teacher").mean(dim=(1, 2, 3))
        return F.mse_loss(s, t)
