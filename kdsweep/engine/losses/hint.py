"""Layer-wise hint alignment (003): regress student feature maps onto the teacher's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.engine.losses.base import LossContext, LossTerm
from kdsweep.engine.losses.maps import resize_like
from kdsweep.errors import UserError, did_you_mean
from kdsweep.spec.entries import LossEntry
from kdsweep.spec.options import Options, check_number, layer_name, option


@dataclass
class HintOptions(Options):
    weight: float = option(1.0, low=0)
    kind: str = "smooth_l1"  # smooth_l1 | mse
    layers: list = option(types=(list,))  # [{student: <module>, teacher: <module>, weight: w}, ...]

    def check(self, where: str) -> None:
        if self.kind not in ("smooth_l1", "mse"):
            raise UserError(f"unknown kind {self.kind!r}; {did_you_mean(self.kind, ('smooth_l1', 'mse'))}",
                            where=f"{where}.kind")
        if not self.layers:
            raise UserError("expected a non-empty list of {student: <module>, teacher: <module>, weight: w}",
                            where=f"{where}.layers")
        for i, item in enumerate(self.layers):
            at = f"{where}.layers[{i}]"
            if not isinstance(item, Mapping) or "student" not in item or "teacher" not in item:
                raise UserError(f"expected {{student: <module>, teacher: <module>, weight: w}}, got {item!r}",
                                where=at)
            for key in item:
                if key not in ("student", "teacher", "weight"):
                    raise UserError(f"unknown key {key!r}; {did_you_mean(key, ('student', 'teacher', 'weight'))}",
                                    where=f"{at}.{key}")
            layer_name(item["student"], f"{at}.student")
            layer_name(item["teacher"], f"{at}.teacher")
            check_number(item.get("weight", 1.0), f"{at}.weight", low=0)


ENTRY = LossEntry("hint", HintOptions, impl="Hint", needs_teacher=True)

KINDS = {"smooth_l1": F.smooth_l1_loss, "mse": F.mse_loss}


class Hint(LossTerm):
    """weight * sum_i w_i * d(adapter_i(S_i), resize(T_i)), d = smooth-L1 or MSE (element mean).

    003 added smooth-L1 between three hooked layer pairs, weights 3, 2, 1, to its KD loss.
    Where a pair's channel counts differ, a learned adapter (1x1 conv for maps, linear for
    vectors; FitNets' regressor) maps the student's channels to the teacher's; where they
    agree the student's map is used as it is. The teacher's map is bilinearly resized to
    the student's H x W.

    Adapters can only be shaped once the channel counts are seen, so they are created by
    `materialize(ctx)`, which the trainer calls once with a first
    batch's features before it builds the optimiser (and before loading a checkpoint's loss
    state on resume). A forward that meets a missing adapter raises instead of creating
    one: an adapter born after the optimiser would silently never train.
    """

    name = "hint"

    def __init__(self, layers: list[tuple[str, str, float]], weight: float = 1.0, kind: str = "smooth_l1",
                 *, where: str = "loss.hint"):
        super().__init__(weight, where=where)
        self.pairs = list(layers)
        self.kind = kind
        self.adapters = nn.ModuleDict()  # str(pair index) -> adapter, only for pairs that need one

    @classmethod
    def from_options(cls, opts: HintOptions, *, where: str) -> Hint:
        pairs = [(item["student"], item["teacher"], float(item.get("weight", 1.0))) for item in opts.layers]
        return cls(pairs, opts.weight, opts.kind, where=where)

    @property
    def student_layers(self) -> list[str]:
        return list(dict.fromkeys(s for s, _, _ in self.pairs))

    @property
    def teacher_layers(self) -> list[str]:
        return list(dict.fromkeys(t for _, t, _ in self.pairs))

    def materialize(self, ctx: LossContext) -> None:
        """Create the adapters the channel counts call for (idempotent)."""
        student_feats, teacher_feats = ctx.student_feats, ctx.teacher_feats
        for i in range(len(self.pairs)):
            fs, ft = self._pair(i, student_feats, teacher_feats)
            cs, ct = fs.shape[1], ft.shape[1]
            if cs == ct or str(i) in self.adapters:
                continue
            adapter = nn.Conv2d(cs, ct, kernel_size=1) if fs.dim() == 4 else nn.Linear(cs, ct)
            self.adapters[str(i)] = adapter.to(device=fs.device, dtype=torch.float32)

    def value(self, ctx: LossContext) -> torch.Tensor:
        total = None
        for i, (_, _, w) in enumerate(self.pairs):
            fs, ft = self._pair(i, ctx.student_feats, ctx.teacher_feats)
            if fs.shape[1] != ft.shape[1]:
                if str(i) not in self.adapters:
                    raise RuntimeError(
                        f"{self.where}.layers[{i}]: no adapter for {fs.shape[1]} -> {ft.shape[1]} channels; "
                        "call LossSet.materialize(ctx) once before building the optimiser"
                    )
                fs = self.adapters[str(i)](fs)
            term = w * KINDS[self.kind](fs, resize_like(ft, fs))
            total = term if total is None else total + term
        return total

    def _pair(self, i: int, student_feats: dict[str, torch.Tensor],
              teacher_feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        s_name, t_name, _ = self.pairs[i]
        fs = self.feature(student_feats, s_name, "student")
        ft = self.feature(teacher_feats, t_name, "teacher")
        if fs.dim() != ft.dim() or fs.dim() not in (2, 4):
            raise UserError(
                f"layers {s_name!r} {tuple(fs.shape)} and {t_name!r} {tuple(ft.shape)} cannot be aligned: "
                "both must be (B, C, H, W) maps or both (B, C) vectors",
                where=f"{self.where}.layers[{i}]",
            )
        return fs, ft

    def extra_repr(self) -> str:
        return f"pairs={self.pairs}, kind={self.kind}, weight={self.weight:g}"

