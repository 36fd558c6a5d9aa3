"""The one rule for fused groups: which runs may train in one process over one data pipeline.

Runs of a group share the teacher, data, seed, epochs, batch size, model and schedule: one
data pipeline and one teacher forward per batch feed every student. They may differ in what
each student does with a batch: its loss terms and their options (T, alpha, FA / hint on or
off), and what its entries and the skeleton declare fusable (the optimiser's `lr`, the
student's own early stop `train.patience`). How the shared teacher runs (eval / train mode)
is shared, so it stays in. The plan groups by this rule and the engine checks it.
"""

from __future__ import annotations

import copy
from typing import Any

from kdsweep.spec.defaults import FUSABLE
from kdsweep.spec.dotted import set_path
from kdsweep.spec.entries import OPTIMIZERS
from kdsweep.spec.resolve import teacher_mode


def shared_part(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a resolved config every run of its group must have in common."""
    out = copy.deepcopy(config)
    optim = out.get("optim") or {}
    if optim.get("name") in OPTIMIZERS:
        for key in OPTIMIZERS.get(optim["name"]).fusable:
            optim.pop(key, None)
    for path in FUSABLE:
        set_path(out, path, None)
    out["loss"] = {"teacher_mode": teacher_mode(config.get("loss") or {})}
    return out


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """The first top-level key whose shared part differs between two configs, else None."""
    sa, sb = shared_part(a), shared_part(b)
    return next((k for k in dict.fromkeys([*sa, *sb]) if sa.get(k) != sb.get(k)), None)
