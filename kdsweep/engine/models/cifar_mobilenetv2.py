"""MobileNetV2 at half width for 32x32 inputs (the KD benchmark's student), as mdistiller builds it.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/mobilenetv2.py
(`mobile_half`, the `MobileNetV2` of its `cifar_model_dict`: expansion T = 6, width x0.5): same
state-dict names and shapes, so their checkpoints load strictly, and the same logits for the
same weights (tests/engine/models/test_model_cifar_zoo.py). Not torchvision's `mobilenet_v2`.

How it differs from the ImageNet MobileNetV2 (and so from a rebuild by the paper):
- widths are int(c x width) with no rounding to multiples of 8: stem 16, then 8, 12, 16, 32,
  48, 80, 160; the last 1x1 conv keeps 1280 channels (scaled only for width > 1);
- stage strides [1, 1, 2, 2, 1, 2, 1] after a stride-2 stem (the second stage keeps its
  resolution): 32 -> 16, 16, 8, 4, 4, 2, 2 pixels;
- every block has its 1x1 expansion conv + BN + ReLU, the t = 1 block too;
- ReLU (not ReLU6); no dropout; the pool is a 2x2 average pool (ceil mode) on the 2x2 map.
Block: 1x1 conv (x t) + BN + ReLU, 3x3 depthwise (with the stride) + BN + ReLU, 1x1 conv + BN
(`conv.0` .. `conv.7`), plus the input when stride 1 and width unchanged. No conv has a bias;
BatchNorm at PyTorch's defaults.

Initialisation is mdistiller's: convs normal(0, sqrt(2 / (k * k * out_channels))) (kaiming-normal,
fan-out), BN PyTorch's default, the classifier normal(0, 0.01) with bias 0; modules in
mdistiller's order (same seed, same initial weights).

Hook points (mdistiller's `feats`): `blocks.1`, `blocks.2`, `blocks.4`, `blocks.6` (outputs of
those stages); the classifier's input is mdistiller's `pooled_feat`.
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS

LAYOUT = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2), (None, 64, 4, 2), (None, 96, 3, 1),
          (None, 160, 3, 2), (None, 320, 1, 1))  # (expansion, None: the model's; channels; blocks; stride)


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        expand, depthwise = _conv_bn_relu(cin, mid, 1), _conv_bn_relu(mid, mid, 3, stride, groups=mid)
        project = [nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*expand, *depthwise, *project)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class CifarMobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 100, expansion: int = 6, width: float = 0.5):
        super().__init__()
        cin = int(32 * width)
        self.conv1 = nn.Sequential(*_conv_bn_relu(3, cin, 3, 2))
        self.blocks = nn.ModuleList()
        for t, c, n, s in LAYOUT:
            cout = int(c * width)
            stage = []
            for i in range(n):
                stage.append(InvertedResidual(cin, cout, s if i == 0 else 1, t or expansion))
                cin = cout
            self.blocks.append(nn.Sequential(*stage))
        last = int(1280 * width) if width > 1.0 else 1280
        self.conv2 = nn.Sequential(*_conv_bn_relu(cin, last, 1))
        self.classifier = nn.Sequential(nn.Linear(last, num_classes))
        self.avgpool = nn.AvgPool2d(2, ceil_mode=True)  # the 2x2 map of a 32x32 input -> 1x1
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.conv1(x)
        for stage in self.blocks:
            x = stage(x)
        return self.classifier(self.avgpool(self.conv2(x)).flatten(1))


@MODELS.register("cifar_mobilenetv2", mdistiller="MobileNetV2", input_size=32, family="cifar_mobilenetv2",
                 feature_layers=("blocks.1", "blocks.2", "blocks.4", "blocks.6"), feature_dim=1280)
def cifar_mobilenetv2(num_classes: int = 100, expansion: int = 6, width: float = 0.5) -> nn.Module:
    """`expansion` and `width` are mdistiller's T and W (`mobilenetv2_T_w(T, W)`; `mobile_half` is 6, 0.5)."""
    return CifarMobileNetV2(num_classes, expansion, width)
