"""A search space in Optuna's terms, shared by the study owner (execute) and the report.

Optuna is imported inside the functions, so importing this module (and `kdsweep plan`) stays
light. Choices Optuna cannot store (mappings, lists) travel as their text label and are
mapped back to the config value they stand for.
"""

from __future__ import annotations

import json
from typing import Any

from kdsweep.spec.search import Search, SearchParam


def labels(param: SearchParam) -> list | None:
    """The text labels of a choice whose values are not plain scalars; None when all are plain."""
    if all(c is None or isinstance(c, (bool, int, float, str)) for c in param.choices):
        return None
    return [json.dumps(c, sort_keys=True, default=str) for c in param.choices]


def distributions(search: Search) -> dict[str, Any]:
    """Optuna's distribution per space key."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for key, p in search.space.items():
        if p.kind == "float":
            out[key] = FloatDistribution(p.low, p.high, log=p.log, step=p.step)
        elif p.kind == "int":
            out[key] = IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
        else:
            out[key] = CategoricalDistribution(labels(p) or list(p.choices))
    return out


def grid_space(search: Search) -> dict[str, list]:
    """Every value a grid sampler visits, per key (as Optuna stores them)."""
    return {k: labels(p) or p.grid_values() for k, p in search.space.items()}


def config_values(search: Search, params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's params as config values (a choice's label back to the value it stands for)."""
    out = {}
    for key, value in params.items():
        param = search.space.get(key)
        names = labels(param) if param is not None and param.kind == "choice" else None
        out[key] = param.choices[names.index(value)] if names and value in names else value
    return out


def optuna_values(search: Search, point: dict[str, Any]) -> dict[str, Any]:
    """Config values (a trial run's point) as Optuna's params: the inverse of `config_values`."""
    out = {}
    for key, param in search.space.items():
        if key not in point:
            continue
        value = point[key]
        names = labels(param) if param.kind == "choice" else None
        if names:
            value = next((n for n, c in zip(names, param.choices, strict=True) if c == value), value)
        out[key] = value
    return out
