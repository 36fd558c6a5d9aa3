"""DIST: Knowledge Distillation from a Stronger Teacher (Huang et al., NeurIPS 2022)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class DISTOptions(Options):  # the authors' defaults; ce keeps weight 1 beside it
    beta: float = option(1.0, low=0)  # weight of the inter-class relation
    gamma: float = option(1.0, low=0)  # weight of the intra-class relation
    tau: float = option(1.0, low=0, low_open=True, noun="a temperature")


ENTRY = LossEntry("dist", DISTOptions, impl="DIST", needs_teacher=True, batched=True)

EPS = 1e-8  # the authors' guard in the cosine's denominator


class DIST(LossTerm):
    """tau^2 * (beta * (1 - inter) + gamma * (1 - intra)) on softmax(z / tau) of student and teacher.

    inter: the Pearson correlation between a sample's student and teacher class
    distributions, averaged over the batch (relations between classes); intra: the
    correlation between a class's student and teacher values across the batch, averaged
    over classes (relations between samples). It keeps no weight of its own beyond beta and
    gamma (the authors' CIFAR recipe, kd_loss_weight 2 with tau 4, is beta = gamma = 2, tau = 4).
    """

    name = "dist"

    def __init__(self, beta: float = 1.0, gamma: float = 1.0, tau: float = 1.0, *, where: str = "loss.dist"):
        super().__init__(0.0 if beta == gamma == 0 else 1.0, where=where)
        self.beta, self.gamma, self.tau = float(beta), float(gamma), float(tau)

    @classmethod
    def from_options(cls, opts: DISTOptions, *, where: str) -> DIST:
        return cls(opts.beta, opts.gamma, opts.tau, where=where)

    def value(self, ctx: LossContext) -> torch.Tensor:
        p_s = (ctx.student_logits.float() / self.tau).softmax(dim=1)
        p_t = (self.teacher_logits(ctx) / self.tau).softmax(dim=1)
        inter = 1 - pearson(p_s, p_t).mean()
        intra = 1 - pearson(p_s.T, p_t.T).mean()
        return self.tau**2 * (self.beta * inter + self.gamma * intra)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}, gamma={self.gamma:g}, tau={self.tau:g}"


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation of two (N, M) matrices: (N,)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1) + EPS)
