"""A toy memory-bank method, one file: a bank of one row per training sample, sized from the train
split's labels and the hooked feature's width at `materialize`, written at the batch's sample
indices, and a loss pulling each sample towards the mean bank row of its class (read by label
from the train split's labels). It also ramps its weight over the epoch, as DKD's warm-up does."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, option


@dataclass
class ToyBankOptions(Options):
    weight: float = option(0.5, low=0)
    layer: str = option("classifier")


ENTRY = LossEntry("toy_bank", ToyBankOptions, impl="ToyBank")


class ToyBank(LossTerm):
    name = "toy_bank"

    def __init__(self, weight: float, layer: str, *, where: str):
        super().__init__(weight, where=where)
        self.layer = layer
        self.register_buffer("bank", None)  # one row per training sample, sized at materialize
        self.seen_steps: list[tuple[int, int]] = []

    @classmethod
    def from_options(cls, opts: ToyBankOptions, *, where: str) -> ToyBank:
        return cls(opts.weight, opts.layer, where=where)

    @property
    def student_layers(self) -> list[str]:
        return [self.layer]

    def materialize(self, ctx: LossContext) -> None:
        if self.bank is None:
            width = self.feature(ctx.student_feats, self.layer, "student").flatten(1).shape[1]
            self.bank = torch.zeros(len(self.train_split_labels(ctx)), width)

    def value(self, ctx: LossContext) -> torch.Tensor:
        feats = self.feature(ctx.student_feats, self.layer, "student").flatten(1)
        idx, labels = self.sample_indices(ctx), self.train_split_labels(ctx).to(feats.device)
        with torch.no_grad():
            self.bank[idx] = feats.detach()
            same = labels.unsqueeze(0) == labels[idx].unsqueeze(1)  # (batch, train samples)
            centre = (same.float() @ self.bank) / same.sum(1, keepdim=True).clamp(min=1)
        self.seen_steps.append((ctx.epoch, ctx.step))
        return F.mse_loss(feats, centre)
