"""The data set registry: `data.name` in a sweep file is a key of `DATASETS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kdsweep.engine.data.raw import DatasetDef, Loader
from kdsweep.registry import Registry
from kdsweep.spec.data_defaults import Defaults

DATASETS = Registry("data set")


def dataset(
    name: str,
    *,
    num_classes: int | None,
    input_size: int,
    transforms: Defaults,
    count_classes: Callable[[str], int | None] | None = None,
    needs_root: bool = True,
    check: Callable[[dict[str, Any]], Any] | None = None,
    classes_from_config: bool = False,
    samples: tuple[int, int] | None = None,
) -> Callable[[Loader], Loader]:
    """Register a loader `(cfg, seed) -> TensorData | FileData` under `name`; `transforms`: input size ->
    (train, val) default transform lists, run by the plan too (`spec.data_defaults`); `needs_root`:
    the data lives in files under `data.root` (False for data made or bundled in code);
    `check(cfg)` checks its layout cheaply (preflight); `classes_from_config`: `data.num_classes`
    sets the class count (data made in code; the others' files or definition fix it); `samples`: its
    (train, val) image counts as published, what `plan --estimate` prices a smoke run of it at without its files."""

    def add(load: Loader) -> Loader:
        DATASETS.register(name)(DatasetDef(name, num_classes, input_size, load, transforms, count_classes, needs_root,
                                                  check, classes_from_config, samples))
        return load

    return add
