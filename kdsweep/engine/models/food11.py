"""The Food-11 students of write-up 003 (a 60,000-parameter budget).

`food11_student`: four conv3x3 (with bias) + BN + ReLU stages of 4, 16, 64 and 84 channels,
a 2x2 max-pool after each of the first three, global average pooling and Linear(84 -> 11):
exactly 59,723 parameters with 11 classes, the count 003 reports (the layout is pinned by
that count: biases on the convs and the classifier are what make it exact).

`dwpw_student`: a 3x3 stem conv, then depthwise (3x3) + pointwise (1x1) blocks, each conv
followed by BN and LeakyReLU(0.01), global average pooling and a Linear. `channels` sets the
widths (stem, then one block per further entry) and `strides` the stride of each block's
depthwise conv (default 2 everywhere, so 224 inputs end at 7x7). The default
[32, 64, 128, 256] has 50,827 parameters with 11 classes.

Names (for hint / layer-wise alignment hooks): `features.0` .. `features.N` (stages /
blocks), `pool`, `classifier`.
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS


class _Net(nn.Module):
    def __init__(self, features: nn.Sequential, width: int, num_classes: int):
        super().__init__()
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@MODELS.register("food11_student", input_size=32)
def food11_student(num_classes: int = 11, channels: list[int] | None = None, in_channels: int = 3) -> nn.Module:
    chans = [in_channels, *(channels or [4, 16, 64, 84])]
    stages = []
    for i, (a, b) in enumerate(zip(chans[:-1], chans[1:], strict=True)):
        layers = [nn.Conv2d(a, b, 3, 1, 1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        if i < len(chans) - 2:
            layers.append(nn.MaxPool2d(2))
        stages.append(nn.Sequential(*layers))
    return _Net(nn.Sequential(*stages), chans[-1], num_classes)


def dwpw_block(cin: int, cout: int, stride: int = 2) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin),
        nn.BatchNorm2d(cin),
        nn.LeakyReLU(0.01, inplace=True),
        nn.Conv2d(cin, cout, 1),
        nn.BatchNorm2d(cout),
        nn.LeakyReLU(0.01, inplace=True),
    )


@MODELS.register("dwpw_student", input_size=32)
def dwpw_student(num_classes: int = 11, channels: list[int] | None = None, strides: list[int] | None = None,
                 in_channels: int = 3) -> nn.Module:
    chans = list(channels or [32, 64, 128, 256])
    strides = list(strides or [2] * (len(chans) - 1))
    if len(strides) != len(chans) - 1:
        raise TypeError(f"strides needs {len(chans) - 1} entries (one per block), got {len(strides)}")
    layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, chans[0], 3, 2, 1), nn.BatchNorm2d(chans[0]),
                                             nn.LeakyReLU(0.01, inplace=True))]
    layers += [dwpw_block(a, b, s) for a, b, s in zip(chans[:-1], chans[1:], strides, strict=True)]
    return _Net(nn.Sequential(*layers), chans[-1], num_classes)
