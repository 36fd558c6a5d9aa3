"""Train one run from Python, without the CLI, Ray or MLflow.

For notebooks and scripts (benchmarks/digits_kd.py): give a run config as a sweep's `base`
would spell it (or an already resolved one); defaults are filled by the same resolver the
planner uses, so the run is the one a sweep with that config would train.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kdsweep.engine.logger import MemoryLogger, RunLogger
from kdsweep.engine.train import RunResult, train_group
from kdsweep.errors import UserError
from kdsweep.spec.resolve import resolve_run_config


def train_run(
    config: dict[str, Any],
    *,
    workdir: str | Path | None = None,
    logger: RunLogger | None = None,
    device: str = "auto",
) -> RunResult:
    """Train `config` in `workdir` (a new temporary directory when None, kept afterwards so
    `RunResult.best_checkpoint` stays readable). A workdir holding a `last.pt` resumes.

    A teacher must be given by `arch` and `checkpoint` (a `run:` stage needs the planner).
    Per-epoch metrics are in `RunResult.history`; pass a `MemoryLogger` for the rest.
    """
    resolved = resolve_run_config(config)
    teacher = resolved.get("teacher")
    if teacher and teacher.get("run") and not teacher.get("checkpoint"):
        raise UserError("train_run cannot train a stage teacher; give the teacher's `arch` and `checkpoint`",
                        where="teacher.run")
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="kdsweep-run-"))
    logger = logger if logger is not None else MemoryLogger()
    return train_group([resolved], workdirs=[workdir], loggers=[logger], device=device)[0]
