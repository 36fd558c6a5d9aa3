"""Where the user wrote a key: so an error names `base.lossx` or `-o lossx.kd.T`, not the
stage or point that merely inherited the mistake (issue 12).

A run's raw config is layered: the sweep's `base`, the `-o` overrides, then the stage body or
the point. The last layer that wrote the failing key path (or a parent or child of it) is
where the user can fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kdsweep.spec.dotted import has_path
from kdsweep.spec.load import Sweep


@dataclass(frozen=True)
class Layer:
    label: str  # how an error names it: "base", "-o", or the run ("stages.teacher", "point T=2")
    tree: dict[str, Any] | None = None  # a nested config (base, a stage body)
    keys: tuple[str, ...] = ()  # dotted keys (overrides, a point)
    # Override keys that replaced their whole section (`schedule.name` a new schedule): they wrote
    # every key under it, `schedule.milestones` included (spec/dotted.py, `assign`).
    replacing: tuple[str, ...] = ()

    def wrote(self, path: str) -> str | None:
        """The key as this layer spells it, when it wrote `path` or something above or below it."""
        if self.tree is not None:
            return path if has_path(self.tree, path) else None
        for key in self.keys:
            if key == path or path.startswith(key + ".") or key.startswith(path + "."):
                return key
        for key in self.replacing:
            section = key.rpartition(".")[0]
            if path.startswith(section + "."):
                return f"{key} ({path})"
        return None


def override_layer(sweep: Sweep) -> Layer:
    """The sweep's run-config `-o` overrides as a layer of every point's and trial's config."""
    return Layer("-o", keys=tuple(sweep.overrides), replacing=sweep.replacing)


def blame(where: str | None, layers: list[Layer], run_label: str) -> str:
    """The `where` of an error raised at key path `where` while resolving a run built from
    `layers` (in the order they were applied): the run's own label stays when the run wrote
    the key, or nobody did (a required key left out); else the layer that did."""
    if not where:
        return run_label
    path = re.sub(r"\[\d+\]", "", where)
    for layer in reversed(layers):
        key = layer.wrote(path)
        if key is None:
            continue
        if layer.label == run_label:
            break
        if layer.label == "-o":
            return f"-o {key}"
        return f"{layer.label}.{where}"
    return f"{run_label}: {where}"
