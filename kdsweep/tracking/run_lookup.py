"""Reading a sweep's runs back from MLflow: paged search, the latest child per run key.

The driver (resume or skip), `kdsweep status` and the report all read runs through here,
so "which child is the run of this key" has one answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kdsweep.metric_names import plain_metrics
from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.store import with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run


@dataclass(frozen=True)
class RunInfo:
    """What the store holds for one run key: its latest child run."""

    run_id: str
    status: str  # MLflow's: SCHEDULED, RUNNING, FINISHED, FAILED, KILLED
    kdsweep_status: str  # kdsweep.status tag: PENDING, RUNNING, FINISHED, FAILED, KILLED, NOT_RUN
    metrics: dict[str, float]
    start_time: int | None  # ms since the epoch
    name: str = ""
    epoch: int | None = None  # last epoch logged (kdsweep.epoch tag)
    reason: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


def search_all(client: MlflowClient, experiment_id: str, filter_string: str = "",
               order_by: list[str] | None = None) -> list[Run]:
    """Every active run matching the filter, following MLflow's pages."""
    runs: list[Run] = []
    token = None
    while True:
        page = with_retry(client.search_runs, [experiment_id], filter_string, max_results=1000,
                          order_by=order_by, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def derived_status(mlflow_status: str, tags: dict[str, str]) -> str:
    """kdsweep's view of a run: its status tag, or MLflow's status when the tag is missing."""
    tag = tags.get(names.TAG_STATUS)
    if tag:
        return tag
    known = RunStatus.parse(mlflow_status)  # SCHEDULED is PENDING
    return known.value if known else mlflow_status


def run_info(run: Run) -> RunInfo:
    tags = dict(run.data.tags)
    epoch = tags.get(names.TAG_EPOCH)
    return RunInfo(
        run_id=run.info.run_id,
        status=run.info.status,
        kdsweep_status=derived_status(run.info.status, tags),
        metrics=plain_metrics(run.data.metrics),
        start_time=run.info.start_time,
        name=run.info.run_name or "",
        epoch=int(epoch) if epoch and epoch.lstrip("-").isdigit() else None,
        reason=tags.get(names.TAG_REASON) or None,
        tags=tags,
    )


def find_experiment_id(client: MlflowClient, sweep: str) -> str | None:
    """The sweep's experiment (named after the sweep), or None when it was never run or was deleted."""
    exp = with_retry(client.get_experiment_by_name, sweep)
    return exp.experiment_id if exp is not None and exp.lifecycle_stage == "active" else None


def children_by_key(client: MlflowClient, experiment_id: str, sweep: str) -> dict[str, RunInfo]:
    """The latest active child per run key (latest by start time; earlier ones are history)."""
    runs = search_all(client, experiment_id, f"tags.`{names.TAG_ROLE}` = '{names.ROLE_RUN}'",
                      ["attributes.start_time DESC"])
    out: dict[str, RunInfo] = {}
    for run in runs:
        tags = run.data.tags
        key = tags.get(names.TAG_RUN_KEY)
        if key and tags.get(names.TAG_SWEEP) == sweep and key not in out:
            out[key] = run_info(run)
    return out
