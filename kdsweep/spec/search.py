"""The `search:` block of a sweep: a space of config values that Optuna picks points from.

A grid enumerates; a search hands the choice of points to a sampler (TPE by default) and
stops unpromising trials early with a pruner. This module only reads and checks the block
(no Optuna, no torch: `kdsweep plan` stays fast); the executor turns it into a study.

    search:
      space:
        loss.kd.T: {float: [1, 20], log: true}
        loss.kd.alpha: {float: [0.1, 0.95]}
        student.arch: {choice: [shufflenet_v2_x0_5, shufflenet_v2_x1_0]}
      metric: best_val_acc1      # a summary metric of each run
      direction: maximize
      trials: 40                 # the budget: trials in all, over every `kdsweep run` of the sweep
      parallel: 8                # trials in flight at once (default: the free slots)
      seeds: [0, 1]              # a trial's value is the mean over these seeds (default: base seed)
      sampler: tpe               # tpe, random, grid, gp, cmaes; or {tpe: {startup_trials: 4}}
      sampler_seed: 0            # makes the sampler's draws repeatable
      pruner: {median: {warmup_epochs: 5}}   # or hyperband, successive_halving, none
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from kdsweep.errors import UserError, did_you_mean

SEARCH_KEYS = ("space", "metric", "direction", "trials", "parallel", "seeds", "sampler", "sampler_seed", "pruner")
# Sampler options as the sweep file spells them, with defaults (Optuna's own).
SAMPLERS: dict[str, dict[str, int]] = {
    "tpe": {"startup_trials": 10},  # random trials before TPE models the space
    "random": {},
    "grid": {},
    "gp": {"startup_trials": 10},
    "cmaes": {"startup_trials": 1},
}
DIRECTIONS = ("maximize", "minimize")
DEFAULT_METRIC = "best_val_acc1"
# The per-epoch value the pruner compares across trials; it grows as a trial gets better.
PRUNE_ON = "val_acc1"
# Pruner options as the sweep file spells them (epochs, not Optuna's "steps"), with defaults.
PRUNERS: dict[str, dict[str, int]] = {
    "median": {"warmup_epochs": 0, "startup_trials": 5},
    "hyperband": {"min_epochs": 1, "reduction_factor": 3},
    "successive_halving": {"min_epochs": 1, "reduction_factor": 4},
    "none": {},
}
DEFAULT_PRUNER = "median"
KINDS = ("float", "int", "choice")
PARAM_KEYS = {"float": ("float", "log", "step"), "int": ("int", "log", "step"), "choice": ("choice",)}


@dataclass(frozen=True)
class SearchParam:
    """One dimension of the space: a float or int range (maybe log-scaled) or a list of choices."""

    key: str  # dotted config path
    kind: str  # float | int | choice
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(_text(c) for c in self.choices)
        scale = ", log" if self.log else ""
        step = f", step {_text(self.step)}" if self.step is not None else ""
        return f"{self.kind} in [{_text(self.low)}, {_text(self.high)}]{scale}{step}"

    def grid_values(self) -> list | None:
        """Every value a grid sampler visits, or None for a continuous float range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9))
            return [round(self.low + i * self.step, 12) for i in range(n + 1)]
        return None

    def probe_values(self) -> list:
        """The range's ends (or every choice): what the planner resolves to check the keys early."""
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


@dataclass(frozen=True)
class Search:
    space: dict[str, SearchParam]
    metric: str = DEFAULT_METRIC
    direction: str = "maximize"
    trials: int = 20
    parallel: int | None = None
    seeds: tuple[int, ...] | None = None
    sampler: str = "tpe"
    sampler_options: dict[str, int] = field(default_factory=lambda: dict(SAMPLERS["tpe"]))
    sampler_seed: int | None = None
    pruner: str = DEFAULT_PRUNER
    pruner_options: dict[str, int] = field(default_factory=dict)

    @property
    def grid_size(self) -> int | None:
        sizes = [p.grid_values() for p in self.space.values()]
        if any(s is None for s in sizes):
            return None
        return math.prod(len(s) for s in sizes)

    @property
    def budget(self) -> int:
        """Trials in all: `trials`, or the grid's size when a grid sampler has fewer points."""
        size = self.grid_size if self.sampler == "grid" else None
        return min(self.trials, size) if size else self.trials

    def pruner_text(self) -> str:
        return _with_options(self.pruner, self.pruner_options)

    def sampler_text(self) -> str:
        return _with_options(self.sampler, self.sampler_options)


def _with_options(name: str, options: dict[str, int]) -> str:
    opts = ", ".join(f"{k} {v}" for k, v in options.items())
    return f"{name} ({opts})" if opts else name


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(where: str, value: Any, *, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"expected an integer, got {value!r}", where=where)
    if value < least:
        raise UserError(f"expected at least {least}, got {value}", where=where)
    return value


def _check_keys(where: str, raw: dict, allowed: tuple[str, ...]) -> None:
    for key in raw:
        if key not in allowed:
            raise UserError(f"unknown key {key!r}; {did_you_mean(key, allowed)}", where=f"{where}.{key}")


def parse_param(key: str, raw: Any) -> SearchParam:
    where = f"search.space.{key}"
    if not isinstance(raw, dict):
        raise UserError(f"expected {{float: [low, high]}}, {{int: [low, high]}} or {{choice: [a, b, ...]}}, "
                        f"got {raw!r}", where=where)
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) != 1:
        unknown = [k for k in raw if k not in ("log", "step")]
        if not kinds and unknown:
            raise UserError(f"unknown key {unknown[0]!r}; {did_you_mean(unknown[0], KINDS)}",
                            where=f"{where}.{unknown[0]}")
        raise UserError("give exactly one of float: [low, high], int: [low, high] or choice: [...]", where=where)
    kind = kinds[0]
    _check_keys(where, raw, PARAM_KEYS[kind])
    if kind == "choice":
        choices = raw["choice"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"expected a non-empty list of values, got {choices!r}", where=f"{where}.choice")
        return SearchParam(key, "choice", choices=tuple(choices))
    bounds = raw[kind]
    if not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_number(b) for b in bounds):
        raise UserError(f"expected [low, high], two numbers, got {bounds!r}", where=f"{where}.{kind}")
    low, high = bounds
    if kind == "int" and not all(isinstance(b, int) for b in bounds):
        raise UserError(f"expected two integers, got {bounds!r}; use float: for a real range", where=f"{where}.int")
    if low > high or (kind == "float" and low == high):
        raise UserError(f"empty range [{_text(low)}, {_text(high)}]: low must be below high", where=f"{where}.{kind}")
    log = raw.get("log", False)
    if not isinstance(log, bool):
        raise UserError(f"expected true or false, got {log!r}", where=f"{where}.log")
    if log and low <= 0:
        raise UserError(f"a log range needs bounds > 0, got [{_text(low)}, {_text(high)}]", where=f"{where}.log")
    step = raw.get("step")
    if step is not None:
        if kind == "int":
            step = _int(f"{where}.step", step, least=1)
        elif not _is_number(step) or step <= 0:
            raise UserError(f"expected a number > 0, got {step!r}", where=f"{where}.step")
        if log:
            raise UserError("log and step do not go together (Optuna samples one or the other)", where=f"{where}.step")
    if kind == "float":
        low, high = float(low), float(high)
    return SearchParam(key, kind, low=low, high=high, log=log, step=step)


def _named_options(what: str, raw: Any, known: dict[str, dict[str, int]], default: str) -> tuple[str, dict[str, int]]:
    """`name` or `{name: {option: value}}` (a sampler, a pruner), options checked and defaulted."""
    where = f"search.{what}"
    if raw is None:
        return default, dict(known[default])
    if raw is False and "none" in known:
        return "none", {}
    if isinstance(raw, str):
        name, options = raw, {}
    elif isinstance(raw, dict) and len(raw) == 1:
        name, options = next(iter(raw.items()))
        options = options or {}
    else:
        raise UserError(f"expected a {what} name or {{name: {{options}}}}, got {raw!r}", where=where)
    if name not in known:
        raise UserError(f"unknown {what} {name!r}; {did_you_mean(str(name), known)}", where=where)
    if not isinstance(options, dict):
        raise UserError(f"expected a mapping of options, got {options!r}", where=f"{where}.{name}")
    _check_keys(f"{where}.{name}", options, tuple(known[name]))
    out = dict(known[name])
    for key, value in options.items():
        least = 2 if key == "reduction_factor" else (0 if key in ("warmup_epochs", "startup_trials") else 1)
        out[key] = _int(f"{where}.{name}.{key}", value, least=least)
    return name, out


def parse_search(raw: Any) -> Search | None:
    """The checked `search:` block, or None when the sweep has none. Errors name search.<key>."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise UserError(f"expected a mapping (space:, metric:, trials: ...), got {raw!r}", where="search")
    _check_keys("search", raw, SEARCH_KEYS)
    space_raw = raw.get("space")
    if not isinstance(space_raw, dict) or not space_raw:
        raise UserError("required: a mapping of dotted config key -> range, e.g. loss.kd.T: {float: [1, 20]}",
                        where="search.space")
    space = {str(k): parse_param(str(k), v) for k, v in space_raw.items()}
    metric = raw.get("metric", DEFAULT_METRIC)
    if not isinstance(metric, str) or not metric.strip():
        raise UserError(f"expected the name of a summary metric (e.g. best_val_acc1), got {metric!r}",
                        where="search.metric")
    direction = raw.get("direction", "maximize")
    if direction not in DIRECTIONS:
        raise UserError(f"{direction!r} is not one of {', '.join(DIRECTIONS)}", where="search.direction")
    trials = _int("search.trials", raw.get("trials", 20), least=1)
    parallel = raw.get("parallel")
    if parallel is not None:
        parallel = _int("search.parallel", parallel, least=1)
    seeds = raw.get("seeds")
    if seeds is not None:
        if not isinstance(seeds, list) or not seeds:
            raise UserError(f"expected a non-empty list of integers, got {seeds!r}", where="search.seeds")
        for s in seeds:
            _int("search.seeds", s, least=-(2 ** 31))
        if len(set(seeds)) != len(seeds):
            raise UserError(f"repeated seed in {seeds}", where="search.seeds")
        seeds = tuple(seeds)
    sampler, sampler_options = _named_options("sampler", raw.get("sampler"), SAMPLERS, "tpe")
    sampler_seed = raw.get("sampler_seed")
    if sampler_seed is not None:
        sampler_seed = _int("search.sampler_seed", sampler_seed, least=0)
    pruner, options = _named_options("pruner", raw.get("pruner"), PRUNERS, DEFAULT_PRUNER)
    search = Search(space=space, metric=metric.strip(), direction=direction, trials=trials, parallel=parallel,
                    seeds=seeds, sampler=sampler, sampler_options=sampler_options, sampler_seed=sampler_seed,
                    pruner=pruner, pruner_options=options)
    if sampler == "grid" and search.grid_size is None:
        key = next(k for k, p in space.items() if p.grid_values() is None)
        raise UserError("the grid sampler needs every dimension countable: give this float range a step, "
                        "or use choice: / int:", where=f"search.space.{key}")
    if pruner != "none" and direction == "minimize":
        raise UserError(f"the pruner compares each epoch's {PRUNE_ON}, which grows as a trial gets better, so it "
                        "needs direction: maximize; use pruner: none to minimize", where="search.pruner")
    return search
