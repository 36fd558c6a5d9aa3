"""A child run's start time: when its training started, not when the driver created it.

The driver creates every child run before any job starts (tracking/sweep.py): the whole sweep
shows in the MLflow UI at once, and fencing and resumes rely on it. MLflow then stamps each
child with its creation time, and the UI's Duration column (end - start) counts the time a run
waited for a slot: 3 minutes shown for 48 s of training.

MLflow's API cannot move a run's start time (`update_run` takes a status, an end time and a
name). On a database store (SQLite, PostgreSQL, MySQL: kdsweep's default and what `kdsweep ui`
serves) the worker moves it in the store's own `runs` table when training starts, through
MLflow's SQLAlchemy model, so Duration is the run's training time. On an MLflow server
(`http://...`) the start stays the creation time; the `kdsweep.started` tag is true everywhere.

Only a run that has logged no epoch is moved: a resumed run keeps the start of its first
training (as `mlflow.start_run(run_id=...)` does), so its Duration spans the interruption.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdsweep.tracking.store import with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient


def move_start_time(client: MlflowClient, run_id: str, start_ms: int) -> bool:
    """Move `run_id`'s start time later, to `start_ms` (ms since the epoch); False where the store cannot
    (or the run started later already).

    A store whose schema does not match MLflow's model (another MLflow version) gets False too:
    the start time is a convenience for the UI and never worth failing a run over.
    """
    try:
        from mlflow.store.tracking.dbmodels.models import SqlRun
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    except ImportError:  # pragma: no cover - an MLflow without its SQL store
        return False
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if not isinstance(store, SqlAlchemyStore):
        return False

    def update() -> int:
        # Only ever later: a child made by --rerun starts after the one it supersedes (tracking/sweep.py),
        # and a worker on a node whose clock runs behind the driver's must not undo that.
        with store.ManagedSessionMaker() as session:
            return session.query(SqlRun).filter(SqlRun.run_uuid == run_id, SqlRun.start_time <= int(start_ms)).update(
                {SqlRun.start_time: int(start_ms)}, synchronize_session=False)

    try:
        return with_retry(update) == 1
    except Exception:  # noqa: BLE001 - see the docstring
        return False
