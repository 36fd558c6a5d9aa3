"""Seeded weights and inputs shared by the golden-output tests and the scripts that made the
golden files (run once, outside the project, beside the write-ups' original code).

A golden file holds the original model's eval-mode logits for kdsweep's seeded weights
(renamed to the original's names) on a seeded input. The BatchNorm statistics and affine
parameters are set too, so that eval-mode BN is not the identity and a misplaced BN shows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

GOLDEN = Path(__file__).parent / "golden"


def read_golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


def seeded_model(build, calibrate: tuple[int, ...], seed: int = 0) -> nn.Module:
    """`build()` under `torch.manual_seed(seed)` (the model's own init); BN running statistics
    set by one train-mode pass over `seeded_input(calibrate, seed + 3)` (so that eval-mode BN
    normalises and the logits depend on the input); then BN affine parameters and Linear
    layers drawn from `seed + 1` (Linear weights with std 0.1/sqrt(fan-in): logits of order 1)."""
    torch.manual_seed(seed)
    model = build()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in bns:
            m.momentum = None  # a plain average over the calibration pass
        model.train()(seeded_input(calibrate, seed + 3))
        for m in bns:
            m.momentum = 0.1
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.1 / m.in_features ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
    return model.eval()


def seeded_input(shape: tuple[int, ...], seed: int = 2) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def abs_sums(state: dict[str, torch.Tensor]) -> list[float]:
    """Sum of |x| per floating tensor, in state-dict order: a fingerprint of an initialisation."""
    return [float(t.double().abs().sum()) for t in state.values() if t.is_floating_point()]


def names_digest(names) -> str:
    return hashlib.sha1("\n".join(names).encode()).hexdigest()
