"""Name -> factory registries (models, data sets, losses, schedules, optimisers).

As in torchdistill and timm: a component is added with a decorator and looked up by the
name a sweep file uses; an unknown name fails as a `UserError` that lists the closest
known names, so a typo in YAML is a one-line fix.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kdsweep.errors import UserError, did_you_mean


class Registry:
    """A named table of factories with did-you-mean lookup, and metadata attached at
    registration (timm's style): `@MODELS.register("digits_student", input_size=32)`."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._fallbacks: list[Callable[[str], Callable[..., Any] | None]] = []

    def register(self, name: str | None = None, **meta: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__
            if key in self._items:
                raise ValueError(f"{self.kind} {key!r} registered twice")
            self._items[key] = fn
            self._meta[key] = dict(meta)
            return fn

        return add

    def add_fallback(self, finder: Callable[[str], Callable[..., Any] | None]) -> None:
        """A finder asked for names not registered explicitly (e.g. every torchvision model)."""
        self._fallbacks.append(finder)

    def metadata(self, name: str) -> dict[str, Any]:
        """What was declared with the name (empty for names a fallback finds)."""
        return dict(self._meta.get(name, {}))

    def known(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except UserError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.known())

    def get(self, name: str, *, where: str | None = None) -> Callable[..., Any]:
        if name in self._items:
            return self._items[name]
        for finder in self._fallbacks:
            found = finder(name)
            if found is not None:
                return found
        raise UserError(f"unknown {self.kind} {name!r}; {did_you_mean(name, self.known())}", where=where)


def import_all(package: str, path: Iterable[str]) -> None:
    """Import every module of a package's folder, so that each registers its components.

    The plan reads the names from the same folder's decorators without importing anything
    (`spec.names`); importing by folder keeps the engine's registry equal to what the plan accepts.
    """
    for module in pkgutil.iter_modules(path):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
