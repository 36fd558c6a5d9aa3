"""What happened to a run: one status type for the engine, tracking, execute and report.

Like optuna's `TrialState`: a closed set of states with the questions everyone asks of
them (`is_finished()`), instead of status words spelled in each layer. The values are the
`kdsweep.status` tag values, upper case; `word` is how a table or the terminal says them.
It is a `StrEnum`, so a status compares equal to its tag text and is written as it.
No torch, no MLflow: every layer may import it.
"""

from __future__ import annotations

from enum import Enum


class _StrEnum(str, Enum):
    """enum.StrEnum (Python 3.11+), spelled out so kdsweep keeps running on Python 3.10."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class RunStatus(_StrEnum):
    PENDING = "PENDING"  # planned and created in the store, not started (MLflow: SCHEDULED)
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"  # trained to its last epoch, or stopped early by its own patience
    FAILED = "FAILED"  # diverged, a config the engine cannot use, or a crash
    KILLED = "KILLED"  # stopped from outside (Ctrl-C, a rerun superseding it); resumes next time
    NOT_RUN = "NOT_RUN"  # never started: a stage it needs did not finish
    PRUNED = "PRUNED"  # stopped by a search's pruner: a finished trial, not a failure

    def is_finished(self) -> bool:
        """It has ended: a later `kdsweep run` leaves it alone unless asked (optuna's wording)."""
        return self in _ENDED

    def is_success(self) -> bool:
        """Its numbers are the run's final ones (a pruned run's are final too, if short)."""
        return self in (RunStatus.FINISHED, RunStatus.PRUNED)

    @property
    def word(self) -> str:
        """The display word: `not run`, `finished`."""
        return self.value.lower().replace("_", " ")

    @property
    def mlflow_status(self) -> str:
        """The MLflow run status this one is shown as (MLflow knows no NOT_RUN or PRUNED)."""
        return _MLFLOW.get(self, self.value)

    @classmethod
    def parse(cls, text: str | None) -> RunStatus | None:
        """A tag value, MLflow status or display word as a status; None for an unknown word."""
        if not text:
            return None
        key = str(text).strip().upper().replace(" ", "_")
        if key == "SCHEDULED":  # MLflow's word for a run created but not started
            return cls.PENDING
        try:
            return cls(key)
        except ValueError:
            return None


_ENDED = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.NOT_RUN, RunStatus.PRUNED})
_MLFLOW = {RunStatus.PENDING: "SCHEDULED", RunStatus.NOT_RUN: "KILLED", RunStatus.PRUNED: "KILLED"}
