"""Hinton's soft-target term: KL divergence between temperature-softened outputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.errors import UserError
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class KDOptions(Options):
    T: float = option(4.0, low=0, low_open=True, noun="a temperature")
    alpha: float = 0.9  # the soft term's weight; ce takes 1 - alpha
    t2_scale: bool = True

    def check(self, where: str) -> None:
        if not 0 <= self.alpha <= 1:
            raise UserError(f"expected a weight in [0, 1], got {self.alpha!r} (0 <= alpha <= 1)",
                            where=f"{where}.alpha")


ENTRY = LossEntry("kd", KDOptions, impl="HintonKD", needs_teacher=True,
                  ce_weight=lambda opts: 1.0 - float(opts["alpha"]), batched=True)


class HintonKD(LossTerm):
    """KL(softmax(t/T) || softmax(s/T)), batch mean, weighted alpha * T^2 (or alpha).

    Both distributions are taken as log_softmax and compared with `log_target=True`, so a
    teacher probability that underflows to 0 costs nothing and never makes 0 * log 0 a NaN.

    004's code used the soft-target cross-entropy -sum(p_t * log p_s) instead. The two
    differ by the teacher's entropy sum(p_t * log p_t), a constant with respect to the
    student, so the gradients, and training, are identical; only the logged value differs
    (KL is 0 when the student matches the teacher). 002 and 003 used this KL directly; 002
    without the T^2 factor (`t2_scale: false`), 003 and 004 with it.
    """

    name = "kd"

    def __init__(self, T: float = 4.0, alpha: float = 0.9, t2_scale: bool = True, *, where: str = "loss.kd"):
        super().__init__(alpha * (T * T if t2_scale else 1.0), where=where)
        self.T = float(T)
        self.alpha = float(alpha)
        self.t2_scale = bool(t2_scale)

    @classmethod
    def from_options(cls, opts: KDOptions, *, where: str) -> HintonKD:
        return cls(opts.T, opts.alpha, opts.t2_scale, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        log_s = F.log_softmax(ctx.student_logits.float() / self.T, dim=1)
        log_t = F.log_softmax(self.teacher_logits(ctx) / self.T, dim=1)
        return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True)

    def extra_repr(self) -> str:
        return f"T={self.T:g}, alpha={self.alpha:g}, t2_scale={self.t2_scale}, weight={self.weight:g}"
