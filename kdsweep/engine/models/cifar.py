"""Adapting torchvision ImageNet models to 32x32 inputs (`cifar: true`).

An ImageNet stem divides the input by 4 (stride-2 conv, then a stride-2 max-pool) or by 2,
which leaves a 32x32 image only 1x1 at the last stage. What each family gets:

- resnet*, resnext*, wide_resnet*: `conv1` becomes a 3x3 stride-1 conv (same width, no
  bias) and `maxpool` an Identity (the usual CIFAR ResNet stem).
- shufflenet_v2_*: the 3x3 `conv1` keeps its shape with stride 1; `maxpool` -> Identity.
- mobilenet_v2, mobilenet_v3_*, efficientnet_b*/v2_*, mnasnet*, regnet_*: the stem conv
  (3x3) gets stride 1; they have no max-pool. (mnasnet/regnet likewise.)
- our own `mobilenets_m`: its stem gets stride 1.

Models written for 32x32 (registered with `input_size=32`: digits_*, efficientnet_cifar_*,
efficientnet_ex/exx, the food11 students) need nothing. Any other architecture is refused with a UserError rather
than silently left at its ImageNet stem.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from kdsweep.engine.models.zoo import MODELS
from kdsweep.errors import UserError
from kdsweep.spec.names import mdistiller_alias


def _stem_stride1(conv: nn.Conv2d) -> None:
    conv.stride = (1, 1)


def _resnet(model: nn.Module) -> None:
    old = model.conv1
    model.conv1 = nn.Conv2d(old.in_channels, old.out_channels, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()


def _shufflenet(model: nn.Module) -> None:
    _stem_stride1(model.conv1[0])
    model.maxpool = nn.Identity()


def _features0(model: nn.Module) -> None:
    _stem_stride1(model.features[0][0])


def _mnasnet(model: nn.Module) -> None:
    _stem_stride1(model.layers[0])


def _regnet(model: nn.Module) -> None:
    _stem_stride1(model.stem[0])


def _mobilenets_m(model: nn.Module) -> None:
    _stem_stride1(model.features[0][0])


ADAPTERS: dict[str, Callable[[nn.Module], None]] = {
    "resnet": _resnet,
    "resnext": _resnet,
    "wide_resnet": _resnet,
    "shufflenet_v2": _shufflenet,
    "mobilenets_m": _mobilenets_m,
    "mobilenet_v2": _features0,
    "mobilenet_v3": _features0,
    "efficientnet_b": _features0,
    "efficientnet_v2": _features0,
    "mnasnet": _mnasnet,
    "regnet": _regnet,
}


def adapt_for_32(model: nn.Module, arch: str, *, where: str) -> nn.Module:
    """Make `model` keep spatial resolution on 32x32 inputs; in place, returns it."""
    if MODELS.metadata(arch).get("input_size") == 32:  # written for 32x32
        return model
    for prefix, adapter in ADAPTERS.items():
        if arch.startswith(prefix):
            adapter(model)
            return model
    families = ", ".join(sorted(ADAPTERS))
    theirs = mdistiller_alias(arch)  # `vgg13` is torchvision's ImageNet VGG; the benchmark's is cifar_vgg13
    also = f"; for mdistiller's CIFAR {theirs[0]}, use arch: {theirs[1]}" if theirs else ""
    raise UserError(f"cifar: true is not supported for {arch!r}; supported families: {families}; "
                    f"or set cifar: false{also}", where=where)
