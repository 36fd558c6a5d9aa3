"""From a resolved model section to a ready `nn.Module`.

Order matters: build the architecture, adapt it to 32x32, swap in the cosine head, then
load `init` weights (so a checkpoint that already has a cosine head fits), then freeze.
Teacher checkpoints are not loaded here: the trainer calls `load_weights(strict=True)`
once it knows which file the teacher stage produced.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from kdsweep.engine.models.cifar import adapt_for_32
from kdsweep.engine.models.weights import freeze, load_weights
from kdsweep.engine.models.zoo import MODELS, all_model_names
from kdsweep.errors import UserError
from kdsweep.spec.entries import DEFAULT_HEAD, HEADS
from kdsweep.spec.names import unknown_model


def _parent(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    head, _, leaf = name.rpartition(".")
    return (model.get_submodule(head) if head else model), leaf


def last_linear(model: nn.Module) -> str:
    """Name of the model's classifier: the last nn.Linear in definition order."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to replace")
    return names[-1]


def replace_head(model: nn.Module, head: dict[str, Any], num_classes: int, *, where: str) -> nn.Module:
    name = head.get("name", DEFAULT_HEAD)
    entry = HEADS.get(name, where=f"{where}.name")
    opts = entry.parse({k: v for k, v in head.items() if k != "name"}, where)
    try:
        fc_name = last_linear(model)
    except ValueError as e:
        raise UserError(f"{e}; remove `head`", where=where) from None
    parent, leaf = _parent(model, fc_name)
    old = getattr(parent, leaf)
    setattr(parent, leaf, entry.load()(old.in_features, num_classes, **opts.to_dict()))
    return model


def build_model(cfg: dict[str, Any], num_classes: int, *, where: str = "student") -> nn.Module:
    """cfg: {arch, num_classes, cifar, head, kwargs, init, freeze} (teacher keys ignored)."""
    arch = cfg.get("arch")
    if not isinstance(arch, str) or not arch:
        raise UserError("arch is required (a model name, e.g. resnet18)", where=f"{where}.arch")
    try:
        factory = MODELS.get(arch)
    except UserError:
        raise UserError(unknown_model(arch, all_model_names()), where=f"{where}.arch") from None
    classes = cfg.get("num_classes") or num_classes
    kwargs = dict(cfg.get("kwargs") or {})
    try:
        model = factory(num_classes=classes, **kwargs)
    except TypeError as e:
        raise UserError(f"{arch} does not accept these kwargs ({e})", where=f"{where}.kwargs") from None
    if cfg.get("cifar"):
        adapt_for_32(model, arch, where=f"{where}.cifar")
    if cfg.get("head"):
        replace_head(model, cfg["head"], classes, where=f"{where}.head")
    init = cfg.get("init")
    if init:
        load_weights(model, init["checkpoint"], strict=False, where=f"{where}.init.checkpoint")
    if cfg.get("freeze"):
        freeze(model, cfg["freeze"], where=f"{where}.freeze")
    return model
