"""Helpers for the executor tests: tiny sweep files and reading the MLflow store back."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_sweep(directory: Path, name: str, body: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + textwrap.dedent(body))
    return path


def store_uri(directory: Path) -> str:
    return f"sqlite:///{(directory / 'results' / 'mlflow.db').resolve()}"


def children(uri: str, sweep: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(sweep)
    assert exp is not None, f"no experiment {sweep}"
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`kdsweep.role` = 'run'", max_results=1000)
    return runs


def history(uri: str, run_id: str, metric: str) -> list[tuple[int, float]]:
    from mlflow.tracking import MlflowClient

    from kdsweep.metric_names import stored_names

    hist = [m for key in stored_names(metric) for m in MlflowClient(uri).get_metric_history(run_id, key)]
    return sorted((m.step, m.value) for m in hist)
