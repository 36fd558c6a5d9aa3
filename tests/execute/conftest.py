"""Shared pieces for the executor tests: a Ray cluster per test, tiny digits sweeps, store access."""

from __future__ import annotations

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
