"""Tracking test helpers: a tiny planned sweep and a fresh SQLite store per test.

Creating an MLflow SQLite store runs every schema migration (seconds), so the store is made
once per session and copied into each test's results/ directory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from kdsweep.plan import Plan, plan_sweep

# No usage reports from test processes (and the subprocesses they start) to anywhere.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from kdsweep.tracking.store import check_store

TINY = """\
name: tiny
description: >
  A tiny sweep for the tracking tests.
base:
  seed: 0
  epochs: 3
  data: {name: digits, batch_size: 64, workers: 0}
  student: {arch: digits_student}
  teacher: {run: teacher}
  optim: {name: sgd, lr: 0.05}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.kd.T: [2, 4]
points:
  - {loss.kd: null}
"""


@dataclass
class Template:
    path: Path
    output: str  # everything printed or logged while the store was created


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Template:
    """The one real store creation of the session (its migrations take seconds), with what it printed:
    stdout/stderr at the file-descriptor level and every log record at INFO and above."""
    path = tmp_path_factory.mktemp("template") / "results" / "mlflow.db"
    records: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: records.append(f"{record.name}: {record.getMessage()}")  # type: ignore[method-assign]
    loggers = [logging.getLogger(), logging.getLogger("mlflow"), logging.getLogger("alembic")]  # mlflow's may not propagate
    for lg in loggers:
        lg.addHandler(handler)
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.INFO)
    with tempfile.TemporaryFile("w+") as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                check_store(f"sqlite:///{path}")
        finally:
            sink.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            for lg in loggers:
                lg.removeHandler(handler)
            root.setLevel(old_level)
        sink.seek(0)
        printed = sink.read()
    return Template(path, printed + "\n".join(records))


@pytest.fixture(scope="session")
def template_db(template) -> Path:
    return template.path


@pytest.fixture
def results_dir(tmp_path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def uri(template_db, results_dir) -> str:
    """A migrated, empty SQLite store at <tmp>/results/mlflow.db."""
    results_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_db, results_dir / "mlflow.db")
    return f"sqlite:///{results_dir / 'mlflow.db'}"


@pytest.fixture
def plan(tmp_path) -> Plan:
    """teacher stage, T=2, T=4 (students of the teacher) and the no-KD baseline: four runs."""
    path = tmp_path / "tiny.yaml"
    path.write_text(textwrap.dedent(TINY))
    return plan_sweep(path)


@pytest.fixture
def client(uri):
    from kdsweep.tracking.store import open_client

    return open_client(uri)
