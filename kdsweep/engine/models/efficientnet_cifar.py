"""The CIFAR EfficientNets of write-ups 000 and 001: B0, B3, EfficientNet-ex and -exx.

Output for output the originals' (chrisqqq123/FA-Dist-EfficientNet @ 6364909, files
models/efficientnet.py for B0 / B3 and models/efficientnet_ex.py for ex / exx; see
docs/fidelity/efficientnet_000_001.md and the golden tests). Built for 32x32 inputs: the stem
is stride 1 and the stage strides are [1,1,2,1,1,2,1], so the trunk runs at 32, 32, 16, 16, 16,
8, 8 pixels (three stages at 16x16).

The MBConv block:
  [1x1 expand conv (no bias) + BN + Swish, only when the expansion is not 1]
  -> kxk depthwise conv (no bias), TF "same" zero padding (below) + BN + Swish
  -> squeeze-excite: pool, 1x1 conv (bias) to int(block_in / 4), Swish, 1x1 conv (bias)
     back, sigmoid gate (the SE width is a quarter of the block's *input* width)
  -> 1x1 projection conv WITH bias + BN
  -> drop-connect and the residual, when stride 1 and width unchanged.
Stem: 3x3 conv (no bias) + BN + Swish; head: 1x1 conv (no bias) + BN + Swish, global
average pool, then the classifier.

What the originals fix and a rebuild from parameter counts would miss:
- BatchNorm eps 1e-5 (PyTorch's; not TF EfficientNet's 1e-3), momentum 0.01.
- The depthwise conv pads p = k - stride zeros, [p // 2, p - p // 2] on each axis: symmetric at
  stride 1, one more zero right / bottom than left / top at stride 2 (not k // 2 each side).
- B0 / B3 drop-connect 0.2 on every residual block (a constant, not scaled with depth);
  ex / exx none (their block never calls it).
- The classifier: with the cosine head (`head: cosine`, 000 / 001's "coslinear") there is no
  dropout before it; with a plain Linear classifier, dropout 0.2 (B0), 0.3 (B3), 0 (ex / exx).
- Initialisation: conv weights normal(0, sqrt(2 / (k * k * out_channels))), biases 0; BN 1 / 0;
  Linear weights uniform(+-1 / sqrt(out_features)), biases 0 (the cosine head's own in heads.py).

001's tool lists 20,000 of ex's parameters as non-trainable: that is the cosine head's
200 x 100 class matrix W (its counter did not see it as a trainable layer weight). W is
trained here, as in the original; the total is what matches (ex 2,793,064, exx 2,418,650).

Module names (for FA / hint hooks): `features.0` stem, `features.1` .. `features.7` the
seven stages, `features.8` the head conv, then `pool`, `dropout`, `classifier`.
FA layers of 000 (the original's `features` / `features_2` split, before the 112-channel block):
  efficientnet_cifar_b0: "features.4" (80 channels, 16x16)
  efficientnet_cifar_b3: "features.4" (96 channels, 16x16)
(ex / exx: "features.4" is 64 channels at 16x16.)

The originals' checkpoints (e.g. 001's `model_state_*.pytar`) name things differently (a flat
`features.N.conv.M` list, 000's B0 / B3 split into `features` and `features_2`, the cosine
classifier as `classifier.0` / `classifier.2.kernel`): `translate_state_dict` renames them, and
`load_weights` calls it, so such a file loads as a teacher or `init` checkpoint as it is.

Sizes with the plain linear classifier and 100 classes: B0 4,137,456 (000's "4.1M"),
B3 10,853,540 (000 prints "10.5M").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.engine.models.heads import CosineHead
from kdsweep.engine.models.zoo import MODELS

KERNELS = (3, 3, 5, 3, 5, 5, 3)
EXPANDS = (1, 6, 6, 6, 6, 6, 6)
STRIDES_32 = (1, 1, 2, 1, 1, 2, 1)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.01)


class SameConv2d(nn.Conv2d):
    """Conv with the originals' TF-style "same" zero padding: p = max(k - stride, 0) zeros per
    axis, p // 2 before and p - p // 2 after (asymmetric when p is odd, i.e. at stride 2)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(cin, cout, kernel, stride, padding=0, groups=groups, bias=bias)
        p = max(kernel - stride, 0)
        self.same_pad = (p // 2, p - p // 2, p // 2, p - p // 2)  # left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same_pad))


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
            SameConv2d(mid, mid, kernel, stride, groups=mid), _bn(mid), nn.SiLU(inplace=True)
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
    """`drop_connect`: the rate of every residual block. `dropout`: before a plain Linear
    classifier only; the cosine head that `head: cosine` swaps in gets none (the originals')."""

    def __init__(self, *, stem: int, channels: list[int], repeats: list[int], head: int,
                 num_classes: int = 100, kernels=KERNELS, expands=EXPANDS, strides=STRIDES_32,
                 se_ratio: float = 0.25, drop_connect: float = 0.0, dropout: float = 0.0,
                 in_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), _bn(stem), nn.SiLU(inplace=True))
        ]
        cin = stem
        for cout, n, k, e, s in zip(channels, repeats, kernels, expands, strides, strict=True):
            blocks = []
            for i in range(n):
                blocks.append(MBConv(cin, cout, k, s if i == 0 else 1, e, se_ratio, drop_connect))
                cin = cout
            layers.append(nn.Sequential(*blocks))
        layers.append(nn.Sequential(nn.Conv2d(cin, head, 1, bias=False), _bn(head), nn.SiLU(inplace=True)))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head, num_classes)
        init_like_original(self)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        if not isinstance(self.classifier, CosineHead):  # the originals' coslinear has no dropout
            x = self.dropout(x)
        return self.classifier(x)

    def translate_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A state dict in the originals' names renamed to this model's; any other passes as is.

        The originals' blocks are `features.N.conv.M`, a name kdsweep never uses; some other
        keys coincide (`features.0.1.weight` is their stem conv, our stem BN), so only a file
        with such block names is renamed."""
        if not any(".conv." in k or k.startswith("features_2.") for k in state):
            return state
        state = _unsplit(state)
        back = {orig: ours for ours, orig in original_key_map(self).items()}
        return {back.get(k, k): v for k, v in state.items()}


def init_like_original(model: nn.Module) -> None:
    """The originals' initialisation of every conv, BN and Linear in `model`."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data.normal_(0.0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1.0)
            m.bias.data.zero_()
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.out_features)
            m.weight.data.uniform_(-bound, bound)
            m.bias.data.zero_()


def _unsplit(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """000's B0 / B3 keep the blocks after the FA point in `features_2.J`: renumber them as
    `features.(N + J)`, N the number of entries in `features`, the flat layout of 001."""
    if not any(k.startswith("features_2.") for k in state):
        return state
    split = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("features."))
    out = {}
    for k, v in state.items():
        if k.startswith("features_2."):
            _, j, rest = k.split(".", 2)
            k = f"features.{split + int(j)}.{rest}"
        out[k] = v
    return out


def original_key_map(model: EfficientNetCifar) -> dict[str, str]:
    """kdsweep state-dict key -> the originals' key (001's flat `features.N` layout).

    The originals' ConvBNReLU is Sequential(ZeroPad2d, Conv2d, BatchNorm2d, Swish), so its conv
    is `.1` and its BN `.2`; a block is `features.N.conv.M`; SE convs are `se.1` / `se.3`."""
    modules: dict[str, str] = {"features.0.0": "features.0.1", "features.0.1": "features.0.2"}
    n = 1
    for s, stage in enumerate(model.features[1:-1], start=1):
        for b, block in enumerate(stage):
            ours, orig = f"features.{s}.{b}", f"features.{n}.conv"
            j = 0
            if not isinstance(block.expand, nn.Identity):
                modules |= {f"{ours}.expand.0": f"{orig}.0.1", f"{ours}.expand.1": f"{orig}.0.2"}
                j = 1
            modules |= {
                f"{ours}.depthwise.0": f"{orig}.{j}.1", f"{ours}.depthwise.1": f"{orig}.{j}.2",
                f"{ours}.se.reduce": f"{orig}.{j + 1}.se.1", f"{ours}.se.expand": f"{orig}.{j + 1}.se.3",
                f"{ours}.project.0": f"{orig}.{j + 2}", f"{ours}.project.1": f"{orig}.{j + 3}",
            }
            n += 1
    last = len(model.features) - 1
    modules |= {f"features.{last}.0": f"features.{n}.1", f"features.{last}.1": f"features.{n}.2"}
    if isinstance(model.classifier, CosineHead):  # Sequential(Linear, L2norm, Arcface)
        modules["classifier.hidden"] = "classifier.0"
        params = {"classifier.weight": "classifier.2.kernel"}
    else:  # Sequential(Dropout, Linear)
        modules["classifier"] = "classifier.1"
        params = {}
    out = {}
    for key in model.state_dict():
        if key in params:
            out[key] = params[key]
            continue
        module, _, leaf = key.rpartition(".")
        out[key] = f"{modules[module]}.{leaf}"
    return out


B0 = {"stem": 32, "channels": [16, 24, 40, 80, 112, 192, 320], "repeats": [1, 2, 2, 3, 3, 4, 1], "head": 1280}
B3 = {"stem": 40, "channels": [24, 32, 48, 96, 136, 232, 384], "repeats": [2, 3, 3, 5, 5, 6, 2], "head": 1536}
EX = {"stem": 24, "channels": [16, 24, 32, 64, 88, 152, 256], "repeats": [1, 2, 2, 3, 3, 4, 1], "head": 1024}
EXX = {**EX, "repeats": [1, 2, 2, 3, 3, 3, 1]}

# Regularisers as the originals set them (override with kwargs): drop-connect 0.2 on B0 / B3,
# none on ex / exx; dropout (plain Linear classifier only) 0.2 / 0.3 / 0 / 0.


@MODELS.register("efficientnet_cifar_b0", input_size=32)
def efficientnet_cifar_b0(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**B0, "drop_connect": 0.2, "dropout": 0.2, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_cifar_b3", input_size=32)
def efficientnet_cifar_b3(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**B3, "drop_connect": 0.2, "dropout": 0.3, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_ex", input_size=32)
def efficientnet_ex(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**EX, "drop_connect": 0.0, "dropout": 0.0, **kwargs}, num_classes=num_classes)


@MODELS.register("efficientnet_exx", input_size=32)
def efficientnet_exx(num_classes: int = 100, **kwargs) -> nn.Module:
    return EfficientNetCifar(**{**EXX, "drop_connect": 0.0, "dropout": 0.0, **kwargs}, num_classes=num_classes)
