"""What every loss term shares: its inputs, its registry, its config checks, float32 math.

A term is a small `nn.Module` (mdistiller's style): `value(ctx)` is the unweighted loss the
write-up defines, `forward(ctx)` is that times the term's `weight`, and the trainer logs
each weighted term under its own name. Terms are looked up by the key a sweep's `loss:`
section uses, so a new KD method is one file and one registry entry.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from kdsweep.errors import UserError, did_you_mean
from kdsweep.registry import Registry
from kdsweep.spec.defaults import LOSS_DEFAULTS, REQUIRED

LOSSES = Registry("loss term")


@dataclass
class LossContext:
    """One batch's outputs, as the trainer hands them to the losses."""

    student_logits: torch.Tensor
    labels: torch.Tensor
    teacher_logits: torch.Tensor | None = None
    student_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    teacher_feats: dict[str, torch.Tensor] = field(default_factory=dict)
    # The student's logits with the cosine head's additive margin on the target class
    # (AM-softmax); only the hard-label term uses them. None: no margin.
    margin_logits: torch.Tensor | None = None


class LossTerm(nn.Module):
    """A named, weighted loss term; subclasses define `value` and `from_config`."""

    name: ClassVar[str]
    needs_teacher: ClassVar[bool] = False

    def __init__(self, weight: float, *, where: str):
        super().__init__()
        self.weight = float(weight)
        self.where = where

    @property
    def student_layers(self) -> list[str]:
        return []

    @property
    def teacher_layers(self) -> list[str]:
        return []

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


def options(cfg: Any, name: str, *, where: str) -> dict[str, Any]:
    """The term's config with defaults filled, unknown keys and missing required keys refused."""
    defaults = LOSS_DEFAULTS.get(name, {})
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, Mapping):
        raise UserError(f"expected a mapping of options, got {cfg!r}", where=where)
    for key in cfg:
        if key not in defaults:
            raise UserError(f"loss term {name!r} has no option {key!r}; {did_you_mean(key, defaults)}",
                            where=f"{where}.{key}")
    opts = {**defaults, **cfg}
    for key, value in opts.items():
        if isinstance(value, str) and value == REQUIRED:
            raise UserError(f"loss term {name!r} needs {key!r}", where=f"{where}.{key}")
    return opts


def number(value: Any, where: str, *, low: float | None = 0.0, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real within bounds, or a UserError that says which bounds."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        within = f" {' and '.join(bounds)}" if bounds else ""
        raise UserError(f"expected a number{within}, got {value!r}", where=where)
    return float(value)


def layer_name(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise UserError(f"expected a module name (as model.named_modules() prints it), got {value!r}",
                        where=where)
    return value
