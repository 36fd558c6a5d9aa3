"""Label refinery (001, 000): train on the teacher's soft labels alone."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class RefineryOptions(Options):
    weight: float = option(1.0, low=0)
    teacher_mode: str = option("eval", choices=("eval", "train"))


# Trained on the teacher's labels alone: the hard-label term gets weight 0 (001).
ENTRY = LossEntry("refinery", RefineryOptions, impl="Refinery", needs_teacher=True,
                  teacher_mode_option="teacher_mode", ce_weight=lambda opts: 0.0)


class Refinery(LossTerm):
    """Soft-target cross-entropy -sum(softmax(t) * log_softmax(s)), batch mean.

    As 001's code (values and gradients pinned by
    tests/engine/losses/test_loss_fa_refinery_golden.py): no temperature (the cosine head's
    scale s = 5 already sets the sharpness of both logit vectors) and no hard-label term (the
    plan gives `ce` weight 0).

    `teacher_mode`: 001's code left the refinery model in train mode (batch-norm batch
    statistics and, for a B3 / B0 refinery model, drop-connect active; its cosine classifier
    has no dropout) while it made the labels; `eval` is the sane default and `train`
    reproduces the original. The trainer reads it from `LossSet.teacher_mode` and still runs
    the teacher without gradients either way.
    """

    name = "refinery"

    def __init__(self, weight: float = 1.0, teacher_mode: str = "eval", *, where: str = "loss.refinery"):
        super().__init__(weight, where=where)
        self.teacher_mode = teacher_mode

    @classmethod
    def from_options(cls, opts: RefineryOptions, *, where: str) -> Refinery:
        return cls(opts.weight, opts.teacher_mode, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        log_s = F.log_softmax(ctx.student_logits.float(), dim=1)
        p_t = F.softmax(self.teacher_logits(ctx), dim=1)
        return -(p_t * log_s).sum(dim=1).mean()

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}, teacher_mode={self.teacher_mode}"
