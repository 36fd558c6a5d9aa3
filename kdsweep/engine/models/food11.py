"""The Food-11 students of write-up 003 (a 60,000-parameter budget).

`food11_student`: the course's sample student (ML2023 Spring HW13, the "simple baseline"
003 ran as given): four unpadded 3x3 convs (with bias) of 4, 16, 64 and 84 channels, each
followed by BN and ReLU, a 2x2 max-pool after the 2nd, 3rd and 4th, global average
pooling and Linear(84 -> 11): exactly 59,723 parameters with 11 classes, the count 003
reports. At 224x224 the maps are 222, 220 -> 110, 108 -> 54, 52 -> 26: the last is 26x26.
`padding` (default 0, the course's) pads every conv; padding 1 gives the maps of kdsweep
before this was checked (same count, a different network).

`dwpw_student`: a 3x3 stem conv, then depthwise (3x3) + pointwise (1x1) blocks, each conv
followed by BN and LeakyReLU(0.01), global average pooling and a Linear. `channels` sets the
widths (stem, then one block per further entry) and `strides` the stride of each block's
depthwise conv (default 2 everywhere: 224 inputs end at 14x14 after the stride-2 stem). The default
[32, 64, 128, 256] has 50,827 parameters with 11 classes.

Names (for hint / layer-wise alignment hooks): `features.0` .. `features.N` (one stage per
conv of `food11_student`, its pool inside the stage; blocks of `dwpw_student`), `pool`,
`classifier`. A checkpoint of the course's own `StudentNet` (`cnn.*`, `fc.0.*`) loads
through `translate_state_dict` (see weights.py).
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.models.weights import rename_all
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
def food11_student(num_classes: int = 11, channels: list[int] | None = None, in_channels: int = 3,
                   padding: int = 0) -> nn.Module:
    chans = [in_channels, *(channels or [4, 16, 64, 84])]
    stages = []
    for i, (a, b) in enumerate(zip(chans[:-1], chans[1:], strict=True)):
        layers = [nn.Conv2d(a, b, 3, 1, padding), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        if i > 0:  # the course's sample pools after every conv but the first
            layers.append(nn.MaxPool2d(2, 2, 0))
        stages.append(nn.Sequential(*layers))
    return _CourseStudent(nn.Sequential(*stages), chans[-1], num_classes)


class _CourseStudent(_Net):
    def translate_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The course's `StudentNet` names (`cnn.*`, `fc.0.*`) renamed to ours; any other file as is."""
        return rename_all(state, _course_keys)


def _course_keys(key: str) -> str | None:
    """The course's `StudentNet` names -> ours: cnn.{0,1} conv/BN 1, cnn.{3,4}, cnn.{7,8}, cnn.{11,12}, fc.0."""
    head, _, rest = key.partition(".")
    if head == "fc" and rest.startswith("0."):
        return "classifier." + rest[2:]
    if head != "cnn":
        return None
    index, _, leaf = rest.partition(".")
    where = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "7": "2.0", "8": "2.1", "11": "3.0", "12": "3.1"}.get(index)
    return f"features.{where}.{leaf}" if where else None


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
