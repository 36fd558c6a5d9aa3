"""Seeded weights, inputs and fingerprints for the CIFAR zoo's golden tests (and for the script that
made the golden file, golden/make_cifar_zoo_golden.py).

The seeded weights do not depend on the models' own initialisation: every parameter is drawn from
one generator, module by module in sorted name order (convs He-normal by fan-in, Linear
normal(0, 1 / fan-in), conv biases normal(0, 0.05), BatchNorm weight uniform(0.5, 1.5) and bias
normal(0, 0.1)); the BatchNorm running statistics are then set by one train-mode pass over a
calibration batch (a plain average), so eval-mode BN normalises, is not the identity, and the
logits are of order 1 at any depth.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from kdsweep.engine.models import build_model

MODEL_SEED, INPUT_SEED, CALIBRATION_SEED = 0, 1, 2
BATCH, CALIBRATION_BATCH, NUM_CLASSES = 2, 4, 100
# kdsweep name -> mdistiller's `cifar_model_dict` key (at a08d46f): all 23 of them.
ZOO = {
    "cifar_resnet8": "resnet8", "cifar_resnet14": "resnet14", "cifar_resnet20": "resnet20",
    "cifar_resnet32": "resnet32", "cifar_resnet44": "resnet44", "cifar_resnet56": "resnet56",
    "cifar_resnet110": "resnet110", "cifar_resnet8x4": "resnet8x4", "cifar_resnet32x4": "resnet32x4",
    "cifar_resnet18": "ResNet18", "cifar_resnet50": "ResNet50",
    "cifar_wrn_16_1": "wrn_16_1", "cifar_wrn_16_2": "wrn_16_2", "cifar_wrn_40_1": "wrn_40_1",
    "cifar_wrn_40_2": "wrn_40_2",
    "cifar_vgg8": "vgg8", "cifar_vgg11": "vgg11", "cifar_vgg13": "vgg13", "cifar_vgg16": "vgg16",
    "cifar_vgg19": "vgg19",
    "cifar_mobilenetv2": "MobileNetV2", "cifar_shufflev1": "ShuffleV1", "cifar_shufflev2": "ShuffleV2",
}


def seeded_model(name: str) -> nn.Module:
    """kdsweep's model `name` with the seeded weights and calibrated BN statistics, in eval mode."""
    model = build_model({"arch": name}, NUM_CLASSES)
    gen = torch.Generator().manual_seed(MODEL_SEED)
    with torch.no_grad():
        for _, m in sorted(model.named_modules(), key=lambda item: item[0]):
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0.0, (2.0 / m.weight[0].numel()) ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.05, generator=gen)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0.0, m.in_features ** -0.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.normal_(0.0, 0.1, generator=gen)
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for m in bns:
            m.momentum = None  # a plain average over the calibration pass
        model.train()(seeded_input(CALIBRATION_BATCH, CALIBRATION_SEED))
        for m in bns:
            m.momentum = 0.1
    return model.eval()


def seeded_input(batch: int = BATCH, seed: int = INPUT_SEED) -> torch.Tensor:
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def keys_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 of the sorted "name:shape" lines: the checkpoint layout."""
    lines = sorted(f"{k}:{tuple(v.shape)}" for k, v in state.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def state_sums(state: dict[str, torch.Tensor], suffixes: tuple[str, ...] = ()) -> torch.Tensor:
    """Sum of |x| of each floating tensor (those ending with one of `suffixes`, if given), in sorted
    name order: a fingerprint of an initialisation or of the BN statistics after a step."""
    keys = [k for k in sorted(state)
            if state[k].is_floating_point() and (not suffixes or k.endswith(suffixes))]
    return torch.tensor([float(state[k].double().abs().sum()) for k in keys], dtype=torch.float64)


def batches_tracked(state: dict[str, torch.Tensor]) -> int:
    return sum(int(v) for k, v in state.items() if k.endswith("num_batches_tracked"))


def feature_sums(features: list[torch.Tensor]) -> torch.Tensor:
    """(sum, sum of squares) of each feature map, flattened per sample as CRD reads them."""
    return torch.tensor([[float(f.double().sum()), float(f.double().pow(2).sum())] for f in features],
                        dtype=torch.float64)


BN_STATS = ("running_mean", "running_var")
