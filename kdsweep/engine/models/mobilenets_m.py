"""MobileNets-M, the student of write-up 002: MobileNetV2 with "overlapping group" blocks.

The expansion 1x1 conv of MobileNetV2 costs C x C*t weights. MobileNets-M instead splits the
block input's C channels into four chunks a, b, c, d, concatenates them as
(a, b, b, c, c, d, d, a) (2C channels) and applies a grouped 1x1 conv (groups = 4,
2C -> C*t) followed by BN and no activation: group k sees chunks k and k+1, so
neighbouring groups share information at half the weights of a dense expansion. Then 3x3
depthwise conv + BN + SiLU, 1x1 projection + BN, and the residual when stride is 1 and
width unchanged.

As 002's code (Fronik-Lihaotian/knowledgeDistillation @ 7a017bf, model_s.py,
`mobilenet_s_medium`: expansion 4) builds it: every block has the grouped conv and its BN,
the t = 1 block too (there it maps 2C -> C); convs carry no bias. Layout [t, c, n, s]
below, stem 32 (3x3 stride 2), head 1280, dropout 0.2 before the classifier, SiLU
everywhere: 1,500,901 parameters with 101 classes. Initialisation is 002's: convs
kaiming-normal (fan-out), BN weight 1 / bias 0, the classifier normal(0, 0.01) with bias 0;
modules are built in 002's order, so the same seed gives the same initial weights.

Names follow torchvision's MobileNetV2 at the top level (`features.0` stem ...
`features.18` head conv, `classifier` = Dropout + Linear), so `freeze: [features]` works
as for the teacher; inside a block: `expand.conv` / `expand.bn`, `depthwise`, `project`.
002's own checkpoints (`features.N.conv.0.0` ...) load through `translate_state_dict`.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from kdsweep.engine.models.weights import rename_all
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
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(overlap_chunks(x, self.groups)))


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
        self.expand = OverlapGroupConv(cin, mid)
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
        for m in self.modules():  # 002's initialisation, in 002's module order
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))

    def translate_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """002's own names (`features.N.conv.0.0.weight` ...) renamed to ours; any other file as is."""
        return rename_all(state, _keys_002)


@MODELS.register("mobilenets_m")
def mobilenets_m(num_classes: int = 101, **kwargs) -> nn.Module:
    return MobileNetsM(num_classes, **kwargs)


# 002's block is `conv` = [Sequential(grouped conv, BN), ConvBNReLU(depthwise), conv, BN].
_BLOCK_002 = {"0.0": "expand.conv", "0.1": "expand.bn", "1.0": "depthwise.0", "1.1": "depthwise.1",
              "2": "project.0", "3": "project.1"}
_KEY_002 = re.compile(r"features\.(\d+)\.conv\.(\d\.\d|\d)\.(\w+)")


def _keys_002(key: str) -> str | None:
    """002's `MobileNet_s` names -> ours (stem, head conv and classifier are named alike)."""
    match = _KEY_002.fullmatch(key)
    if match:
        inner = _BLOCK_002.get(match.group(2))
        return f"features.{match.group(1)}.{inner}.{match.group(3)}" if inner else None
    if re.fullmatch(r"features\.\d+\.[01]\.\w+|classifier\.1\.\w+", key):
        return key
    return None
