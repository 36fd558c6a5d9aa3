"""Hinton's soft-target term: KL divergence between temperature-softened outputs."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LOSSES, LossContext, LossTerm, number, options
from kdsweep.errors import UserError


@LOSSES.register("kd")
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
    needs_teacher = True

    def __init__(self, T: float = 4.0, alpha: float = 0.9, t2_scale: bool = True, *, where: str = "loss.kd"):
        super().__init__(alpha * (T * T if t2_scale else 1.0), where=where)
        self.T = float(T)
        self.alpha = float(alpha)
        self.t2_scale = bool(t2_scale)

    @classmethod
    def from_config(cls, cfg: Any, *, where: str) -> HintonKD:
        opts = options(cfg, "kd", where=where)
        T = number(opts["T"], f"{where}.T", low_open=True)
        alpha = number(opts["alpha"], f"{where}.alpha", high=1.0)
        if not isinstance(opts["t2_scale"], bool):
            raise UserError(f"expected true or false, got {opts['t2_scale']!r}", where=f"{where}.t2_scale")
        return cls(T, alpha, opts["t2_scale"], where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        log_s = F.log_softmax(ctx.student_logits.float() / self.T, dim=1)
        log_t = F.log_softmax(self.teacher_logits(ctx) / self.T, dim=1)
        return F.kl_div(log_s, log_t, reduction="batchmean", log_target=True)

    def extra_repr(self) -> str:
        return f"T={self.T:g}, alpha={self.alpha:g}, t2_scale={self.t2_scale}, weight={self.weight:g}"
