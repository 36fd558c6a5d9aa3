"""The engine: trains a group of runs and reports through a `RunLogger`.

`train_group` is what the executor calls (one job = one group); `train_run` is the Python
entry point for a single run. They are re-exported lazily: importing a light submodule
(`kdsweep.engine.logger`, which tracking implements) must not pull in torch, so that
`kdsweep plan` and the report layer stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kdsweep.engine.api import train_run
    from kdsweep.engine.train import RunResult, train_group

__all__ = ["RunResult", "train_group", "train_run"]


def __getattr__(name: str) -> Any:
    if name == "train_run":
        from kdsweep.engine.api import train_run

        return train_run
    if name in ("RunResult", "train_group"):
        from kdsweep.engine import train

        return getattr(train, name)
    raise AttributeError(f"module 'kdsweep.engine' has no attribute {name!r}")
