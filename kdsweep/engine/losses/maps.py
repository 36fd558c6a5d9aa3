"""Feature-map plumbing shared by the feature losses: shape checks and resizing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdsweep.errors import UserError


def spatial(feat: torch.Tensor, layer: str, *, where: str) -> torch.Tensor:
    """The map itself if it is (B, C, H, W); a hooked vector or sequence is a config mistake here."""
    if feat.dim() != 4:
        raise UserError(
            f"layer {layer!r} gives a tensor of shape {tuple(feat.shape)}; this term needs (B, C, H, W) "
            "feature maps: name a convolutional module",
            where=where,
        )
    return feat


def resize_like(teacher: torch.Tensor, student: torch.Tensor, *, align_corners: bool = False) -> torch.Tensor:
    """The teacher's map bilinearly resized to the student's H x W (000: B3's map to B0's size).

    Maps that already agree are returned as they are, so same-size layers cost nothing.
    `align_corners`: as F.interpolate's (000's FA resizes with True).
    """
    if teacher.dim() != 4 or teacher.shape[-2:] == student.shape[-2:]:
        return teacher
    return F.interpolate(teacher, size=tuple(student.shape[-2:]), mode="bilinear", align_corners=align_corners)
