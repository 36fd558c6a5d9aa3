"""MobileNets-M, the student of write-up 002: MobileNetV2 with "overlapping group" blocks.

The expansion 1x1 conv of MobileNetV2 costs C x C*t weights. MobileNets-M instead splits the
block input's C channels into four chunks a, b, c, d, concatenates them as
(a, b, b, c, c, d, d, a) (2C channels) and applies a grouped 1x1 conv (groups = 4,
2C -> C*t): group k sees chunks k and k+1, so neighbouring groups share information at half
the weights of a dense expansion. Then 3x3 depthwise conv + BN + SiLU, 1x1 projection + BN,
and the residual when stride is 1 and width unchanged.

Choices REFERENCE.md leaves open, made here: the grouped conv has neither BN nor activation
("no activation"); blocks with t = 1 skip it, as MobileNetV2 skips its expansion there; convs
carry no bias (BN follows them). Layout [t, c, n, s] below, stem 32 (3x3 stride 2), head
1280, dropout 0.2, SiLU everywhere: 1,490,853 parameters with 101 classes ("about 1.5M").

Names follow torchvision's MobileNetV2 (`features.0` stem ... `features.18` head conv,
`classifier` = Dropout + Linear), so `freeze: [features]` works as for the teacher.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models.zoo import MODELS

LAYOUT = [[1, 16, 1, 1], [4, 24, 2, 2], [4, 32, 3, 2], [4, 64, 4, 2], [4, 96, 3, 1], [4, 160, 3, 2], [4, 320, 1, 1]]


def overlap_chunks(x: torch.Tensor, groups: int = 4) -> torch.Tensor:
    """(a, b, c, d) -> (a, b, b, c, c, d, d, a) along channels: each chunk with its successor."""
    chunks = x.chunk(groups, dim=1)
    return torch.cat([t for k in range(groups) for t in (chunks[k], chunks[(k + 1) % groups])], dim=1)


class OverlapGroupConv(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int = 4):
        super().__init__()
        if cin % groups or cout % groups:
            raise ValueError(f"overlapping group conv needs channels divisible by {groups}: {cin} -> {cout}")
        self.groups = groups
        self.conv = nn.Conv2d(2 * cin, cout, 1, groups=groups, bias=False)

    def forward(self, x):
        return self.conv(overlap_chunks(x, self.groups))


def _conv_bn_act(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.SiLU(inplace=True),
    )


class OverlapInvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = OverlapGroupConv(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn_act(mid, mid, 3, stride, groups=mid)
        self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class MobileNetsM(nn.Module):
    def __init__(self, num_classes: int = 101, *, layout=LAYOUT, stem: int = 32, head: int = 1280,
                 dropout: float = 0.2, in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_act(in_channels, stem, 3, 2)]
        cin = stem
        for t, c, n, s in layout:
            for i in range(n):
                layers.append(OverlapInvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn_act(cin, head, 1, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@MODELS.register("mobilenets_m")
def mobilenets_m(num_classes: int = 101, **kwargs) -> nn.Module:
    return MobileNetsM(num_classes, **kwargs)
