"""The CIFAR ResNets of the KD benchmark (He et al.'s 6n+2 layout), as mdistiller builds them.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/resnet.py (the
`resnet8` .. `resnet110`, `resnet8x4`, `resnet32x4` of its `cifar_model_dict`, the same
networks as RepDistiller's): same state-dict names and shapes, so their checkpoints load
strictly, and the same logits for the same weights (tests/engine/models/test_model_cifar_zoo.py).

Layout: stem 3x3 conv (stride 1, no bias) + BN + ReLU; three stages of n = (depth - 2) / 6
basic blocks at 32, 16 and 8 pixels (the first block of stages 2 and 3 has stride 2); a fixed
8x8 average pool (so 32x32 inputs only) and `fc`. Widths [stem, stage 1, 2, 3]: 16, 16, 32, 64
("resnetN"), or 32, 64, 128, 256 ("resnetNx4": the stem is half the first stage's width, so the
first block of stage 1 has a projection shortcut even at stride 1).

Basic block: conv3x3 + BN + ReLU, conv3x3 + BN, plus the shortcut (identity, or a 1x1 conv
with the stride, no bias, + BN, named `downsample`), then ReLU. BatchNorm at PyTorch's
defaults (eps 1e-5, momentum 0.1).

Initialisation is mdistiller's: convs kaiming-normal (fan-out, ReLU gain), BN and `fc` PyTorch's
defaults. Modules are created in mdistiller's order (a block's shortcut before
its convs), so the same seed gives the same initial weights.

Hook points (mdistiller's `feats`): `layer1`, `layer2`, `layer3` (each stage's output, after
its last ReLU); the classifier's input is mdistiller's `pooled_feat` (CRD's default layer).
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS

THIN = (16, 16, 32, 64)
WIDE = (32, 64, 128, 256)  # the "x4" models
_META = {"input_size": 32, "family": "cifar_resnet", "feature_layers": ("layer1", "layer2", "layer3")}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        downsample = None
        if stride != 1 or cin != cout:  # created before the convs, as mdistiller does (same seed, same init)
            downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class CifarResNet(nn.Module):
    def __init__(self, depth: int, widths: tuple[int, int, int, int], num_classes: int = 100):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"a CIFAR ResNet of basic blocks has depth 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        cin = widths[0]
        for i, width in enumerate(widths[1:]):
            stage = [BasicBlock(cin, width, 1 if i == 0 else 2)]
            stage += [BasicBlock(width, width, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            cin = width
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


@MODELS.register("cifar_resnet8", mdistiller="resnet8", feature_dim=64, **_META)
def cifar_resnet8(num_classes: int = 100) -> nn.Module:
    return CifarResNet(8, THIN, num_classes)


@MODELS.register("cifar_resnet14", mdistiller="resnet14", feature_dim=64, **_META)
def cifar_resnet14(num_classes: int = 100) -> nn.Module:
    return CifarResNet(14, THIN, num_classes)


@MODELS.register("cifar_resnet20", mdistiller="resnet20", feature_dim=64, **_META)
def cifar_resnet20(num_classes: int = 100) -> nn.Module:
    return CifarResNet(20, THIN, num_classes)


@MODELS.register("cifar_resnet32", mdistiller="resnet32", feature_dim=64, **_META)
def cifar_resnet32(num_classes: int = 100) -> nn.Module:
    return CifarResNet(32, THIN, num_classes)


@MODELS.register("cifar_resnet44", mdistiller="resnet44", feature_dim=64, **_META)
def cifar_resnet44(num_classes: int = 100) -> nn.Module:
    return CifarResNet(44, THIN, num_classes)


@MODELS.register("cifar_resnet56", mdistiller="resnet56", feature_dim=64, **_META)
def cifar_resnet56(num_classes: int = 100) -> nn.Module:
    return CifarResNet(56, THIN, num_classes)


@MODELS.register("cifar_resnet110", mdistiller="resnet110", feature_dim=64, **_META)
def cifar_resnet110(num_classes: int = 100) -> nn.Module:
    return CifarResNet(110, THIN, num_classes)


@MODELS.register("cifar_resnet8x4", mdistiller="resnet8x4", feature_dim=256, **_META)
def cifar_resnet8x4(num_classes: int = 100) -> nn.Module:
    return CifarResNet(8, WIDE, num_classes)


@MODELS.register("cifar_resnet32x4", mdistiller="resnet32x4", feature_dim=256, **_META)
def cifar_resnet32x4(num_classes: int = 100) -> nn.Module:
    return CifarResNet(32, WIDE, num_classes)
