"""How the engine reports, without knowing who listens.

The engine calls a `RunLogger` per run; the tracking layer implements it with MLflow, the
executor wraps it to feed the live view, and tests use `MemoryLogger`. Keeping this
interface tiny is what lets the engine import no MLflow, Ray or CLI code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kdsweep.status import RunStatus


class RunLogger(Protocol):
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Metrics at an epoch (`step` = epoch, 1-based) or, with step None, the run's summary.

        Exactly once: a metric already recorded at that step is not recorded again. The engine
        relies on it: a resumed run replays its checkpoint's history, and the logger keeps
        only what it does not hold yet (a process killed after writing last.pt but before
        logging the epoch loses nothing, and logs nothing twice)."""

    def guard(self) -> None:
        """Raise `kdsweep.errors.StopRun` when this process may no longer write for the run
        (another driver took the sweep over). Called before each epoch's last.pt is saved."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """A file worth keeping with the run (best checkpoint, learning curve, resolved config)."""

    def set_status(self, status: RunStatus, reason: str | None = None) -> None:
        """RUNNING, then FINISHED (the reason says why it stopped early, if it did), FAILED
        (with a one-line reason), KILLED or PRUNED (a search's pruner stopped it)."""


@dataclass
class MemoryLogger:
    """Keeps everything in lists: for tests and for the Python entry point."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    artifacts: list[tuple[str, str | None]] = field(default_factory=list)
    statuses: list[tuple[RunStatus, str | None]] = field(default_factory=list)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if step is None:
            self.summary.update(metrics)
        elif all(row["epoch"] != step for row in self.epochs):  # exactly once per step
            self.epochs.append({"epoch": step, **metrics})

    def guard(self) -> None:
        """Never fenced: nothing else writes for a memory logger's run."""

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.artifacts.append((str(path), artifact_path))

    def set_status(self, status: RunStatus, reason: str | None = None) -> None:
        self.statuses.append((status, reason))


class NullLogger:
    """Writes nothing: for timing the engine (`kdsweep plan --estimate`, benchmarks)."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def guard(self) -> None:
        pass

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        pass

    def set_status(self, status: RunStatus, reason: str | None = None) -> None:
        pass
