"""Smoke runs and hand-faked data: a sweep trained on fake images is named and titled as one.

`--smoke` trains every run of a sweep on fake images shaped like its data set (`data.fake: true`:
the data set's class count and image size, through the run's own transforms, no file read) for
a few steps of one epoch and one seed, into its own MLflow experiment `<name>-smoke`. A sweep
faked by hand (`-o data.name=fake`) goes to `<name>-fake`. Either way the report's title says
so and its file is `<name>-smoke.md` / `<name>-fake.md`: a smoke run never passes for the real
sweep's results, nor overwrites them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kdsweep.spec.names import dataset_shapes
from kdsweep.spec.overrides import parse_overrides

if TYPE_CHECKING:
    from kdsweep.plan.build import Plan
    from kdsweep.spec.load import Sweep

SMOKE, FAKE = "smoke", "fake"  # Sweep.faked, and the suffix of the experiment's name
# A few steps: 3 train batches of 16 and 2 val batches, one epoch. A user's own -o wins over these.
SMOKE_TRIALS = 2  # a search's smoke run asks this many trials (unless -o search.trials says otherwise)
SMOKE_OVERRIDES: dict[str, Any] = {"data.fake": True, "data.batch_size": 16, "data.limit": 48,
                                   "data.val_limit": 32, "epochs": 1}


# The -o keys that fake a sweep's data by hand; an estimate of a faked sweep prices the sweep without them.
FAKING_KEYS = ("data.name", "data.num_classes", "data.limit", "data.val_limit", "data.input_size", "data.root")


def priced_as_real(overrides: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides of the real sweep that a smoke or hand-faked one stands for, on fake images of its
    data set's shape (`data.fake`): what `plan --estimate` measures and prices at that set's size."""
    return {**{k: v for k, v in parse_overrides(overrides) if k not in FAKING_KEYS}, "data.fake": True}


def with_smoke(overrides: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """The smoke settings under the user's own overrides (theirs win: `-o epochs=2 --smoke`)."""
    return {**SMOKE_OVERRIDES, **dict(parse_overrides(overrides))}


def label(sweep: Sweep, *, smoke: bool) -> None:
    """Name a smoke or hand-faked sweep apart from the real one; a smoke run keeps one seed."""
    faked = SMOKE if smoke else FAKE if sweep.overrides.get("data.name") == "fake" else None
    if faked is None:
        return
    sweep.faked = faked
    sweep.name = f"{sweep.name}-{faked}"
    if smoke and sweep.seeds and "seeds" not in sweep.file_overrides:
        sweep.seeds = sweep.seeds[:1]
    if smoke and sweep.search is not None and "search.trials" not in sweep.file_overrides:
        sweep.search = replace(sweep.search, trials=min(sweep.search.trials, SMOKE_TRIALS))  # its own study too


def fake_note(plan: Plan) -> str | None:
    """One line for a report's title: what the runs trained on, or None for real data."""
    if plan.sweep.faked is None:
        return None
    data = [run.config["data"] for run in plan.runs] or [{}]
    shaped = sorted({d["name"] for d in data if d.get("fake")})
    if shaped:
        shapes = dataset_shapes()
        like = ", ".join(f"{n} ({shapes[n][0] or 'its own'} classes, {shapes[n][1]} px)" if n in shapes else n
                         for n in shaped)
        what = f"fake images shaped like {like}"
    else:
        what = "random images made in code (-o data.name=fake), not the sweep's data set"
    epochs = sorted({int(run.config["epochs"]) for run in plan.runs})
    limit = data[0].get("limit")
    size = f", {limit} train images" if limit else ""
    kind = "Smoke run" if plan.sweep.faked == SMOKE else "Fake data"
    return (f"{kind}: {what}{size}, {'/'.join(map(str, epochs))} epoch(s): a check that the sweep trains, "
            "not results")
