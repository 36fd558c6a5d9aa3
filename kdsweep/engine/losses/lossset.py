"""The loss terms of one run, built from its resolved `loss:` section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from kdsweep.engine.losses.base import LossContext, LossTerm, full_precision
from kdsweep.errors import UserError
from kdsweep.spec.entries import LOSSES


class LossSet(nn.Module):
    """Every weighted term of a run, and what the trainer must provide to compute them.

    The trainer hooks `student_layers` / `teacher_layers`, runs the teacher when
    `needs_teacher` (in `teacher_mode`), calls `materialize` once with a first batch's
    features, adds `parameters()` (hint adapters, CRD heads) to the student's optimiser and saves
    `state_dict()` with the student's checkpoint. `forward` returns the weighted terms by
    name; the loss to backpropagate is the sum of the values.
    """

    def __init__(self, terms: Mapping[str, LossTerm]):
        super().__init__()
        self.terms = nn.ModuleDict(dict(terms))

    @property
    def student_layers(self) -> list[str]:
        return list(dict.fromkeys(name for term in self.terms.values() for name in term.student_layers))

    @property
    def teacher_layers(self) -> list[str]:
        return list(dict.fromkeys(name for term in self.terms.values() for name in term.teacher_layers))

    @property
    def needs_teacher(self) -> bool:
        return any(term.needs_teacher for term in self.terms.values())

    @property
    def teacher_mode(self) -> str:
        """'train' only where a refinery term asks for 001's original behaviour; else 'eval'."""
        modes = {getattr(term, "teacher_mode", "eval") for term in self.terms.values()}
        return "train" if "train" in modes else "eval"

    def materialize(self, ctx: LossContext) -> None:
        """Create parameters and buffers whose shapes depend on the features (hint adapters,
        CRD's heads) or on the train split (CRD's memory bank: one row per sample of
        `ctx.train_labels`); idempotent.

        Call once with a first batch's context (its hooked features), before building the
        optimiser and before loading a checkpoint's `state_dict()` into this set.
        """
        with torch.no_grad():
            for term in self.terms.values():
                term.materialize(ctx)

    def forward(self, ctx: LossContext) -> dict[str, torch.Tensor]:
        with full_precision(ctx.student_logits.device):
            return {name: term(ctx) for name, term in self.terms.items()}


def build_losses(loss_cfg: Mapping[str, Any], *, where: str = "loss") -> LossSet:
    """A LossSet from the resolved loss section: {term name: options}.

    Terms whose weight is 0 are left out entirely: they are not computed, logged or
    hooked, and a KD term with alpha 0 no longer asks for the teacher, so the trainer can
    skip its forward.
    """
    if not isinstance(loss_cfg, Mapping) or not loss_cfg:
        raise UserError(f"expected a mapping of loss terms ({', '.join(LOSSES.known())}), got {loss_cfg!r}",
                        where=where)
    terms: dict[str, LossTerm] = {}
    for name, cfg in loss_cfg.items():
        entry = LOSSES.get(name, where=where)
        term = entry.load().from_options(entry.parse(cfg, f"{where}.{name}"), where=f"{where}.{name}")
        if term.weight != 0:
            terms[name] = term
    if not terms:
        raise UserError("every loss term has weight 0, so nothing would be trained; give one a weight",
                        where=where)
    return LossSet(terms)


def first_nonfinite(terms: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first term that is NaN or infinite, else None (one device sync)."""
    if not terms:
        return None
    names = list(terms)
    values = torch.stack([terms[n].detach().float().reshape(()) for n in names])
    bad = ~torch.isfinite(values)
    if not bool(bad.any()):
        return None
    return names[int(bad.nonzero()[0, 0])]
