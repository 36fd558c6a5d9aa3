"""ShuffleNet V1 and V2 for 32x32 inputs (the KD benchmark's students), as mdistiller builds them.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/ShuffleNetv1.py
(`ShuffleV1`) and ShuffleNetv2.py (`ShuffleV2`): same state-dict names and shapes, so their
checkpoints load strictly, and the same logits for the same weights
(tests/engine/models/test_model_cifar_zoo.py). Both start with a 1x1 conv 24 (no bias) + BN +
ReLU at full resolution (no stride, no max-pool), run three stages at 16, 8 and 4 pixels, then a
4x4 average pool and `linear`. No conv has a bias; BatchNorm at PyTorch's defaults; weights at
PyTorch's default initialisation (mdistiller sets none), modules in mdistiller's order (same
seed, same initial weights). A channel shuffle with g groups reads the channels as (g, C / g)
and transposes them to (C / g, g).

ShuffleV1 (groups 3; stage widths 240, 480, 960; 4, 8, 4 blocks). Bottleneck: 1x1 grouped conv to
a quarter of the block's own output width + BN + ReLU, channel shuffle, 3x3 depthwise (with the
stride) + BN + ReLU (mdistiller's ReLU here is not in the paper), 1x1 grouped conv + BN, then
ReLU of the sum with the input, or, in a stage's first block (stride 2), of the concatenation
with the input average-pooled 3x3 / stride 2 / padding 1 (zeros counted): that block outputs
(stage width - input width) channels itself. The very first 1x1 conv (24 input channels) is not
grouped, and then its shuffle (1 group) changes nothing.

ShuffleV2 (mdistiller's `net_size` 1: stage widths 116, 232, 464, then a 1x1 conv to 1024; 3, 7
and 3 basic blocks after each stage's down block). Down block: left, 3x3 depthwise stride 2 + BN,
1x1 conv to half the width + BN + ReLU; right, 1x1 conv to half + BN + ReLU, 3x3 depthwise
stride 2 + BN, 1x1 conv + BN + ReLU; concatenated, shuffled (2 groups). Basic block: the first half of
the channels passes; the second goes through 1x1 conv + BN + ReLU, 3x3 depthwise + BN, 1x1
conv + BN + ReLU; concatenated (passed half first) and shuffled (2 groups). After the stages:
the 1x1 conv `conv2` + BN + ReLU, then the pool.

Hook points (mdistiller's `feats`): `layer1`, `layer2`, `layer3` (stage outputs); the
classifier's input is mdistiller's `pooled_feat`.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models.zoo import MODELS

_META = {"input_size": 32, "family": "cifar_shufflenet", "feature_layers": ("layer1", "layer2", "layer3")}


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)


class V1Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, groups: int):
        super().__init__()
        mid = cout // 4
        first_groups = 1 if cin == 24 else groups  # the stem's 24 channels are not grouped
        self.conv1 = _conv(cin, mid, 1, groups=first_groups)
        self.bn1 = nn.BatchNorm2d(mid)
        self.shuffle1 = ChannelShuffle(first_groups)
        self.conv2 = _conv(mid, mid, 3, stride, groups=mid)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = _conv(mid, cout, 1, groups=groups)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.shuffle1(self.relu(self.bn1(self.conv1(x))))
        out = self.bn3(self.conv3(self.relu(self.bn2(self.conv2(out)))))
        return self.relu(out + x if self.shortcut is None else torch.cat([out, self.shortcut(x)], 1))


class ShuffleNetV1(nn.Module):
    def __init__(self, num_classes: int = 100, widths=(240, 480, 960), blocks=(4, 8, 4), groups: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.relu = nn.ReLU(inplace=True)
        cin = 24
        for i, (width, count) in enumerate(zip(widths, blocks, strict=True)):
            stage = [V1Bottleneck(cin, width - cin, 2, groups)]  # concatenated with its pooled input
            stage += [V1Bottleneck(width, width, 1, groups) for _ in range(count - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            cin = width
        self.avgpool = nn.AvgPool2d(4)
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(self.avgpool(x).flatten(1))


class V2DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        mid = cout // 2
        self.conv1 = _conv(cin, cin, 3, 2, groups=cin)  # left branch
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv2 = _conv(cin, mid, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = _conv(cin, mid, 1)  # right branch
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv4 = _conv(mid, mid, 3, 2, groups=mid)
        self.bn4 = nn.BatchNorm2d(mid)
        self.conv5 = _conv(mid, mid, 1)
        self.bn5 = nn.BatchNorm2d(mid)
        self.shuffle = ChannelShuffle(2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        left = self.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
        right = self.bn4(self.conv4(self.relu(self.bn3(self.conv3(x)))))
        right = self.relu(self.bn5(self.conv5(right)))
        return self.shuffle(torch.cat([left, right], 1))


class V2BasicBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.half = channels // 2
        half = self.half
        self.conv1 = _conv(half, half, 1)
        self.bn1 = nn.BatchNorm2d(half)
        self.conv2 = _conv(half, half, 3, groups=half)
        self.bn2 = nn.BatchNorm2d(half)
        self.conv3 = _conv(half, half, 1)
        self.bn3 = nn.BatchNorm2d(half)
        self.shuffle = ChannelShuffle(2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        passed, branch = x[:, :self.half], x[:, self.half:]
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(branch)))))
        out = self.relu(self.bn3(self.conv3(out)))
        return self.shuffle(torch.cat([passed, out], 1))


class ShuffleNetV2(nn.Module):
    def __init__(self, num_classes: int = 100, widths=(116, 232, 464, 1024), blocks=(3, 7, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        cin = 24
        for i, (width, count) in enumerate(zip(widths[:3], blocks, strict=True)):
            stage = [V2DownBlock(cin, width), *(V2BasicBlock(width) for _ in range(count))]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            cin = width
        self.conv2 = nn.Conv2d(cin, widths[3], 1, bias=False)
        self.bn2 = nn.BatchNorm2d(widths[3])
        self.linear = nn.Linear(widths[3], num_classes)
        self.relu = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(4)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        return self.linear(self.avgpool(x).flatten(1))


@MODELS.register("cifar_shufflev1", mdistiller="ShuffleV1", feature_dim=960, **_META)
def cifar_shufflev1(num_classes: int = 100) -> nn.Module:
    return ShuffleNetV1(num_classes)


@MODELS.register("cifar_shufflev2", mdistiller="ShuffleV2", feature_dim=1024, **_META)
def cifar_shufflev2(num_classes: int = 100) -> nn.Module:
    return ShuffleNetV2(num_classes)
