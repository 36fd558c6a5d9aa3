"""Shared pieces for the executor tests: a Ray cluster per test, tiny digits sweeps, store access, a tracking
server on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty directory: results/ (store, checkpoints) lands there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray cluster with 2 CPUs shared by a module's tests (starting one costs ~6 s)."""
    import ray

    ray.shutdown()
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_on_postgres():
    """A tracking server on a database, as a lab would run one: PostgreSQL (initdb in a temp dir,
    127.0.0.1, a free port) and `mlflow server` on it (pg_server.py); its URI, http://127.0.0.1:PORT.
    Both stopped after the session, even when a test failed. Missing binaries fail in CI, skip elsewhere."""
    from pg_server import pg_bin, start_mlflow, start_postgres
    from ray_nodes import free_port

    if pg_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed: make setup installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="kdpg", dir="/tmp"))  # in /tmp: the postgres user can reach it
    postgres = mlflow = None
    try:
        postgres = start_postgres(root, free_port())
        mlflow = start_mlflow(postgres.uri, root / "artifacts", free_port(), root / "mlflow.log")
        yield mlflow.uri
    finally:
        if mlflow is not None:
            mlflow.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(root, ignore_errors=True)
