"""The model registry: every architecture a sweep file may name under `arch`.

Our own models (digits, the write-ups' CIFAR EfficientNets, MobileNets-M, the Food-11
students) are registered explicitly; any torchvision classification model is found by a
fallback, built from scratch (`weights=None`: nothing is ever downloaded) with the run's
number of classes. A factory takes `(num_classes, **kwargs)` and returns an `nn.Module`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

from torch import nn

from kdsweep.registry import Registry

MODELS = Registry("model")


@lru_cache(maxsize=1)
def torchvision_names() -> tuple[str, ...]:
    """Classification models only: detection / segmentation / video builders take other arguments."""
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


def _build_torchvision(name: str, num_classes: int, **kwargs) -> nn.Module:
    import torchvision

    return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)


def _torchvision_finder(name: str) -> Callable[..., nn.Module] | None:
    if name in torchvision_names():
        return partial(_build_torchvision, name)
    return None


MODELS.add_fallback(_torchvision_finder)


def all_model_names() -> list[str]:
    """Registered and torchvision names together, for did-you-mean hints."""
    return sorted(set(MODELS.known()) | set(torchvision_names()))


def is_torchvision(name: str) -> bool:
    return name not in MODELS.known() and name in torchvision_names()
