"""Seeded CIFAR EfficientNets for the golden tests (and for the script that made the goldens).

Freshly initialised BatchNorms are the identity in eval mode (mean 0, variance 1, weight 1,
bias 0), which would hide BatchNorm's eps; zero conv biases hide nothing but test nothing. So
after the seeded build, every BatchNorm's affine and running statistics and every conv bias
get seeded random values: then eps, padding and every layer's wiring show in the logits.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models import build_model

COSINE = {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}
MODEL_SEED, INPUT_SEED, BATCH = 0, 1, 4
CASES = {  # golden file stem -> (arch, head)
    "b0_cos": ("efficientnet_cifar_b0", COSINE),
    "b3_cos": ("efficientnet_cifar_b3", COSINE),
    "ex_cos": ("efficientnet_ex", COSINE),
    "exx_cos": ("efficientnet_exx", COSINE),
    "b0_linear": ("efficientnet_cifar_b0", None),
}


def seeded_model(arch: str, head: dict | None) -> nn.Module:
    torch.manual_seed(MODEL_SEED)
    model = build_model({"arch": arch, "head": head}, 100)
    gen = torch.Generator().manual_seed(MODEL_SEED + 100)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
                m.running_mean.normal_(0.0, 0.1, generator=gen)
                m.running_var.uniform_(0.002, 1.0, generator=gen)  # small ones make eps matter
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0.0, 0.05, generator=gen)
    return model.eval()


def seeded_input() -> torch.Tensor:
    torch.manual_seed(INPUT_SEED)
    return torch.randn(BATCH, 3, 32, 32)
