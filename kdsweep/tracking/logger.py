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

from kdsweep.errors import StopRun
from kdsweep.metric_names import curve_key
from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.clock import move_start_time
from kdsweep.tracking.limits import MAX_TAG_VALUE, clip, safe_key
from kdsweep.tracking.store import (
    first_line,
    is_outage,
    open_client,
    outage_allowance_s,
    quiet_mlflow_logging,
    with_retry,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limit
DATA_CONTEXT = "mlflow.data.context"  # the input tag MLflow's UI shows beside a dataset
DATA_CONTEXTS = {"train": "training", "val": "validation"}
SYSTEM_METRICS_INTERVAL_S = 10.0

# Statuses a run's own logger sets; RUNNING keeps the MLflow run open, the others end it.
# STOPPED (an early stop) is an older engine's spelling of a FINISHED run with a reason.
_SETTABLE = (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.NOT_RUN,
             RunStatus.PRUNED)
_ALIASES = {"STOPPED": RunStatus.FINISHED}


class MlflowRunLogger:
    """engine.logger.RunLogger for one child run: metrics per epoch, the summary, artifacts, status.

    Exactly once: a metric already recorded at a step (by this process, or by an earlier one
    of a resumed run) is not recorded again, so the engine may replay a checkpoint's history.

    Outages: a write the store does not take is buffered and retried on the next write,
    so training goes on; after `outage_allowance_s()` without an answer the logger raises
    `StopRun` (the engine stops the run, which resumes from last.pt). Writes that end a run
    (status, artifacts) wait for the store, within the same allowance.

    Fencing: `fence` = (parent run id, lock generation) of the driver that started the job.
    `guard()` raises `StopRun` once another driver has taken the sweep over, and from then
    on nothing more is written for this run.
    """

    def __init__(self, uri: str, run_id: str, *, fence: tuple[str, int] | None = None):
        self.uri = uri
        self.run_id = run_id
        self.fence = fence
        self.stopped: str | None = None  # "fenced" or "store" once StopRun was raised
        self._client: MlflowClient | None = None
        self._last_step: int | None = None
        self._recorded: dict[str, set[int]] | None = None  # metric key -> steps the run holds
        self._queue: list[dict[str, Any]] = []  # log_batch calls the store has not taken yet
        self._down_since: float | None = None

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

    # The store's answers ----------------------------------------------------------------------

    def _stop(self, kind: str, message: str) -> StopRun:
        self.stopped = kind
        self._queue.clear()
        return StopRun(message, kind=kind)

    def _call(self, fn: Any, *args: Any, block: bool = True, **kwargs: Any) -> Any:
        """`fn` against the store. During an outage: wait (block) or return `_PENDING`, until the
        allowance is spent, then StopRun. Other errors (a wrong request, a bug) go up as they are."""
        if self.stopped:
            raise StopRun(f"run {self.run_id}: stopped earlier ({self.stopped}); nothing more is written",
                          kind=self.stopped)
        delay = 1.0
        while True:
            try:
                # Known to be down: one quick try per write, so training is not held up while buffering.
                result = with_retry(fn, *args, attempts=1 if self._down_since is not None else 10, **kwargs)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                    log.warning("run %s: the tracking store %s does not answer (%s); retrying for up to %g s",
                                self.run_id, self.uri, first_line(exc), outage_allowance_s())
                if now - self._down_since > outage_allowance_s():
                    raise self._stop("store", f"the tracking store {self.uri} did not answer for "
                                              f"{outage_allowance_s():g} s ({first_line(exc)}); run stopped "
                                              f"after its last saved epoch, resumable") from None
                if not block:
                    return _PENDING
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                if self._down_since is not None:
                    log.warning("run %s: the tracking store %s answers again", self.run_id, self.uri)
                self._down_since = None
                return result

    def _flush(self, block: bool) -> None:
        while self._queue:
            if self._call(self.client.log_batch, self.run_id, block=block, **self._queue[0]) is _PENDING:
                return
            self._queue.pop(0)

    def _write(self, block: bool = False, **batch: Any) -> None:
        self._queue.append(batch)
        self._flush(block)

    def run_tags(self) -> dict[str, str]:
        """The run's tags as the store holds them now (waits out an outage, within the allowance)."""
        return dict(self._call(self.client.get_run, self.run_id).data.tags)

    # RunLogger ---------------------------------------------------------------------------------

    def guard(self) -> None:
        """StopRun when another driver took the sweep over (its lock generation is not ours)."""
        if self.stopped:
            raise StopRun(f"run {self.run_id}: stopped earlier ({self.stopped})", kind=self.stopped)
        self._flush(block=False)
        if self.fence is None:
            return
        parent_id, generation = self.fence
        parent = self._call(self.client.get_run, parent_id, block=False)
        if parent is _PENDING:
            return  # the store is away: nobody can take the sweep over through it either
        now = parent.data.tags.get(names.TAG_GENERATION, "")
        if now != str(generation):
            raise self._stop("fenced", f"another driver took the sweep over (lock generation {now or '?'}, "
                                       f"this job's {generation}); stopped without writing this epoch")

    def _steps_recorded(self) -> dict[str, set[int]]:
        """The steps the run already holds per metric (read once per process; a new run has none)."""
        if self._recorded is None:
            run = self._call(self.client.get_run, self.run_id)
            self._recorded = {}
            for key in run.data.metrics:
                if not key.startswith(names.SYSTEM_METRIC_PREFIX):
                    history = self._call(self.client.get_metric_history, self.run_id, key)
                    self._recorded[key] = {int(m.step) for m in history}
            value = run.data.tags.get(names.TAG_EPOCH, "")
            self._last_step = max(self._last_step or 0, int(value) if value.isdigit() else 0)
        return self._recorded

    def last_epoch(self) -> int:
        """The last epoch logged to this run, also by an earlier process (a resumed run's summary)."""
        self._steps_recorded()
        return self._last_step or 0

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Epoch metrics at `step` = epoch; a summary (step None) at the last epoch, so it lines up
        with the curves in the MLflow UI. The epoch also goes to the kdsweep.epoch tag, which is
        how `kdsweep status` shows progress without reading metric histories. A metric the run
        already holds at that step is left as it is (exactly once)."""
        from mlflow.entities import Metric, RunTag

        recorded = self._steps_recorded()
        tags = []
        epoch_point = step is not None
        if step is None:
            step = self.last_epoch()
        else:
            step = int(step)
            if step > (self._last_step or 0):
                self._last_step = step
                tags = [RunTag(names.TAG_EPOCH, str(step))]
        ts = int(time.time() * 1000)
        entries = []
        for key, value in metrics.items():
            if value is None:
                continue
            name = safe_key(str(key))
            name = curve_key(name) if epoch_point else name  # the run page shows its learning curves first
            if step in recorded.get(name, ()):
                continue
            try:
                entries.append(Metric(name, float(value), ts, step))
            except (TypeError, ValueError):
                log.warning("run %s: metric %s=%r is not a number; not logged", self.run_id, key, value)
                continue
            recorded.setdefault(name, set()).add(step)
        for i in range(0, max(len(entries), 1), MAX_METRICS_PER_BATCH):
            chunk = entries[i: i + MAX_METRICS_PER_BATCH]
            if chunk or tags:
                self._write(metrics=chunk, tags=tags if i == 0 else [])

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Extra facts about the run (slot, node, pid, attempts) as tags; values are made strings."""
        from mlflow.entities import RunTag

        batch = [RunTag(safe_key(str(k)), clip(str(v), MAX_TAG_VALUE)) for k, v in tags.items()]
        for i in range(0, len(batch), 100):
            self._write(tags=batch[i: i + 100])

    def log_data(self, name: str, prints: dict[str, dict[str, Any]]) -> None:
        """The data the run trains on, one MLflow dataset input per split (the run page's Datasets: name,
        digest, where from, files and bytes) and the `kdsweep.data` tag ({split: digest}), which the driver
        compares before skipping the finished run (execute/data_check.py). `prints`: the engine's
        fingerprint as dicts (engine/data/fingerprint.py)."""
        import json

        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = []
        for split, p in prints.items():
            made = p.get("made_from")
            source_type, source = ("code", {"tags": {"made_from": made}}) if made else ("local", {"uri": p["source"]})
            profile = {"made_from": made} if made else {"files": p["files"], "bytes": p["bytes"]}
            dataset = Dataset(name=f"{name} {split}", digest=p["digest"], source_type=source_type,
                              source=json.dumps(source), profile=json.dumps(profile))
            inputs.append(DatasetInput(dataset, tags=[InputTag(DATA_CONTEXT, DATA_CONTEXTS.get(split, split))]))
        self._flush(block=True)
        self._call(self.client.log_inputs, self.run_id, datasets=inputs)
        digests = {split: p["digest"] for split, p in prints.items()}
        self.set_tags({names.TAG_DATA: json.dumps(digests, sort_keys=True, separators=(",", ":"))})

    def start_clock(self, start_s: float) -> bool:
        """Training starts now: a run that has logged no epoch takes `start_s` as its MLflow start time,
        so the UI's Duration is its training time, not the time it waited for a slot (tracking/clock.py).
        A resumed run keeps its first start. False where the store cannot move it (an MLflow server)."""
        if self.last_epoch():
            return False
        self._flush(block=True)
        return move_start_time(self.client, self.run_id, int(start_s * 1000))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._flush(block=True)
        self._call(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def set_status(self, status: str, reason: str | None = None) -> None:
        """RUNNING opens the run (also a resumed one); FINISHED, STOPPED, FAILED, KILLED, NOT_RUN, PRUNED close it,
        once everything buffered before has been written."""
        known = _ALIASES.get(status) or (RunStatus(status) if status in RunStatus.__members__ else None)
        if known not in _SETTABLE:
            expected = ", ".join([*_SETTABLE, *_ALIASES])
            raise ValueError(f"set_status: unknown status {status!r}; expected one of {expected}")
        from mlflow.entities import RunTag

        tags = [RunTag(names.TAG_STATUS, known.value)]
        if reason:
            tags.append(RunTag(names.TAG_REASON, clip(" ".join(str(reason).split()), MAX_TAG_VALUE)))
        self._flush(block=True)
        if known is RunStatus.RUNNING:
            self._call(self.client.update_run, self.run_id, "RUNNING")
            self._write(block=True, tags=tags)
        else:
            self._write(block=True, tags=tags)
            self._call(self.client.set_terminated, self.run_id, known.mlflow_status)


_PENDING = object()  # what `_call` returns for a write left in the buffer


@contextlib.contextmanager
def system_metrics(uri: str, run_id: str, enabled: bool = True, interval_s: float | None = None) -> Iterator[Any]:
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

            monitor = SystemMetricsMonitor(run_id, sampling_interval=interval_s or SYSTEM_METRICS_INTERVAL_S,
                                           samples_before_logging=1,
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
