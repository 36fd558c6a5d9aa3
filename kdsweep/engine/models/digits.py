"""Small CNNs for the embedded digits data set (3x32x32, 10 classes).

They exist so a whole sweep (teacher, then students with KD) trains in seconds on a CPU
and still shows a real distillation effect: the teacher (~390k parameters) and the student
(~25k) both pass 90% validation accuracy within two or three epochs.

The digits are 8x8 images scaled up to 32x32, so full resolution carries nothing: the stem
is a stride-2 conv and every later stage max-pools *before* its conv, putting the wide
layers at 8, 4 and 2 pixels (the teacher costs 3.8M multiply-adds per image, not 14M).

Layout: `features` is a Sequential of stages `features.0` (conv3x3 stride 2, BN, ReLU: 16x16)
and `features.1` .. `features.3` (max-pool 2, conv3x3, BN, ReLU: 8, 4, 2 pixels), then global
average pooling and `classifier` (one Linear). Stage names are the hook points for hint /
FA losses.
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS


def _stage(cin: int, cout: int, first: bool) -> nn.Sequential:
    conv = nn.Conv2d(cin, cout, 3, stride=2 if first else 1, padding=1, bias=False)
    layers = [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers) if first else nn.Sequential(nn.MaxPool2d(2), *layers)


class DigitsNet(nn.Module):
    def __init__(self, widths: list[int], num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        chans = [in_channels, *widths]
        pairs = zip(chans[:-1], chans[1:], strict=True)
        self.features = nn.Sequential(*(_stage(a, b, i == 0) for i, (a, b) in enumerate(pairs)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(chans[-1], num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@MODELS.register("digits_teacher", input_size=32)
def digits_teacher(num_classes: int = 10, widths: list[int] | None = None, in_channels: int = 3) -> nn.Module:
    return DigitsNet(widths or [32, 64, 128, 256], num_classes, in_channels)


@MODELS.register("digits_student", input_size=32)
def digits_student(num_classes: int = 10, widths: list[int] | None = None, in_channels: int = 3) -> nn.Module:
    return DigitsNet(widths or [8, 16, 32, 64], num_classes, in_channels)
