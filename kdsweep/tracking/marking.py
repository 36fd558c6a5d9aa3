"""Ending a child run from outside its own logger: the driver or a worker marks it.

A job that crashed, a run whose teacher failed, a sweep stopped before a run started: the
run's logger never got to close it, so whoever knows writes its status, reason and traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.limits import log_params_tags
from kdsweep.tracking.store import open_client, with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient

MARK_STATUSES = tuple(s for s in RunStatus if s.is_finished())  # what a run can be ended with from outside


def mark_with(client: MlflowClient, run_id: str, status: str, reason: str | None, traceback: str | None) -> None:
    if status not in MARK_STATUSES:
        raise ValueError(f"mark: status must be one of {', '.join(MARK_STATUSES)}, got {status!r}")
    tags = {names.TAG_STATUS: status}
    if reason:
        tags[names.TAG_REASON] = " ".join(reason.split())
    log_params_tags(client, run_id, {}, tags)
    if traceback:
        with_retry(client.log_text, run_id, traceback, names.ARTIFACT_TRACEBACK)
    with_retry(client.set_terminated, run_id, RunStatus(status).mlflow_status)


def mark_run(uri: str, run_id: str, status: str, reason: str | None = None, traceback: str | None = None) -> None:
    """End a child run that its own logger could not end: a job that crashed (FAILED, with the
    traceback as errors/traceback.txt), a run whose teacher failed (NOT_RUN, which MLflow shows
    as KILLED), a sweep stopped before the run started (KILLED). Needs only the URI and run id,
    so a worker can call it as well as the driver."""
    mark_with(open_client(uri), run_id, status, reason, traceback)
