"""Wide ResNets for 32x32 inputs (Zagoruyko and Komodakis, WRN-depth-k), as mdistiller builds them.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/wrn.py (its
`wrn_16_1`, `wrn_16_2`, `wrn_40_1`, `wrn_40_2`): same state-dict names and shapes, so their
checkpoints load strictly, and the same logits and BatchNorm statistics for the same weights
(tests/engine/models/test_model_cifar_zoo.py).

Layout: 3x3 conv 16 (stride 1, no bias); three stages `block1` .. `block3` (each holds its
blocks in `.layer`) of n = (depth - 4) / 6 pre-activation blocks, widths 16k, 32k, 64k at 32,
16 and 8 pixels; then BN + ReLU, an 8x8 average pool (32x32 inputs only) and `fc`.
Pre-activation block: BN + ReLU, conv3x3 (with the stride), BN + ReLU, [dropout: `drop_rate`,
mdistiller's dropRate, 0 in all its configs], conv3x3, plus the shortcut. Where the width
changes, the shortcut is a 1x1 conv (`convShortcut`, no bias) of the *activated* input;
otherwise the raw input is added. BatchNorm at PyTorch's defaults.

One quirk is kept on purpose: mdistiller's forward also passes the stage outputs of `block1`,
`block2` and `block3` through the next BatchNorm (`block2.layer.0.bn1`, `block3.layer.0.bn1`,
`bn1`) a second time, to return pre-activation features. In train mode that updates those
three BatchNorms' running statistics twice per step (the same batch twice: in effect momentum
0.19, and two batches counted). kdsweep does the same second update (without building a
graph), so a WRN trained here ends with the statistics mdistiller's training would give it.

Initialisation is mdistiller's: convs normal(0, sqrt(2 / (k * k * out_channels))) (kaiming-normal,
fan-out), BN PyTorch's default, `fc` PyTorch's default weight and bias 0; modules in
mdistiller's order (same seed, same initial weights).

Hook points (mdistiller's `feats`): `block1`, `block2`, `block3` (stage outputs, not activated:
this is a pre-activation network); the classifier's input is mdistiller's `pooled_feat`.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models.zoo import MODELS

_META = {"input_size": 32, "family": "cifar_wrn", "feature_layers": ("block1", "block2", "block3")}


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, drop_rate: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.dropout = nn.Dropout(drop_rate) if drop_rate else nn.Identity()  # p=0 would still draw masks
        self.convShortcut = None if cin == cout else nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        activated = self.relu1(self.bn1(x))
        out = self.conv2(self.dropout(self.relu2(self.bn2(self.conv1(activated)))))
        return out + (x if self.convShortcut is None else self.convShortcut(activated))


class Stage(nn.Module):
    """mdistiller's `NetworkBlock`: its blocks under `.layer` (the checkpoints' names)."""

    def __init__(self, blocks: int, cin: int, cout: int, stride: int, drop_rate: float):
        super().__init__()
        rest = (PreActBlock(cout, cout, 1, drop_rate) for _ in range(blocks - 1))
        self.layer = nn.Sequential(PreActBlock(cin, cout, stride, drop_rate), *rest)

    def forward(self, x):
        return self.layer(x)


class CifarWRN(nn.Module):
    def __init__(self, depth: int, widen: int, num_classes: int = 100, drop_rate: float = 0.0):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"a Wide ResNet has depth 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = (16, 16 * widen, 32 * widen, 64 * widen)
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.block1 = Stage(n, widths[0], widths[1], 1, drop_rate)
        self.block2 = Stage(n, widths[1], widths[2], 2, drop_rate)
        self.block3 = Stage(n, widths[2], widths[3], 2, drop_rate)
        self.bn1 = nn.BatchNorm2d(widths[3])
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        f1 = self.block1(self.conv1(x))
        f2 = self.block2(f1)
        f3 = self.block3(f2)
        logits = self.fc(self.avgpool(self.relu(self.bn1(f3))).flatten(1))
        if self.training:  # mdistiller's second pass through these BNs (see the module docstring)
            with torch.no_grad():
                self.block2.layer[0].bn1(f1)
                self.block3.layer[0].bn1(f2)
                self.bn1(f3)
        return logits


@MODELS.register("cifar_wrn_16_1", mdistiller="wrn_16_1", feature_dim=64, **_META)
def cifar_wrn_16_1(num_classes: int = 100, drop_rate: float = 0.0) -> nn.Module:
    return CifarWRN(16, 1, num_classes, drop_rate)


@MODELS.register("cifar_wrn_16_2", mdistiller="wrn_16_2", feature_dim=128, **_META)
def cifar_wrn_16_2(num_classes: int = 100, drop_rate: float = 0.0) -> nn.Module:
    return CifarWRN(16, 2, num_classes, drop_rate)


@MODELS.register("cifar_wrn_40_1", mdistiller="wrn_40_1", feature_dim=64, **_META)
def cifar_wrn_40_1(num_classes: int = 100, drop_rate: float = 0.0) -> nn.Module:
    return CifarWRN(40, 1, num_classes, drop_rate)


@MODELS.register("cifar_wrn_40_2", mdistiller="wrn_40_2", feature_dim=128, **_META)
def cifar_wrn_40_2(num_classes: int = 100, drop_rate: float = 0.0) -> nn.Module:
    return CifarWRN(40, 2, num_classes, drop_rate)
