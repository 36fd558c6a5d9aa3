"""Choosing and checking the store: resolution order, artifact roots, one-line failures, retries."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.tracking import store
from kdsweep.tracking.store import check_store, default_artifact_root, resolve_tracking_uri, with_retry


def test_uri_resolution_order(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri(None) == f"sqlite:///{tmp_path.resolve()}/results/mlflow.db"
    assert resolve_tracking_uri(None, tmp_path / "out") == f"sqlite:///{tmp_path.resolve()}/out/mlflow.db"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert resolve_tracking_uri(None) == "http://mlflow.example:5000"
    assert resolve_tracking_uri("http://other:5001") == "http://other:5001"  # the flag beats the environment

    # Relative SQLite paths become absolute: a Ray worker does not share the driver's directory.
    assert resolve_tracking_uri("sqlite:///runs/m.db") == f"sqlite:///{tmp_path.resolve()}/runs/m.db"
    assert resolve_tracking_uri("runs/m.db") == f"sqlite:///{tmp_path.resolve()}/runs/m.db"
    assert resolve_tracking_uri("sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    assert resolve_tracking_uri(None).endswith("/results/mlflow.db")


def test_default_artifact_root(tmp_path):
    results = tmp_path / "results"
    assert default_artifact_root(f"sqlite:///{results}/mlflow.db", results) == str(results / "mlartifacts")
    assert default_artifact_root(f"sqlite:///{tmp_path}/elsewhere/x.db", results) == str(
        tmp_path / "elsewhere" / "mlartifacts")
    assert default_artifact_root("postgresql://u@db/mlflow", results) == str(results.resolve() / "mlartifacts")
    assert default_artifact_root("http://localhost:5000", results) is None


def test_check_store_creates_sqlite_store_and_results_dir_quietly(template, client):
    # `template` is the session's one real creation: check_store on a path whose results/ did not exist.
    assert template.path.is_file() and template.path.parent.name == "results"
    assert "Creating initial MLflow database tables" not in template.output
    assert "alembic" not in template.output.lower()
    assert template.output.strip() == ""
    assert [e.name for e in client.search_experiments()] == ["Default"]  # a usable, migrated store
    check_store(f"sqlite:///{template.path}")  # an existing store is fine too


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_store_failures_are_one_line(tmp_path):
    with pytest.raises(UserError) as exc:
        check_store("ftp://host/store")
    assert "unsupported tracking URI 'ftp://host/store'" in _one_line(exc)

    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with pytest.raises(UserError) as exc:
        check_store(uri, timeout_s=2)
    message = _one_line(exc)
    assert uri in message and "connection refused" in message and "--tracking-uri" in message

    blocker = tmp_path / "results"
    blocker.write_text("a file where the results directory should be")
    uri = f"sqlite:///{blocker}/mlflow.db"
    with pytest.raises(UserError) as exc:
        check_store(uri)
    assert uri in _one_line(exc) and "--tracking-uri" in str(exc.value)

    (tmp_path / "dir.db").mkdir()
    with pytest.raises(UserError, match="not a writable file"):
        check_store(f"sqlite:///{tmp_path}/dir.db")

    with pytest.raises(UserError) as exc:
        check_store("sqlite://")
    assert "in-memory" in _one_line(exc)

    import mlflow.environment_variables as mlflow_env

    if hasattr(mlflow_env, "MLFLOW_ALLOW_FILE_STORE") and not mlflow_env.MLFLOW_ALLOW_FILE_STORE.get():
        # MLflow 3 refuses file stores unless told otherwise: say so, and what to use instead.
        with pytest.raises(UserError) as exc:
            check_store(f"file://{tmp_path}/mlruns")
        assert "MLFLOW_ALLOW_FILE_STORE=true" in _one_line(exc) and "sqlite" in str(exc.value).lower()

    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError) as exc:
        check_store(f"sqlite:///{corrupt}")
    assert "cannot open the tracking store" in _one_line(exc)


def test_with_retry_retries_only_lock_contention(monkeypatch):
    from mlflow.exceptions import MlflowException

    monkeypatch.setattr(store.time, "sleep", lambda s: None)
    calls = []

    def flaky(x):
        calls.append(x)
        if len(calls) < 3:
            raise MlflowException("(sqlite3.OperationalError) database is locked",
                                  error_code="TEMPORARILY_UNAVAILABLE")
        return x * 2

    assert with_retry(flaky, 21) == 42 and len(calls) == 3

    def broken():
        calls.append("broken")
        raise MlflowException("Run 'abc' not found", error_code="RESOURCE_DOES_NOT_EXIST")

    calls.clear()
    with pytest.raises(MlflowException, match="not found"):
        with_retry(broken)
    assert calls == ["broken"]

    def always_locked():
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError):
        with_retry(always_locked, attempts=4)


def test_relative_path_helpers(tmp_path):
    assert store.sqlite_path("sqlite:///:memory:") is None
    assert store.sqlite_path(f"sqlite:///{tmp_path}/a.db?timeout=5") == f"{tmp_path}/a.db"
    assert Path(store.sqlite_path("sqlite:///rel/a.db")) == Path("rel/a.db")
