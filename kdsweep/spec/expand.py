"""Expand a sweep's grid, zip groups, explicit points and seeds into points.

A point is an ordered mapping of dotted key -> value that is applied on top of `base`;
the same point order every time, so plans and tables list runs as the file declares them.
"""

from __future__ import annotations

import itertools
from typing import Any

from kdsweep.spec.load import Sweep


def expand_points(sweep: Sweep) -> list[dict[str, Any]]:
    """Grid x zip groups (cartesian), then the explicit points, each replicated per seed."""
    factors: list[list[dict[str, Any]]] = []
    for key, values in sweep.grid.items():
        factors.append([{key: v} for v in values])
    for group in sweep.zips:
        n = len(next(iter(group.values())))
        factors.append([{k: vs[i] for k, vs in group.items()} for i in range(n)])
    points: list[dict[str, Any]] = []
    if factors:
        for combo in itertools.product(*factors):
            merged: dict[str, Any] = {}
            for part in combo:
                merged.update(part)
            points.append(merged)
    points.extend(dict(p) for p in sweep.points)
    if not points:
        points = [{}]
    if sweep.seeds:
        points = [{**p, "seed": s} for p in points for s in sweep.seeds]
    return points


def axis_names(sweep: Sweep) -> list[str]:
    """The dotted keys a sweep varies, in declaration order (grid, zip, points, seed)."""
    names: list[str] = list(sweep.grid)
    for group in sweep.zips:
        names.extend(k for k in group if k not in names)
    for point in sweep.points:
        names.extend(k for k in point if k not in names)
    if sweep.seeds and len(sweep.seeds) > 1 and "seed" not in names:
        names.append("seed")
    return names
