"""Before a finished run is skipped: is its data still the data it trained on?

Each run records a fingerprint of its data (engine/data/fingerprint.py, the `kdsweep.data` tag).
A sweep run once on a wrong or partial copy and then pointed at the right one would otherwise
skip every run as "already finished". `kdsweep run` stops instead, in one line naming the runs
and what changed, unless told to train them again (`--rerun-changed`) or to keep their results
and record the new data (`--accept-data`); `kdsweep status` shows them. Runs from before the
fingerprint existed have no tag and are not questioned.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kdsweep.errors import UserError
from kdsweep.plan import Plan

RERUN_FLAG, ACCEPT_FLAG = "--rerun-changed", "--accept-data"


@dataclass(frozen=True)
class DataChange:
    key: str
    name: str
    run_id: str
    what: str  # `cifar100 train, val (now 2 files, 161.0 MB under /data/c100)`
    now: str  # the new kdsweep.data tag


def data_changes(plan: Plan, children: Mapping[str, Any]) -> list[DataChange]:
    """The plan's finished runs whose recorded data differs from what their `data` section finds now.
    `children`: run key -> tracking.run_lookup.RunInfo (the store's latest child per key)."""
    from kdsweep.engine.data.fingerprint import as_json, fingerprint
    from kdsweep.tracking.names import TAG_DATA

    out = []
    current: dict[str, Any] = {}
    for run in plan.runs:
        info = children.get(run.key)
        if info is None or info.status != "FINISHED" or not info.tags.get(TAG_DATA):
            continue
        data = run.config["data"]
        text = json.dumps(data, sort_keys=True, default=str)
        if text not in current:
            current[text] = fingerprint(data)
        prints = current[text]
        now = as_json(prints)
        if now == info.tags[TAG_DATA]:
            continue
        try:
            before = json.loads(info.tags[TAG_DATA])
        except ValueError:
            before = {}
        splits = sorted(set(before) | set(prints), key=lambda s: (s != "train", s != "val", s))
        moved = [s for s in splits if before.get(s) != (prints[s].digest if s in prints else None)]
        shown = "; ".join(f"{s} now {prints[s].describe()}" if s in prints else f"{s} gone" for s in moved)
        place = f"{data['name']} under {data['root']}" if data.get("root") and not data.get("fake") else data["name"]
        out.append(DataChange(run.key, run.name or run.short, info.run_id, f"{place}: {shown}", now))
    return out


def refusal(plan: Plan, changed: list[DataChange]) -> UserError:
    """The one line `kdsweep run` stops with."""
    names = ", ".join(c.name for c in changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    where = changed[0].what + (" (and others)" if len({c.what for c in changed}) > 1 else "")
    return UserError(f"the data changed since {len(changed)} finished run(s) trained ({names}): {where}; "
                     f"{RERUN_FLAG} trains them again, {ACCEPT_FLAG} keeps their results and records the new data",
                     where=str(plan.sweep.path))
