"""The worker's side of tracking: the engine's RunLogger written to an existing MLflow run.

A worker may run on another node and is handed only the store URI and the run id the driver
created (it never creates runs). The logger is pickled into Ray tasks, so its MLflow client is
opened lazily in the process that uses it. Several workers write to one store at once; on a
SQLite store that means lock contention, which every write here retries with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.limits import MAX_TAG_VALUE, clip, safe_key
from kdsweep.tracking.store import open_client, quiet_mlflow_logging, with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit
SYSTEM_METRICS_INTERVAL_S = 10.0

# Statuses a run's own logger sets; RUNNING keeps the MLflow run open, the others end it.
# STOPPED (an early stop) is an older engine's spelling of a FINISHED run with a reason.
_SETTABLE = (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.NOT_RUN,
             RunStatus.PRUNED)
_ALIASES = {"STOPPED": RunStatus.FINISHED}


class MlflowRunLogger:
    """engine.logger.RunLogger for one child run: metrics per epoch, the summary, artifacts, status."""

    def __init__(self, uri: str, run_id: str):
        self.uri = uri
        self.run_id = run_id
        self._client: MlflowClient | None = None
        self._last_step: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None  # holds a database engine: reopened where the logger lands
        return state

    def __repr__(self) -> str:
        return f"MlflowRunLogger({self.uri!r}, {self.run_id!r})"

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = open_client(self.uri)
        return self._client

    def last_epoch(self) -> int:
        """The last epoch logged to this run, also by an earlier process (a resumed run's summary)."""
        if self._last_step is None:
            run = with_retry(self.client.get_run, self.run_id)
            value = run.data.tags.get(names.TAG_EPOCH, "")
            self._last_step = int(value) if value.isdigit() else 0
        return self._last_step

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Epoch metrics at `step` = epoch; a summary (step None) at the last epoch, so it lines up
        with the curves in the MLflow UI. The epoch also goes to the kdsweep.epoch tag, which is
        how `kdsweep status` shows progress without reading metric histories."""
        from mlflow.entities import Metric, RunTag

        tags = []
        if step is None:
            step = self.last_epoch()
        else:
            step = int(step)
            self._last_step = max(step, self._last_step or 0)
            tags = [RunTag(names.TAG_EPOCH, str(self._last_step))]
        ts = int(time.time() * 1000)
        entries = []
        for key, value in metrics.items():
            if value is None:
                continue
            try:
                entries.append(Metric(safe_key(str(key)), float(value), ts, step))
            except (TypeError, ValueError):
                log.warning("run %s: metric %s=%r is not a number; not logged", self.run_id, key, value)
        for i in range(0, max(len(entries), 1), MAX_METRICS_PER_BATCH):
            chunk = entries[i: i + MAX_METRICS_PER_BATCH]
            if chunk or tags:
                with_retry(self.client.log_batch, self.run_id, metrics=chunk, tags=tags if i == 0 else [])

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Extra facts about the run (slot, node, pid, attempts) as tags; values are made strings."""
        from mlflow.entities import RunTag

        batch = [RunTag(safe_key(str(k)), clip(str(v), MAX_TAG_VALUE)) for k, v in tags.items()]
        for i in range(0, len(batch), 100):
            with_retry(self.client.log_batch, self.run_id, tags=batch[i: i + 100])

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        with_retry(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def set_status(self, status: str, reason: str | None = None) -> None:
        """RUNNING opens the run (also a resumed one); FINISHED, STOPPED, FAILED, KILLED, NOT_RUN, PRUNED close it."""
        known = _ALIASES.get(status) or (RunStatus(status) if status in RunStatus.__members__ else None)
        if known not in _SETTABLE:
            expected = ", ".join([*_SETTABLE, *_ALIASES])
            raise ValueError(f"set_status: unknown status {status!r}; expected one of {expected}")
        from mlflow.entities import RunTag

        tags = [RunTag(names.TAG_STATUS, known.value)]
        if reason:
            tags.append(RunTag(names.TAG_REASON, clip(" ".join(str(reason).split()), MAX_TAG_VALUE)))
        if known is RunStatus.RUNNING:
            with_retry(self.client.update_run, self.run_id, "RUNNING")
            with_retry(self.client.log_batch, self.run_id, tags=tags)
        else:
            with_retry(self.client.log_batch, self.run_id, tags=tags)
            with_retry(self.client.set_terminated, self.run_id, known.mlflow_status)


@contextlib.contextmanager
def system_metrics(uri: str, run_id: str, enabled: bool = True,
                   interval_s: float = SYSTEM_METRICS_INTERVAL_S) -> Iterator[Any]:
    """CPU, memory, disk, network (and GPU with nvidia-ml-py) as `system/...` metrics of the run.

    Uses MLflow's own SystemMetricsMonitor (a daemon thread in this process). It stops by
    itself once the run is no longer RUNNING. Without psutil, or if the monitor cannot start,
    this is silently nothing: system metrics are a nicety, never a reason to fail a run.
    Yields the monitor, or None.
    """
    monitor = None
    if enabled:
        try:
            quiet_mlflow_logging()
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            monitor = SystemMetricsMonitor(run_id, sampling_interval=interval_s, samples_before_logging=1,
                                           resume_logging=True, tracking_uri=uri)
            monitor.start()
        except Exception as exc:  # noqa: BLE001 - ImportError (no psutil) or any start-up failure
            log.debug("system metrics off for run %s: %s", run_id, exc)
            monitor = None
    try:
        yield monitor
    finally:
        if monitor is not None:
            with contextlib.suppress(Exception):
                monitor.finish()
