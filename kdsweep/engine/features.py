"""Intermediate feature maps caught with forward hooks on named modules.

FA and hint losses compare feature maps inside the student and the teacher. Catching them
with hooks, by the module names `model.named_modules()` prints, keeps model code untouched
(docs/design.md, "The component contract"): any torchvision or timm model works as it is, and a sweep names the layer.

The maps are kept as the forward produced them: a student's maps still carry their graph
(the loss backpropagates through them), so call `clear()` after the backward to let that
memory go. A teacher run under `torch.no_grad()` gives maps without a graph.

`CLASSIFIER_INPUT` names no module: it catches the *input* of the model's classifier (its
cosine head, else its last nn.Linear), the pooled features before the classifier, which is
where mdistiller's CRD reads ("pooled_feat") whatever the architecture.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from kdsweep.engine.models.heads import cosine_head_of
from kdsweep.errors import UserError, did_you_mean

CLASSIFIER_INPUT = "<classifier input>"


class FeatureHooks:
    """Forward hooks on `model.get_submodule(name)` for each name; `.features` holds the latest outputs."""

    def __init__(self, model: nn.Module, names: Iterable[str], *, where: str):
        self._features: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []
        self.where = where
        self.names = list(dict.fromkeys(names))  # a layer two terms share is hooked once
        for name in self.names:
            if name == CLASSIFIER_INPUT:
                module = classifier_of(model, where=where)
                self._handles.append(module.register_forward_pre_hook(self._input_keeper(name)))
                continue
            module = find_module(model, name, where=where)
            self._handles.append(module.register_forward_hook(self._keeper(name)))

    @property
    def features(self) -> dict[str, torch.Tensor]:
        """The outputs of the latest forward, by module name (a copy: clearing it later is safe)."""
        return dict(self._features)

    def clear(self) -> None:
        self._features.clear()

    def remove(self) -> None:
        """Detach every hook, so the model runs (and pickles) as if never hooked."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._features.clear()

    def __enter__(self) -> FeatureHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def _keeper(self, name: str):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            self._features[name] = _tensor_of(output, name, self.where)

        return hook

    def _input_keeper(self, name: str):
        def hook(module: nn.Module, args: Any) -> None:
            self._features[name] = _tensor_of(args, name, self.where)

        return hook


def classifier_of(model: nn.Module, *, where: str) -> nn.Module:
    """The module whose input is the features before the classifier: the cosine head, else the last Linear."""
    inner = list(_unwrapped(model))[-1]
    head = cosine_head_of(inner)
    if head is not None:
        return head
    linears = [m for m in inner.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UserError(f"{type(inner).__name__} has no nn.Linear classifier whose input could be caught; "
                        "name the layer", where=where)
    return linears[-1]


def find_module(model: nn.Module, name: str, *, where: str) -> nn.Module:
    """`model.get_submodule(name)`, looking through torch.compile / DataParallel wrappers too.

    A compiled model's modules are named `_orig_mod.<name>`; the sweep names the plain
    model's modules, so the wrapper is looked through rather than the user asked to know it.
    """
    for candidate in _unwrapped(model):
        try:
            return candidate.get_submodule(name)
        except AttributeError:
            continue
    inner = list(_unwrapped(model))[-1]
    known = [n for n, _ in inner.named_modules() if n]
    raise UserError(
        f"no module named {name!r} in {type(inner).__name__}; {did_you_mean(name, known)}", where=where
    )


def _unwrapped(model: nn.Module):
    yield model
    seen = {id(model)}
    for attr in ("_orig_mod", "module"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module) and id(inner) not in seen:
            seen.add(id(inner))
            yield inner
            model = inner


def _tensor_of(output: Any, name: str, where: str) -> torch.Tensor:
    """A module's output, or the first tensor of a tuple/list output (e.g. an RNN's (out, state))."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list):
        for item in output:
            if isinstance(item, torch.Tensor):
                return item
    raise UserError(
        f"module {name!r} returns {type(output).__name__}, not a tensor; hook a module whose output is "
        "a feature map",
        where=where,
    )
