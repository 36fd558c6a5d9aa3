"""Decoupled Knowledge Distillation (DKD, Zhao et al., CVPR 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class DKDOptions(Options):  # mdistiller's CIFAR-100 defaults; ce keeps weight 1 beside it
    alpha: float = option(1.0, low=0)  # weight of the target-class term (TCKD)
    beta: float = option(8.0, low=0)  # weight of the non-target-class term (NCKD)
    T: float = option(4.0, low=0, low_open=True, noun="a temperature")
    warmup_epochs: float = option(20, types=(int, float), low=0)  # 0: no ramp


ENTRY = LossEntry("dkd", DKDOptions, impl="DKD", needs_teacher=True, batched=True)


class DKD(LossTerm):
    """alpha * TCKD + beta * NCKD, both times T^2 and batch-averaged, ramped in over the first epochs.

    TCKD (target class): KL between the binary distributions [p_target, 1 - p_target] of
    teacher and student, softened by T. NCKD (non-target classes): KL between the softmax
    over the other classes only. The term is weighted min(epoch / warmup_epochs, 1) with
    the 1-based epoch, as mdistiller's `DKD.forward_train` does (warmup_epochs 0: no ramp).

    Both binary parts come from log-sum-exps (log p_t = z_t - lse(z), log(1 - p_t) =
    lse(z without t) - lse(z)) and the non-target softmax is taken over the other classes
    themselves, where mdistiller takes the log of summed probabilities and masks the target
    with -1000: the same values and gradients (tests/engine/losses/test_loss_dkd.py pins
    them to mdistiller's), without underflow when p_target is near 0 or 1.
    """

    name = "dkd"

    def __init__(self, alpha: float = 1.0, beta: float = 8.0, T: float = 4.0, warmup_epochs: float = 20,
                 *, where: str = "loss.dkd"):
        super().__init__(0.0 if alpha == beta == 0 else 1.0, where=where)
        self.alpha, self.beta, self.T = float(alpha), float(beta), float(T)
        self.warmup_epochs = float(warmup_epochs)

    @classmethod
    def from_options(cls, opts: DKDOptions, *, where: str) -> DKD:
        return cls(opts.alpha, opts.beta, opts.T, opts.warmup_epochs, where=where)

    def ramp(self, epoch: int) -> float:
        """The warm-up factor for a 1-based epoch."""
        return 1.0 if self.warmup_epochs == 0 else min(epoch / self.warmup_epochs, 1.0)

    def forward(self, ctx: LossContext) -> torch.Tensor:
        return self.weight * self.ramp(ctx.epoch) * self.value(ctx)

    def value(self, ctx: LossContext) -> torch.Tensor:
        s = ctx.student_logits.float() / self.T
        t = self.teacher_logits(ctx) / self.T
        labels = ctx.labels.reshape(-1, 1)
        others = other_columns(labels, s.shape[1])
        b = s.shape[0]
        tckd = F.kl_div(binary_log_probs(s, labels, others), binary_log_probs(t, labels, others), reduction="sum",
                        log_target=True) / b
        nckd = F.kl_div(F.log_softmax(s.gather(1, others), dim=1), F.log_softmax(t.gather(1, others), dim=1),
                        reduction="sum", log_target=True) / b
        return (self.alpha * tckd + self.beta * nckd) * self.T**2

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}, beta={self.beta:g}, T={self.T:g}, warmup_epochs={self.warmup_epochs:g}"


def binary_log_probs(z: torch.Tensor, labels: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """(B, 2): log p_target and log(1 - p_target) of softmax(z), from log-sum-exps."""
    lse = torch.logsumexp(z, dim=1, keepdim=True)
    return torch.cat([z.gather(1, labels), torch.logsumexp(z.gather(1, others), dim=1, keepdim=True)], dim=1) - lse


def other_columns(labels: torch.Tensor, classes: int) -> torch.Tensor:
    """(B, C - 1): each row's class indices without its label (a gather, so no device sync)."""
    cols = torch.arange(classes - 1, device=labels.device).expand(labels.shape[0], -1)
    return cols + (cols >= labels).long()
