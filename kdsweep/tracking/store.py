"""Where runs are recorded: choosing the MLflow store, checking it early, opening clients.

Every process of a sweep (the driver, each Ray worker, `kdsweep status`, `kdsweep ui`, the
report) must talk to the same store, so the URI is resolved once, made absolute (a Ray
worker does not share the driver's working directory), and checked before anything is
trained: a typo in `--tracking-uri` should cost one line at start-up, not a sweep's worth of
failed runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from kdsweep.errors import UserError
from kdsweep.tracking.sqlite_locks import check_not_held_by_a_stopped_process

if TYPE_CHECKING:
    from mlflow import MlflowClient

T = TypeVar("T")

DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"
SQL_SCHEMES = ("postgresql", "mysql", "mssql")  # SQLAlchemy stores other than SQLite (with +driver suffixes)
HTTP_TIMEOUT_S = 5.0
FIX_HINT = "pass --tracking-uri (or set MLFLOW_TRACKING_URI) to a reachable store, e.g. sqlite:///results/mlflow.db"

# MLflow narrates store creation and system-metrics start-up at INFO; kdsweep prints its own progress.
_QUIET_LOGGERS = ("alembic", "mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store",
                  "mlflow.system_metrics", "mlflow.tracking._tracking_service.client", "mlflow.utils.autologging_utils")


class _DropDatabaseErrors(logging.Filter):
    """MLflow logs a full traceback for every SQLAlchemy error ("database is locked", "unable to
    open database file") and then raises it. kdsweep retries the transient ones (`with_retry`),
    rides out outages (tracking.logger) and reports the rest in one line, so these tracebacks
    are noise: thousands of lines in every worker's log during one store outage."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (_is_transient_text(message) or message.startswith("SQLAlchemy database error"))


_quieted = False


def quiet_mlflow_logging() -> None:
    """Silence MLflow's INFO chatter (alembic migrations on a new store, monitor start/stop) once per process."""
    global _quieted
    if _quieted:
        return
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("mlflow.store.db.utils").addFilter(_DropDatabaseErrors())
    _quieted = True


def open_client(uri: str) -> MlflowClient:
    """An MlflowClient for `uri`, with MLflow's start-up logging silenced (a new SQLite store runs
    its migrations on first use and would otherwise print them)."""
    quiet_mlflow_logging()
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


# URIs -----------------------------------------------------------------------------------


def sqlite_path(uri: str) -> str | None:
    """The file path of a `sqlite:///...` URI (None for in-memory or another scheme)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return None if not path or path == ":memory:" else path


def _absolute(uri: str) -> str:
    """A relative SQLite path or a bare `*.db` path made absolute, so every process finds the same file."""
    path = sqlite_path(uri)
    if path is not None:
        query = uri[len("sqlite:///") + len(path):]
        return f"sqlite:///{Path(path).expanduser().resolve()}{query}"
    if "://" not in uri and not uri.startswith("sqlite:") and Path(uri).suffix in (".db", ".sqlite", ".sqlite3"):
        return f"sqlite:///{Path(uri).expanduser().resolve()}"
    return uri


def resolve_tracking_uri(cli_value: str | None, results_dir: Path = Path("results")) -> str:
    """`--tracking-uri`, else `MLFLOW_TRACKING_URI`, else `sqlite:///<abs>/results/mlflow.db`."""
    value = cli_value or os.environ.get("MLFLOW_TRACKING_URI") or None
    if value is None:
        return f"sqlite:///{(Path(results_dir) / DEFAULT_DB).expanduser().resolve()}"
    return _absolute(value.strip())


def default_artifact_root(uri: str, results_dir: Path = Path("results")) -> str | None:
    """Where new experiments keep artifacts when the store itself has no artifact service.

    A SQLite store keeps them beside its database (`results/mlartifacts` for the default
    store), so a results directory is self-contained. Other SQL databases get
    `results/mlartifacts` (MLflow would otherwise write to `./mlruns` in whatever directory the
    process happens to run in). A tracking server (http) or file store decides for itself: None.
    """
    path = sqlite_path(uri)
    if path is not None:
        return str(Path(path).expanduser().resolve().parent / DEFAULT_ARTIFACTS)
    scheme = urlparse(uri).scheme.split("+", 1)[0]
    if scheme in SQL_SCHEMES:
        return str((Path(results_dir) / DEFAULT_ARTIFACTS).expanduser().resolve())
    return None


# One writer of a store's structure at a time -----------------------------------------------------

MUTEX_TIMEOUT_S = 600.0  # a first migration on a slow disk takes seconds; a stuck holder is a bug


@contextlib.contextmanager
def store_mutex(uri: str) -> Iterator[None]:
    """Serialise creating / migrating a SQLite store and claiming a sweep in it, across processes.

    Several `kdsweep run` started at once on a new store would all run MLflow's schema
    migration together and leave `_alembic_tmp_*` tables behind. A file lock beside the
    database (`mlflow.db.lock`) lets one process at a time in; other stores (a server, a
    database server) migrate themselves once, and need nothing here.
    """
    path = sqlite_path(uri)
    if path is None:
        yield
        return
    from filelock import FileLock, Timeout

    lock_path = Path(path).expanduser().resolve().with_name(Path(path).name + ".lock")
    try:
        with FileLock(str(lock_path), timeout=MUTEX_TIMEOUT_S):
            yield
    except Timeout:
        raise UserError(f"waited {MUTEX_TIMEOUT_S:g} s for {lock_path}, held by another kdsweep process that is "
                        f"creating or claiming the tracking store {uri}; if none runs, delete that file") from None


def half_migrated_tables(uri: str) -> list[str]:
    """`_alembic_tmp_*` tables left in a SQLite store by migrations that ran at once or were killed."""
    path = sqlite_path(uri)
    if path is None or not Path(path).expanduser().is_file():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{Path(path).expanduser()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE '\\_alembic\\_tmp\\_%' "
                              "ESCAPE '\\'").fetchall()
    except sqlite3.Error:
        return []  # not a database: opening it says so in one line
    return sorted(r[0] for r in rows)


def _check_not_half_migrated(uri: str) -> None:
    tables = half_migrated_tables(uri)
    if tables:
        db = sqlite_path(uri)
        drops = "; ".join(f"DROP TABLE {t}" for t in tables)
        raise UserError(f"the tracking store {uri} was left half-migrated (table(s) {', '.join(tables)} from an "
                        f"interrupted or concurrent schema upgrade); back the file up, then run "
                        f"sqlite3 {db} '{drops}' && mlflow db upgrade {uri}")


# Checking -----------------------------------------------------------------------------------


def first_line(exc: BaseException) -> str:
    """What went wrong, in one line: SQLAlchemy's notes (autoflush, SQL text, links) skipped."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    useful = [line for line in lines if line and not line.startswith(("(raised as a result of", "(Background on",
                                                                          "[SQL:", "[parameters:"))]
    return (useful or lines or [type(exc).__name__])[0][:300] or type(exc).__name__


def _check_directory(directory: Path, uri: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create directory {str(directory)!r} for the tracking store {uri} "
                        f"({exc.strerror or exc}); {FIX_HINT}") from None
    if not directory.is_dir():
        raise UserError(f"{str(directory)!r} is not a directory, so the tracking store {uri} cannot live there; "
                        f"{FIX_HINT}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UserError(f"directory {str(directory)!r} is not writable, so the tracking store {uri} cannot be "
                        f"created or updated; {FIX_HINT}")


def _check_http(uri: str, timeout_s: float) -> None:
    import requests

    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=timeout_s)
    except requests.Timeout:
        raise UserError(f"the MLflow server at {uri} did not answer within {timeout_s:g} s; check it is running "
                        f"(mlflow server --host HOST --port PORT), or {FIX_HINT}") from None
    except requests.RequestException as exc:
        reason = "connection refused" if isinstance(exc, requests.ConnectionError) else type(exc).__name__
        raise UserError(f"cannot reach the MLflow server at {uri} ({reason}); start it "
                        f"(mlflow server --host HOST --port PORT) or {FIX_HINT}") from None
    if response.status_code >= 500:
        raise UserError(f"the MLflow server at {uri} answered HTTP {response.status_code} to /health; check its "
                        f"log, or {FIX_HINT}")


def _check_by_query(uri: str) -> None:
    """Open the store and list one experiment: creates a new SQLite schema, proves a database answers."""
    try:
        with_retry(open_client(uri).search_experiments, max_results=1)
    except Exception as exc:  # noqa: BLE001 - any failure here is "this store is unusable", said in one line
        if "MLFLOW_ALLOW_FILE_STORE" in str(exc):
            raise UserError(f"MLflow no longer opens file stores such as {uri} unless MLFLOW_ALLOW_FILE_STORE=true; "
                            "use a SQLite store instead (`mlflow migrate-filestore` converts an mlruns directory), "
                            f"or set MLFLOW_ALLOW_FILE_STORE=true") from None
        raise UserError(f"cannot open the tracking store {uri}: {first_line(exc)}; {FIX_HINT}") from None


def check_store(uri: str, *, timeout_s: float = HTTP_TIMEOUT_S, writes: bool = True) -> None:
    """Fail fast, in one line naming the URI and the fix, when the store cannot be used (`writes`:
    written to, as `kdsweep run` does; else read, as `status` and `ui` do).

    Creates a SQLite store (and its directory, e.g. `results/`) if it does not exist yet.
    """
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = sqlite_path(uri)
        if path is None:
            raise UserError(f"tracking URI {uri} is not a SQLite file (an in-memory store is lost when the process "
                            f"ends and workers cannot see it); use sqlite:///<path>/mlflow.db")
        db = Path(path).expanduser()
        _check_directory(db.parent, uri)
        if db.exists() and (db.is_dir() or not os.access(db, os.R_OK | os.W_OK)):
            raise UserError(f"{str(db)!r} is not a writable file, so it cannot hold the tracking store {uri}; "
                            f"{FIX_HINT}")
        with store_mutex(uri):
            check_not_held_by_a_stopped_process(db, uri, writes=writes)
            _check_not_half_migrated(uri)
            _check_by_query(uri)
    elif scheme in ("http", "https"):
        if not parsed.hostname:
            raise UserError(f"tracking URI {uri} has no host; write it as http://HOST:PORT")
        _check_http(uri, timeout_s)
    elif scheme == "file" or (scheme == "" and uri):
        _check_directory(Path(parsed.path if scheme == "file" else uri).expanduser(), uri)
        _check_by_query(uri)
    elif scheme in SQL_SCHEMES or scheme == "databricks":
        _check_by_query(uri)
    else:
        raise UserError(f"unsupported tracking URI {uri!r}: use sqlite:///<path>/mlflow.db, http(s)://HOST:PORT "
                        f"(an MLflow server), postgresql://... or mysql://...; set it with --tracking-uri or "
                        f"MLFLOW_TRACKING_URI")


# Retrying -----------------------------------------------------------------------------------


def _is_transient_text(text: str) -> bool:
    text = text.lower()
    return "database is locked" in text or "database table is locked" in text


def is_transient(exc: BaseException) -> bool:
    """A write that lost a race for a SQLite store's lock (several workers logging at once): try again.

    SQLite's busy timeout covers most contention, but a reader upgrading to a writer gets
    "database is locked" immediately; MLflow reports it as TEMPORARILY_UNAVAILABLE.
    """
    if getattr(exc, "error_code", None) == "TEMPORARILY_UNAVAILABLE":
        return True
    return _is_transient_text(str(exc))


# How long a worker rides out a store that does not answer (a restarted server, a full or
# unmounted disk) before it stops its runs, resumable. Override with KDSWEEP_STORE_OUTAGE_S.
STORE_OUTAGE_S = 300.0
OUTAGE_ENV = "KDSWEEP_STORE_OUTAGE_S"
# MLflow error codes that say the request was wrong, not that the store is away.
_REQUEST_ERRORS = {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS", "INVALID_STATE",
                   "BAD_REQUEST", "PERMISSION_DENIED", "UNAUTHENTICATED", "INVALID_STATE_TRANSITION"}


def outage_allowance_s() -> float:
    try:
        return max(0.0, float(os.environ.get(OUTAGE_ENV, STORE_OUTAGE_S)))
    except ValueError:
        return STORE_OUTAGE_S


def is_outage(exc: BaseException) -> bool:
    """The store did not answer (or could not write), as opposed to refusing a wrong request or a bug here."""
    code = getattr(exc, "error_code", None)
    if code is not None:
        return code not in _REQUEST_ERRORS
    if isinstance(exc, (OSError, ConnectionError, TimeoutError)):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("sqlite3", "sqlalchemy", "requests", "urllib3"))


def with_retry(fn: Callable[..., T], *args: Any, attempts: int = 10, first_delay_s: float = 0.05,
               max_delay_s: float = 2.0, **kwargs: Any) -> T:
    """Call `fn`, retrying transient store errors with jittered exponential backoff."""
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            delay = min(max_delay_s, first_delay_s * 2**attempt)
            time.sleep(delay * (0.5 + random.random()))
    raise AssertionError("unreachable")  # pragma: no cover
