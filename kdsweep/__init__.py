"""kdsweep: knowledge-distillation sweeps from YAML, trained with Ray, tracked in MLflow, tabled.

From Python (kdsweep/api.py; README, "From Python"):

    import kdsweep
    plan = kdsweep.load_sweep("sweeps/quickstart.yaml")
    kdsweep.run(plan, cpu=True)
    kdsweep.runs(plan)           # a pandas DataFrame, one row per planned run
    kdsweep.table(plan)          # a declared table, as a DataFrame and as Markdown

The names load on first use (module `__getattr__`), so `import kdsweep` imports no MLflow,
pandas, Ray or torch: the CLI and the plan stay fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Table", "load_sweep", "run", "runs", "table", "tables", "trials"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kdsweep import api

        return getattr(api, name)
    raise AttributeError(f"module 'kdsweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
