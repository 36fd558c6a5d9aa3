"""What every loss term shares: its inputs, its entry lookup, float32 math.

A term is a small `nn.Module` (mdistiller's style): `value(ctx)` is the unweighted loss the
write-up defines, `forward(ctx)` is that times the term's `weight`, and the trainer logs
each weighted term under its own name. Terms are looked up by the key a sweep's `loss:`
section uses, through the entry its file declares (see the package's __init__: a new KD
method is one file).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from kdsweep.spec.entries import LOSSES, LossEntry


@dataclass
class LossContext:
    """Everything a loss term may know from training, in one object: the contract of a method.

    The batch's outputs and labels; the hooked feature maps of the layers the term names
    (`student_layers` / `teacher_layers`); where training stands: `epoch` (1-based, as
    mdistiller counts it; DKD's warm-up), `step` (1-based within the epoch); which samples
    these are: `indices`, their positions in the train split (CRD's memory bank); and the
    train split itself: `train_labels`, every sample's label by index (a memory bank's
    negatives). The trainer fills every field for every batch, and hands `materialize` the
    same object for a first (probe) batch. A term built outside a training loop may leave the
    training fields at their defaults.
    """

    student_logits: torch.Tensor
    labels: torch.Tensor
    teacher_logits: torch.Tensor | None = None
    student_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    teacher_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    # The student's logits with the cosine head's additive margin on the target class
    # (AM-softmax); only the hard-label term uses them. None: no margin.
    margin_logits: torch.Tensor | None = None
    epoch: int = 1
    step: int = 1
    indices: torch.Tensor | None = None
    train_labels: torch.Tensor | None = None


class LossTerm(nn.Module):
    """A named, weighted loss term; subclasses define `value` and `from_options`."""

    name: ClassVar[str]  # the key of its entry (`ENTRY` in the term's file)

    def __init__(self, weight: float, *, where: str):
        super().__init__()
        self.weight = float(weight)
        self.where = where

    @classmethod
    def entry(cls) -> LossEntry:
        return LOSSES.get(cls.name)

    @classmethod
    def from_options(cls, opts: Any, *, where: str) -> LossTerm:
        """The term from its validated options (its entry's Options dataclass)."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: Any, *, where: str) -> LossTerm:
        """The term from a config mapping, checked by its entry's options (as the plan checks it)."""
        return cls.from_options(cls.entry().parse(cfg, where), where=where)

    @property
    def needs_teacher(self) -> bool:
        return self.entry().needs_teacher

    @property
    def student_layers(self) -> list[str]:
        return []

    @property
    def teacher_layers(self) -> list[str]:
        return []

    def materialize(self, ctx: LossContext) -> None:
        """Create what depends on the features or the data, from a first batch's context (see
        LossSet.materialize); most terms need nothing."""

    def value(self, ctx: LossContext) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, ctx: LossContext) -> torch.Tensor:
        return self.weight * self.value(ctx)

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}"

    # Helpers the terms share. -------------------------------------------------------

    def teacher_logits(self, ctx: LossContext) -> torch.Tensor:
        if ctx.teacher_logits is None:
            raise ValueError(
                f"loss term {self.name!r} needs the teacher's logits but the trainer gave none "
                "(LossSet.needs_teacher is True: run the teacher on every batch)"
            )
        return ctx.teacher_logits.detach().float()

    def train_split_labels(self, ctx: LossContext) -> torch.Tensor:
        if ctx.train_labels is None:
            raise ValueError(f"loss term {self.name!r} needs the train split's labels but the trainer gave none")
        return ctx.train_labels

    def sample_indices(self, ctx: LossContext) -> torch.Tensor:
        if ctx.indices is None:
            raise ValueError(f"loss term {self.name!r} needs the batch's sample indices but the trainer gave none")
        return ctx.indices

    def feature(self, feats: dict[str, torch.Tensor], layer: str, side: str) -> torch.Tensor:
        try:
            out = feats[layer]
        except KeyError:
            raise ValueError(
                f"loss term {self.name!r} needs the {side}'s feature map {layer!r}, which was not caught: "
                f"hook LossSet.{side}_layers with FeatureHooks (caught: {sorted(feats)})"
            ) from None
        return out.float() if side == "student" else out.detach().float()


def full_precision(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """Autocast switched off, so loss math (softmax, bmm of affinities) runs in float32.

    Under fp16/bf16 autocast a matmul would otherwise run in half precision; the terms cast
    their inputs to float32 themselves, and this stops autocast casting them back down.
    """
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except (RuntimeError, ValueError):  # a device type autocast does not know: nothing to disable
        return contextlib.nullcontext()


class LayerPairTerm(LossTerm):
    """A term reading one student layer and one teacher layer (FA, CRD): both hooked by name."""

    student_layer: str
    teacher_layer: str

    @property
    def student_layers(self) -> list[str]:
        return [self.student_layer]

    @property
    def teacher_layers(self) -> list[str]:
        return [self.teacher_layer]
