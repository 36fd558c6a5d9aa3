"""ResNet-18 and ResNet-50 for 32x32 inputs (kuangliu's CIFAR layout), as mdistiller builds them.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/resnetv2.py (its
`ResNet18` and `ResNet50`): same state-dict names and shapes, so their checkpoints load
strictly, and the same logits for the same weights (tests/engine/models/test_model_cifar_zoo.py).
Not torchvision's `resnet18` / `resnet50` (those names keep meaning torchvision's ImageNet models).

Layout: stem 3x3 conv 64 (stride 1, no bias) + BN + ReLU, no max-pool; four stages of widths
64, 128, 256, 512 (x4 channels out of a bottleneck) at 32, 16, 8 and 4 pixels, [2, 2, 2, 2] basic
blocks (ResNet-18) or [3, 4, 6, 3] bottlenecks (ResNet-50); adaptive average pool to 1x1, `linear`.
Basic block: conv3x3 + BN + ReLU, conv3x3 + BN; bottleneck: conv1x1 + BN + ReLU, conv3x3 (with
the stride) + BN + ReLU, conv1x1 (x4) + BN; then the shortcut (identity, or a 1x1 conv with
the stride, no bias, + BN, named `shortcut`) is added and a ReLU follows. BatchNorm at
PyTorch's defaults.

Initialisation is mdistiller's: convs kaiming-normal (fan-out, ReLU gain), BN and `linear`
PyTorch's defaults; modules in mdistiller's order (same seed, same initial weights).

Hook points (mdistiller's `feats`): `layer1` .. `layer4` (each stage's output, after its last
ReLU); the classifier's input is mdistiller's `pooled_feat` (CRD's default layer).
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS

_META = {"input_size": 32, "family": "cifar_resnetv2",
         "feature_layers": ("layer1", "layer2", "layer3", "layer4")}


def _shortcut(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Identity (an empty Sequential) when the shape is kept, else a strided 1x1 conv + BN."""
    if stride == 1 and cin == cout:
        return nn.Sequential()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = _shortcut(cin, width, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.shortcut = _shortcut(cin, width * 4, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        return self.relu(out + self.shortcut(x))


class CifarResNetV2(nn.Module):
    def __init__(self, block: type[BasicBlock] | type[Bottleneck], blocks: tuple[int, int, int, int],
                 num_classes: int = 100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        cin = 64
        for i, (width, count) in enumerate(zip((64, 128, 256, 512), blocks, strict=True)):
            stage = []
            for b in range(count):
                stage.append(block(cin, width, 2 if i > 0 and b == 0 else 1))
                cin = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.linear(self.avgpool(x).flatten(1))


@MODELS.register("cifar_resnet18", mdistiller="ResNet18", feature_dim=512, **_META)
def cifar_resnet18(num_classes: int = 100) -> nn.Module:
    return CifarResNetV2(BasicBlock, (2, 2, 2, 2), num_classes)


@MODELS.register("cifar_resnet50", mdistiller="ResNet50", feature_dim=2048, **_META)
def cifar_resnet50(num_classes: int = 100) -> nn.Module:
    return CifarResNetV2(Bottleneck, (3, 4, 6, 3), num_classes)
