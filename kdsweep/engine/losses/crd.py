"""Contrastive Representation Distillation (CRD, Tian et al., ICLR 2020), as mdistiller trains it."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.engine.features import CLASSIFIER_INPUT
from kdsweep.engine.losses.base import LayerPairTerm, LossContext
from kdsweep.errors import UserError
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class CRDOptions(Options):  # mdistiller's CIFAR-100 defaults; ce keeps weight 1 beside it
    weight: float = option(0.8, low=0)
    student_layer: str | None = option(None, types=(str,))  # None: the classifier's input
    teacher_layer: str | None = option(None, types=(str,))
    feat_dim: int = option(128, integer=True, low=1)
    nce_k: int = option(16384, integer=True, low=1)  # negatives per sample; clamped to the train split
    nce_t: float = option(0.07, low=0, low_open=True, noun="a temperature")
    nce_momentum: float = option(0.5, low=0, high=1, high_open=True)


ENTRY = LossEntry("crd", CRDOptions, impl="CRD", needs_teacher=True)

log = logging.getLogger(__name__)

NCE_EPS = 1e-7  # mdistiller's guard in the NCE ratios


class CRD(LayerPairTerm):
    """NCE between embedded student and teacher features against a momentum memory bank.

    Both sides' features (flattened; by default the input of the classifier, mdistiller's
    "pooled_feat") go through a Linear to `feat_dim` and are L2-normalised. The bank holds
    one unit vector per train sample and side. For each sample, its own row (the positive)
    and `nce_k` negatives are read from the *other* side's bank; the scores exp(v . m / nce_t)
    are divided by a constant Z, set once from the first batch (mean score times the number
    of samples) and kept in the checkpoint; the NCE loss of each side is
    -(log P/(P + k/N) + sum log (k/N)/(P_neg + k/N)) / B. Then each side's bank rows of the
    batch move towards the new embeddings: m <- normalise(momentum * m + (1 - momentum) * v).

    Negatives are drawn from samples of other classes (mdistiller's "exact" mode) with the
    student's RNG stream, on the device, with replacement (mdistiller draws without
    replacement when the pool is large enough; the distributions differ by the chance of
    a repeat, k / pool). `nce_k` beyond the smallest other-class pool is clamped to it,
    with a warning. The heads and the bank are created by `materialize` (feature sizes from
    the probe, one bank row per train sample), the heads train with the student's
    optimiser, and the bank and Z are buffers, so the run's checkpoint carries them.
    """

    name = "crd"

    def __init__(self, weight: float = 0.8, student_layer: str | None = None, teacher_layer: str | None = None,
                 feat_dim: int = 128, nce_k: int = 16384, nce_t: float = 0.07, nce_momentum: float = 0.5,
                 *, where: str = "loss.crd"):
        super().__init__(weight, where=where)
        self.student_layer = student_layer or CLASSIFIER_INPUT
        self.teacher_layer = teacher_layer or CLASSIFIER_INPUT
        self.feat_dim, self.nce_k = int(feat_dim), int(nce_k)
        self.nce_t, self.nce_momentum = float(nce_t), float(nce_momentum)
        self.k = self.nce_k  # negatives actually drawn, once the train split is known
        self.embed_s: nn.Linear | None = None
        self.embed_t: nn.Linear | None = None

    @classmethod
    def from_options(cls, opts: CRDOptions, *, where: str) -> CRD:
        return cls(opts.weight, opts.student_layer, opts.teacher_layer, opts.feat_dim, opts.nce_k, opts.nce_t,
                   opts.nce_momentum, where=where)

    # Setup ---------------------------------------------------------------------------

    def materialize(self, ctx: LossContext) -> None:
        if self.embed_s is not None:
            return
        student_feats, teacher_feats = ctx.student_feats, ctx.teacher_feats
        labels = self.train_split_labels(ctx).long().cpu()
        n = len(labels)
        s_dim = self.feature(student_feats, self.student_layer, "student").flatten(1).shape[1]
        t_dim = self.feature(teacher_feats, self.teacher_layer, "teacher").flatten(1).shape[1]
        self.embed_s = nn.Linear(s_dim, self.feat_dim)
        self.embed_t = nn.Linear(t_dim, self.feat_dim)
        counts = torch.bincount(labels, minlength=int(labels.max()) + 1 if n else 1)
        pool = n - int(counts.max()) if n else 0
        if pool < 1:
            raise UserError("the train split has no two classes to contrast", where=f"{self.where}.nce_k")
        self.k = min(self.nce_k, pool)
        if self.k < self.nce_k:
            log.warning("%s.nce_k %d is more than the %d samples of other classes beside the train split's largest "
                        "class (%d of its %d samples); drawing %d negatives", self.where, self.nce_k, pool,
                        int(counts.max()), n, self.k)
        # Where each class's samples sit once sorted by label: negatives are drawn by position.
        order = torch.argsort(labels, stable=True)
        self.register_buffer("labels", labels, persistent=False)
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("class_start", torch.cumsum(counts, 0) - counts, persistent=False)
        self.register_buffer("class_count", counts, persistent=False)
        stdv = 1.0 / math.sqrt(self.feat_dim / 3)
        self.register_buffer("memory_s", torch.rand(n, self.feat_dim).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("memory_t", torch.rand(n, self.feat_dim).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("z", torch.full((2,), -1.0))  # Z for the student's and the teacher's scores

    # The loss ------------------------------------------------------------------------

    def value(self, ctx: LossContext) -> torch.Tensor:
        if self.embed_s is None:
            raise RuntimeError("the crd term has no heads or bank yet: call LossSet.materialize first")
        idx = self.sample_indices(ctx)
        contrast = torch.cat([idx[:, None], self.negatives(self.labels[idx])], dim=1)
        return self.nce(ctx, idx, contrast)

    def nce(self, ctx: LossContext, idx: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
        """The loss for given positive + negative bank rows (B, 1 + k); updates the bank and Z."""
        v_s = F.normalize(self.embed_s(self.feature(ctx.student_feats, self.student_layer, "student").flatten(1)))
        v_t = F.normalize(self.embed_t(self.feature(ctx.teacher_feats, self.teacher_layer, "teacher").flatten(1)))
        n = self.memory_s.shape[0]
        out_s = torch.exp(torch.bmm(self.memory_t[contrast], v_s[:, :, None]).squeeze(2) / self.nce_t)
        out_t = torch.exp(torch.bmm(self.memory_s[contrast], v_t[:, :, None]).squeeze(2) / self.nce_t)
        with torch.no_grad():
            # Z is set once, from the first batch, without reading it back to the host.
            first = torch.stack([out_s.mean(), out_t.mean()]) * n
            self.z.copy_(torch.where(self.z < 0, first, self.z))
        loss = nce_loss(out_s / self.z[0], n) + nce_loss(out_t / self.z[1], n)
        with torch.no_grad():
            self._update(self.memory_s, idx, v_s)
            self._update(self.memory_t, idx, v_t)
        return loss

    def negatives(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, k) sample indices, each of a class other than its row's label, uniformly with replacement."""
        start, count = self.class_start[labels][:, None], self.class_count[labels][:, None]
        pool = self.order.shape[0] - count
        pos = (torch.rand(labels.shape[0], self.k, device=labels.device) * pool).long()
        pos = torch.minimum(pos, pool - 1)
        pos = pos + count * (pos >= start)  # skip the label's own block of the sorted order
        return self.order[pos]

    def _update(self, memory: torch.Tensor, idx: torch.Tensor, v: torch.Tensor) -> None:
        moved = memory[idx] * self.nce_momentum + v.detach() * (1 - self.nce_momentum)
        memory.index_copy_(0, idx, moved / moved.norm(dim=1, keepdim=True))

    def extra_repr(self) -> str:
        return (f"student_layer={self.student_layer!r}, teacher_layer={self.teacher_layer!r}, "
                f"weight={self.weight:g}, feat_dim={self.feat_dim}, nce_k={self.nce_k}, nce_t={self.nce_t:g}, "
                f"nce_momentum={self.nce_momentum:g}")


def nce_loss(scores: torch.Tensor, n: int) -> torch.Tensor:
    """mdistiller's ContrastLoss: column 0 the positive, the rest the k negatives; noise 1 / n."""
    k = scores.shape[1] - 1
    noise = k / n
    log_d1 = torch.log(scores[:, 0] / (scores[:, 0] + noise + NCE_EPS))
    log_d0 = torch.log(noise / (scores[:, 1:] + noise + NCE_EPS))
    return -(log_d1.sum() + log_d0.sum()) / scores.shape[0]

