"""How `kdsweep plan` shows a search: its space, objective, sampler, pruner and budget."""

from __future__ import annotations

from rich.table import Table

from kdsweep.plan.build import Plan
from kdsweep.plan.search import trial_seeds


def search_table(plan: Plan) -> Table:
    search = plan.sweep.search
    assert search is not None
    seeds = trial_seeds(plan)
    epochs = int(plan.sweep.base.get("epochs") or 0) or None
    runs = search.budget * len(seeds)
    budget = f"{search.budget} trials" + (f" x {len(seeds)} seeds = {runs} runs" if len(seeds) > 1 else "")
    if search.budget < search.trials:
        budget += f" (the grid's size; trials: {search.trials})"
    if epochs:
        budget += f", at most {runs * epochs} epochs"
    table = Table(title=f"{plan.sweep.name}: search, {budget}", show_header=True)
    table.add_column("search", no_wrap=True)
    table.add_column("")
    for key, param in search.space.items():
        table.add_row(key, param.describe())
    table.add_row("objective", f"{search.direction} {search.metric}"
                  + (f", mean over seeds {', '.join(str(s) for s in seeds)}" if len(seeds) > 1 else ""))
    parallel = str(search.parallel) if search.parallel else "the free slots"
    seeded = f" (seed {search.sampler_seed})" if search.sampler_seed is not None else ""
    table.add_row("sampler", f"{search.sampler_text()}{seeded}, {parallel} in flight")
    table.add_row("pruner", search.pruner_text())
    return table
