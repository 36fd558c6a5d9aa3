"""The CIFAR EfficientNets of write-ups 000 and 001: B0, B3, EfficientNet-ex and -exx.

Built for 32x32 inputs: the stem is stride 1 and the stage strides are [1,1,2,1,1,2,1], so
the trunk runs at 32, 32, 16, 16, 16, 8, 8 pixels (three stages at 16x16).

The MBConv block, whose exact layout is pinned by 001's parameter counts (with the cosine
head, hidden 200, 100 classes: ex 2,793,064 and exx 2,418,650, matched exactly):
  [1x1 expand conv (no bias) + BN + Swish, only when the expansion is not 1]
  -> kxk depthwise conv (no bias) + BN + Swish
  -> squeeze-excite: pool, 1x1 conv (bias) to int(block_in * 0.25), Swish, 1x1 conv (bias)
     back, sigmoid gate (the SE width is a quarter of the block's *input*, not expanded, width)
  -> 1x1 projection conv WITH bias + BN (the projection bias is the last piece: without it
     ex / exx come out exactly 1,448 / 1,296 short = the sum of their blocks' widths)
  -> drop-connect (B0/B3: rate 0.2 scaled linearly with depth, as EfficientNet does) and
     the residual, when stride 1 and width unchanged.
Stem: 3x3 conv (no bias) + BN + Swish; head: 1x1 conv (no bias) + BN + Swish, global
average pool, dropout, `classifier` Linear (replaced by the cosine head with `head:`).
Kernel sizes 3,3,5,3,5,5,3 and expansions 1,6,6,6,6,6,6 are EfficientNet's. BatchNorm uses
EfficientNet's eps 1e-3 and momentum 0.01.

001's tool lists 20,000 of ex's parameters as non-trainable: that is the cosine head's
200 x 100 class matrix W (its counter did not see it as a trainable layer weight). W is
trained here, as additive-margin softmax trains it; the total is what matches.

Module names (for FA / hint hooks): `features.0` stem, `features.1` .. `features.7` the
seven stages, `features.8` the head conv, then `pool`, `dropout`, `classifier`.
FA layers of 000 (output of the trunk at the 16x16 stage, before the 112-channel block):
  efficientnet_cifar_b0: "features.4" (80 channels, 16x16)
  efficientnet_cifar_b3: "features.4" (96 channels, 16x16)
(ex / exx: "features.4" is 64 channels at 16x16.)

Sizes with the plain linear classifier and 100 classes: B0 4,137,456 (000's "4.1M"),
B3 10,853,540 (000 prints "10.5M").
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models.zoo import MODELS

KERNELS = (3, 3, 5, 3, 5, 5, 3)
EXPANDS = (1, 6, 6, 6, 6, 6, 6)
STRIDES_32 = (1, 1, 2, 1, 1, 2, 1)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeezed: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


def drop_connect(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Drop the whole residual branch per sample (stochastic depth), rescaling the kept ones."""
    if not training or rate == 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int,
                 se_ratio: float = 0.25, drop_rate: float = 0.0):
        super().__init__()
        mid = cin * expand
        self.expand = (nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), _bn(mid), nn.SiLU(inplace=True))
                       if expand != 1 else nn.Identity())
        self.depthwise = nn.Sequential(
            nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False), _bn(mid), nn.SiLU(inplace=True)
        )
        self.se = SqueezeExcite(mid, max(1, int(cin * se_ratio)))
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=True), _bn(cout))
        self.residual = stride == 1 and cin == cout
        self.drop_rate = drop_rate

    def forward(self, x):
        out = self.project(self.se(self.depthwise(self.expand(x))))
        if self.residual:
            out = x + drop_connect(out, self.drop_rate, self.training)
        return out


class EfficientNetCifar(nn.Module):
    def __init__(self, *, stem: int, channels: list[int], repeats: list[int], head: int,
                 num_classes: int = 100, kernels=KERNELS, expands=EXPANDS, strides=STRIDES_32,
                 se_ratio: float = 0.25, drop_connect: float = 0.0, dropout: float = 0.0,
                 in_channels: int = 3):
        super().__init__()
        total = sum(repeats)
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), _bn(stem), nn.SiLU(inplace=True))
        ]
        cin, index = stem, 0
        for cout, n, k, e, s in zip(channels, repeats, kernels, expands, strides, strict=True):
            blocks = []
            for i in range(n):
                blocks.append(MBConv(cin, cout, k, s if i == 0 else 1, e, se_ratio, drop_connect * index / total))
                cin, index = cout, index + 1
            layers.append(nn.Sequential(*blocks))
        layers.append(nn.Sequential(nn.Conv2d(cin, head, 1, bias=False), _bn(head), nn.SiLU(inplace=True)))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x):
        return self.classifier(self.dropout(self.pool(self.features(x)).flatten(1)))


B0 = {"stem": 32, "channels": [16, 24, 40, 80, 112, 192, 320], "repeats": [1, 2, 2, 3, 3, 4, 1], "head": 1280}
B3 = {"stem": 40, "channels": [24, 32, 48, 96, 136, 232, 384], "repeats": [2, 3, 3, 5, 5, 6, 2], "head": 1536}
EX = {"stem": 24, "channels": [16, 24, 32, 64, 88, 152, 256], "repeats": [1, 2, 2, 3, 3, 4, 1], "head": 1024}
EXX = {**EX, "repeats": [1, 2, 2, 3, 3, 3, 1]}

# Dropout before the classifier: EfficientNet's own rates (0.2 for B0, 0.3 for B3); the
# write-ups do not state one for ex / exx, which keep B0's. Override with kwargs.


@MODELS.register("efficientnet_cifar_b0", input_size=32)
def efficientnet_cifar_b0(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**B0, "drop_connect": 0.2, "dropout": 0.2, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_cifar_b3", input_size=32)
def efficientnet_cifar_b3(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**B3, "drop_connect": 0.2, "dropout": 0.3, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_ex", input_size=32)
def efficientnet_ex(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**EX, "drop_connect": 0.0, "dropout": 0.2, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_exx", input_size=32)
def efficientnet_exx(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**EXX, "drop_connect": 0.0, "dropout": 0.2, **kwargs}, num_classes=num_classes)
