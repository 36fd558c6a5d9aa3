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
        """Metrics at an epoch (`step` = epoch, 1-based) or, with step None, the run's summary."""

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
        else:
            self.epochs.append({"epoch": step, **metrics})

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.artifacts.append((str(path), artifact_path))

    def set_status(self, status: RunStatus, reason: str | None = None) -> None:
        self.statuses.append((status, reason))
