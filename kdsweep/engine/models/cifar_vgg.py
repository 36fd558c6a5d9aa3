"""VGG-8 / 11 / 13 / 16 / 19 with BatchNorm for 32x32 inputs, as mdistiller builds them.

Faithful to megvii-research/mdistiller @ a08d46f, mdistiller/models/cifar/vgg.py (the
`vgg8_bn` .. `vgg19_bn` its `cifar_model_dict` names `vgg8` .. `vgg19`): same state-dict names
and shapes, so their checkpoints load strictly, and the same logits for the same weights
(tests/engine/models/test_model_cifar_zoo.py). Not torchvision's `vgg11` .. `vgg19` (ImageNet
models, which those names keep meaning).

Five blocks `block0` .. `block4`; a block is 3x3 convs (padding 1, WITH bias) each followed
by BN and ReLU, except that the block's last ReLU is applied outside it (so a block ends with
its BN, indices conv 0, BN 1, ReLU 2, conv 3, BN 4, ...). Widths per block (VGG's A / B / D /
E configurations; VGG-8 is one conv per block):
  vgg8  [64], [128], [256], [512], [512]
  vgg11 [64], [128], [256, 256], [512, 512], [512, 512]
  vgg13 two convs per block, vgg16 2, 2, 3, 3, 3, vgg19 2, 2, 4, 4, 4 (64, 128, 256, 512, 512).
Between blocks: ReLU, then a 2x2 max-pool after blocks 0, 1 and 2 (32 -> 16 -> 8 -> 4 pixels);
after block 3 only when the input is 64x64 (mdistiller's Tiny-ImageNet case), so on CIFAR
blocks 3 and 4 both run at 4x4. Then ReLU, adaptive average pool to 1x1 (`pool4`) and one
Linear(512) (`classifier`). BatchNorm at PyTorch's defaults.

Initialisation is mdistiller's: convs normal(0, sqrt(2 / (k * k * out_channels))) (kaiming-normal,
fan-out) with bias 0, BN PyTorch's default, the classifier normal(0, 0.01) with bias 0; modules
in mdistiller's order (same seed, same initial weights).

Hook points: `relu1` .. `relu4` (mdistiller's `feats`: each block's output after its ReLU),
`block1` .. `block4` (its `preact_feats`: before it); the classifier's input is its `pooled_feat`.
"""

from __future__ import annotations

from torch import nn

from kdsweep.engine.models.zoo import MODELS

CONFIGS = {
    "vgg8": ((64,), (128,), (256,), (512,), (512,)),
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg13": ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
_META = {"input_size": 32, "family": "cifar_vgg", "feature_layers": ("relu1", "relu2", "relu3", "relu4"),
         "feature_dim": 512}


def _block(cin: int, widths: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Conv2d(cin, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        cin = width
    return nn.Sequential(*layers[:-1])  # the last ReLU is the network's (`relu<i>`), outside the block


class CifarVGG(nn.Module):
    def __init__(self, config: tuple[tuple[int, ...], ...], num_classes: int = 100):
        super().__init__()
        cin = 3
        for i, widths in enumerate(config):
            setattr(self, f"block{i}", _block(cin, widths))
            cin = widths[-1]
        for i in range(4):
            setattr(self, f"pool{i}", nn.MaxPool2d(2, 2))
        self.pool4 = nn.AdaptiveAvgPool2d(1)
        for i in range(5):  # not in place: a hook on `block<i>` keeps the values before the ReLU
            setattr(self, f"relu{i}", nn.ReLU())
        self.classifier = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                m.weight.data.normal_(0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        tiny_imagenet = x.shape[2] == 64
        x = self.pool0(self.relu0(self.block0(x)))
        x = self.pool1(self.relu1(self.block1(x)))
        x = self.pool2(self.relu2(self.block2(x)))
        x = self.relu3(self.block3(x))
        if tiny_imagenet:
            x = self.pool3(x)
        x = self.relu4(self.block4(x))
        return self.classifier(self.pool4(x).flatten(1))


@MODELS.register("cifar_vgg8", mdistiller="vgg8", **_META)
def cifar_vgg8(num_classes: int = 100) -> nn.Module:
    return CifarVGG(CONFIGS["vgg8"], num_classes)


@MODELS.register("cifar_vgg11", mdistiller="vgg11", **_META)
def cifar_vgg11(num_classes: int = 100) -> nn.Module:
    return CifarVGG(CONFIGS["vgg11"], num_classes)


@MODELS.register("cifar_vgg13", mdistiller="vgg13", **_META)
def cifar_vgg13(num_classes: int = 100) -> nn.Module:
    return CifarVGG(CONFIGS["vgg13"], num_classes)


@MODELS.register("cifar_vgg16", mdistiller="vgg16", **_META)
def cifar_vgg16(num_classes: int = 100) -> nn.Module:
    return CifarVGG(CONFIGS["vgg16"], num_classes)


@MODELS.register("cifar_vgg19", mdistiller="vgg19", **_META)
def cifar_vgg19(num_classes: int = 100) -> nn.Module:
    return CifarVGG(CONFIGS["vgg19"], num_classes)
