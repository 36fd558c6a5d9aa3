"""Planning a search's trials: each trial's runs, keyed, resolved and grouped like grid points.

The plan cannot list a search's runs up front (Optuna picks them as trials are asked), so this
module plans one trial at a time, with the same resolver, stage wiring and group signature as
a grid point. It also checks the space against the config schema when the sweep is planned
(both ends of each range, every choice), so a typo in a key fails before anything trains.
"""

from __future__ import annotations

import copy
from typing import Any

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan, PlannedRun, _resolve, dependencies, group_signature
from kdsweep.plan.keys import digest, run_key
from kdsweep.plan.origin import Layer, override_layer
from kdsweep.spec.dotted import set_path
from kdsweep.spec.search import Search


def trial_seeds(plan: Plan) -> list[int | None]:
    """The seeds a trial trains: search.seeds, or the base config's own (None)."""
    search = plan.sweep.search
    return list(search.seeds) if search and search.seeds else [None]


def trial_name(number: int, seed: int | None, n_seeds: int) -> str:
    return f"trial {number}" + (f" seed={seed}" if seed is not None and n_seeds > 1 else "")


def _config(plan: Plan, params: dict[str, Any], seed: int | None, where: str) -> dict:
    raw = copy.deepcopy(plan.sweep.base)
    for key, value in params.items():
        set_path(raw, key, value)
    if seed is not None:
        raw["seed"] = seed
    # An error names where the user wrote the key: base, -o, or the search's own value.
    layers = [Layer("base", tree=plan.sweep.base), override_layer(plan.sweep),
              Layer(where, keys=(*params, *(("seed",) if seed is not None else ())))]
    return _resolve(raw, where, plan.stages, list(plan.stages), layers)


def trial_key(config: dict, number: int) -> str:
    """A trial's run key: its config's key and its number, so two trials that drew the same point
    are two runs (each with its own MLflow run, checkpoints and Optuna state)."""
    return digest({"run": run_key(config), "trial": number})


def trial_runs(plan: Plan, number: int, params: dict[str, Any]) -> list[PlannedRun]:
    """The runs of trial `number`: one per seed, grouped by what they can share with other trials."""
    seeds = trial_seeds(plan)
    runs = []
    for seed in seeds:
        config = _config(plan, params, seed, f"search trial {number}")
        point = dict(params) if seed is None else {**params, "seed": seed}
        runs.append(PlannedRun(key=trial_key(config, number), config=config, point=point,
                               depends_on=dependencies(config), group=group_signature(config),
                               name=trial_name(number, seed, len(seeds))))
    return runs


def search_dependencies(plan: Plan) -> list[str]:
    """Stage run keys every trial needs (its teacher, its init), from the base config."""
    search = plan.sweep.search
    probe = {key: p.probe_values()[0] for key, p in search.space.items()} if search else {}
    return dependencies(_config(plan, probe, None, "search"))


def check_space(plan: Plan) -> None:
    """Resolve the base config with each end of each range (each choice): a bad key or value
    is a one-line error naming search.space.<key> now, not a failed trial later."""
    search: Search | None = plan.sweep.search
    if search is None:
        return
    for key, param in search.space.items():
        for value in param.probe_values():  # one key at a time, so the error names the key at fault
            try:
                _config(plan, {key: value}, None, "")
            except UserError as exc:
                text = str(exc).removeprefix(": ")
                raise UserError(f"{value!r} does not make a valid run: {text}", where=f"search.space.{key}") from None


def fingerprint(plan: Plan) -> str:
    """What a study's trials must agree on to be compared: the space, metric, direction, and the
    config every trial starts from. A study whose fingerprint differs was another experiment."""
    search = plan.sweep.search
    assert search is not None
    space = {k: [p.kind, p.low, p.high, p.log, p.step, list(p.choices)] for k, p in search.space.items()}
    base = _config(plan, {key: p.probe_values()[0] for key, p in search.space.items()}, None, "search")
    return digest({"space": space, "metric": search.metric, "direction": search.direction,
                   "seeds": list(search.seeds or []), "base": run_key(base)})
