"""Small CNNs for the embedded digits data set (3x32x32, 10 classes).

They exist so a whole sweep (teacher, then students with KD) trains in seconds on a CPU
and still shows a real distillation effect: the teacher (~290k parameters) reaches >95%
and the student (~15k) >90% validation accuracy within a few epochs.

Layout: `features` is a Sequential of stages (`features.0` .. `features.3`, each
conv3x3-BN-ReLU-maxpool halving the size: 16, 8, 4, 2), then global average pooling and
`classifier` (one Linear). Stage names are the hook points for hint / FA losses.
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class DigitsNet(nn.Module):
    def __init__(self, widths: list[int], num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        chans = [in_channels, *widths]
        self.features = nn.Sequential(*(_stage(a, b) for a, b in zip(chans[:-1], chans[1:], strict=True)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(chans[-1], num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


@MODELS.register("digits_teacher")
def digits_teacher(num_classes: int = 10, widths: list[int] | None = None, in_channels: int = 3) -> nn.Module:
    return DigitsNet(widths or [32, 64, 128, 192], num_classes, in_channels)


@MODELS.register("digits_student")
def digits_student(num_classes: int = 10, widths: list[int] | None = None, in_channels: int = 3) -> nn.Module:
    return DigitsNet(widths or [8, 16, 32, 32], num_classes, in_channels)
