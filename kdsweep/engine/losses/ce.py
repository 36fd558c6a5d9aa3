"""The hard-label term: cross-entropy with optional label smoothing."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class CEOptions(Options):
    weight: float | None = option(None, types=(int, float), low=0)  # None: the plan fills it (see below)
    label_smoothing: float = option(0.0, low=0, high=1, high_open=True)


ENTRY = LossEntry("ce", CEOptions, impl="CrossEntropy", batched=True)


class CrossEntropy(LossTerm):
    """Cross-entropy against the labels (class indices, or class probabilities).

    Its weight is the complement of the soft term's: the plan fills 1 - kd.alpha when a
    `kd` term is present (004, 003; 002 after rewriting its alpha), 0 beside a label
    refinery (001 trains on the teacher's labels alone), and 1 otherwise. A weight left
    None here means 1, so a config built by hand still trains.
    """

    name = "ce"

    def __init__(self, weight: float = 1.0, label_smoothing: float = 0.0, *, where: str = "loss.ce"):
        super().__init__(weight, where=where)
        self.label_smoothing = float(label_smoothing)

    @classmethod
    def from_options(cls, opts: CEOptions, *, where: str) -> CrossEntropy:
        return cls(1.0 if opts.weight is None else opts.weight, opts.label_smoothing, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        labels = ctx.labels if not ctx.labels.is_floating_point() else ctx.labels.float()
        logits = ctx.student_logits if ctx.margin_logits is None else ctx.margin_logits
        return F.cross_entropy(logits.float(), labels, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, label_smoothing={self.label_smoothing:g}"
