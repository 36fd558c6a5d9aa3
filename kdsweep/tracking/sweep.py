"""The driver's side of tracking: one experiment and one parent run per sweep, one child per run.

The driver creates every child run before any job starts and hands each job its run id, so
workers never race to create runs (DESIGN: Tracking). Run keys make `kdsweep run` idempotent:
a key with a FINISHED child is skipped, an interrupted one is resumed in the same MLflow run
(its metrics continue where they stopped), and `--rerun` starts a fresh child beside the old.
Deleting a child in the MLflow UI is the way to make one run train again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan, PlannedRun
from kdsweep.spec.dotted import flatten
from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.store import default_artifact_root, open_client, with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

log = logging.getLogger(__name__)

# MLflow's limits (mlflow.utils.validation): checked here so a long config value is shortened
# visibly instead of failing a whole batch.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
BATCH = 100  # params or tags per log_batch call
TRUNCATED = "...[truncated]"
MARK_STATUSES = tuple(s for s in RunStatus if s.is_finished())  # what a run can be ended with from outside
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :]")


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


@dataclass(frozen=True)
class Prepared:
    run_id: str
    action: str  # "skip" (finished), "resume" (same MLflow run, unfinished), "new" (child just created)


# Values and keys within MLflow's limits -------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def safe_key(key: str) -> str:
    """A param or tag key MLflow accepts: letters, digits, `_ - . : space`; at most 250 characters."""
    return _BAD_KEY_CHARS.sub("_", key)[:MAX_KEY]


def config_params(config: dict) -> dict[str, str]:
    """The flattened resolved config as MLflow params (dotted keys, `names.param_value` values)."""
    return {safe_key(k): clip(names.param_value(v), MAX_PARAM_VALUE) for k, v in flatten(config).items()}


def config_yaml(config: dict) -> str:
    try:
        return yaml.safe_dump(config, sort_keys=False)
    except yaml.YAMLError:  # a tuple or another non-YAML leaf: its JSON form is what a reader needs
        return yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False)


def child_tags(run: PlannedRun, sweep: str, parent_run_id: str) -> dict[str, str]:
    tags = {
        names.MLFLOW_PARENT: parent_run_id,
        names.TAG_ROLE: names.ROLE_RUN,
        names.TAG_SWEEP: sweep,
        names.TAG_RUN_KEY: run.key,
        names.TAG_STAGE: run.stage or "",
        names.TAG_GROUP: run.group,
        names.TAG_DEPENDS_ON: ",".join(run.depends_on),
        names.TAG_POINT: names.json_value(run.point),
        names.TAG_STATUS: RunStatus.PENDING.value,
    }
    for axis, value in run.point.items():
        tags[safe_key(names.TAG_AXIS_PREFIX + axis)] = names.json_value(value)
    return {k: clip(v, MAX_TAG_VALUE) for k, v in tags.items()}


def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def log_params_tags(client: MlflowClient, run_id: str, params: dict[str, str], tags: dict[str, str]) -> None:
    """Params and tags in batches of 100 (MLflow's per-request limit), each batch retried on a busy store."""
    from mlflow.entities import Param, RunTag

    ps = [Param(k, v) for k, v in params.items()]
    ts = [RunTag(k, clip(str(v), MAX_TAG_VALUE)) for k, v in tags.items()]
    for chunk in _chunks(ps):
        with_retry(client.log_batch, run_id, params=chunk)
    for chunk in _chunks(ts):
        with_retry(client.log_batch, run_id, tags=chunk)


# Reading ------------------------------------------------------------------------------------------


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
        metrics=dict(run.data.metrics),
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


# Ending a run from outside it ---------------------------------------------------------------------


def _mark(client: MlflowClient, run_id: str, status: str, reason: str | None, traceback: str | None) -> None:
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
    _mark(open_client(uri), run_id, status, reason, traceback)


# The tracker --------------------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


class SweepTracker:
    """The experiment, parent run and child runs of one sweep in one store (driver side)."""

    def __init__(self, uri: str, plan: Plan, *, results_dir: Path = Path("results")):
        self.uri = uri
        self.plan = plan
        self.name = plan.sweep.name
        self.results_dir = Path(results_dir)
        self.client = open_client(uri)
        self.experiment_id = self._experiment()
        self.parent_run_id = self._parent()

    # Experiment and parent ----------------------------------------------------------------------

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        exp = with_retry(self.client.get_experiment_by_name, self.name)
        if exp is None:
            root = default_artifact_root(self.uri, self.results_dir)
            location = str(Path(root) / safe_key(self.name).replace(" ", "_")) if root else None
            try:
                return with_retry(self.client.create_experiment, self.name, artifact_location=location,
                                  tags={names.TAG_SWEEP: self.name,
                                        names.MLFLOW_EXPERIMENT_KIND: names.EXPERIMENT_KIND_TRAINING})
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise
                exp = with_retry(self.client.get_experiment_by_name, self.name)  # created by a racing process
        if exp.lifecycle_stage != "active":
            raise UserError(f"the MLflow experiment {self.name!r} (id {exp.experiment_id}) in {self.uri} is deleted; "
                            f"restore it (MLFLOW_TRACKING_URI={self.uri} mlflow experiments restore --experiment-id "
                            f"{exp.experiment_id}) or remove "
                            f"it for good (mlflow gc --backend-store-uri {self.uri}) and run again")
        if names.MLFLOW_EXPERIMENT_KIND not in exp.tags:  # made by an older kdsweep: open it on the runs too
            with_retry(self.client.set_experiment_tag, exp.experiment_id, names.MLFLOW_EXPERIMENT_KIND,
                       names.EXPERIMENT_KIND_TRAINING)
        return exp.experiment_id

    def _parents(self) -> list[Run]:
        runs = search_all(self.client, self.experiment_id, f"tags.`{names.TAG_ROLE}` = '{names.ROLE_SWEEP}'",
                          ["attributes.start_time ASC"])
        return [r for r in runs if r.data.tags.get(names.TAG_SWEEP) == self.name]

    def _parent(self) -> str:
        """The sweep's one parent run: the oldest, so every `kdsweep run` of the sweep files under it."""
        parents = self._parents()
        if parents:
            return parents[0].info.run_id
        sweep = self.plan.sweep
        run = with_retry(self.client.create_run, self.experiment_id, run_name=self.name, tags={
            names.TAG_ROLE: names.ROLE_SWEEP,
            names.TAG_SWEEP: self.name,
            names.MLFLOW_NOTE: clip(sweep.description or "", MAX_TAG_VALUE),
        })
        run_id = run.info.run_id
        with_retry(self.client.update_run, run_id, "SCHEDULED")  # RUNNING only while a `kdsweep run` holds it
        log_params_tags(self.client, run_id, {
            names.PARAM_SWEEP_FILE: clip(str(Path(sweep.path).resolve()), MAX_PARAM_VALUE),
            names.PARAM_DESCRIPTION: clip(" ".join((sweep.description or "").split()), MAX_PARAM_VALUE),
        }, {})
        # Two processes starting the same new sweep at once both get here: the oldest parent wins.
        oldest = self._parents()[0].info.run_id
        if oldest != run_id:
            with_retry(self.client.delete_run, run_id)
        return oldest

    def set_hardware(self, text: str) -> None:
        with_retry(self.client.set_tag, self.parent_run_id, names.TAG_HARDWARE, clip(text, MAX_TAG_VALUE))

    # Children ------------------------------------------------------------------------------------

    def existing(self) -> dict[str, RunInfo]:
        return children_by_key(self.client, self.experiment_id, self.name)

    def prepare(self, runs: list[PlannedRun], *, rerun: bool = False) -> dict[str, Prepared]:
        """One MLflow run id per planned run, created or reused before any job starts."""
        existing = self.existing()
        out: dict[str, Prepared] = {}
        for run in runs:
            old = existing.get(run.key)
            if old is not None and not rerun and old.status == "FINISHED":
                out[run.key] = Prepared(old.run_id, "skip")
            elif old is not None and not rerun:
                self._reset(old, run)
                out[run.key] = Prepared(old.run_id, "resume")
            else:
                start = max(_now_ms(), (old.start_time or 0) + 1) if old else None  # latest stays latest
                run_id = self._create_child(run, start)
                if old is not None and old.status in ("RUNNING", "SCHEDULED"):
                    self.mark(old.run_id, RunStatus.KILLED, f"superseded by --rerun (run {run_id})")
                out[run.key] = Prepared(run_id, "new")
        return out

    def _create_child(self, run: PlannedRun, start_time: int | None) -> str:
        tags = child_tags(run, self.name, self.parent_run_id)
        first = {k: tags.pop(k) for k in (names.MLFLOW_PARENT, names.TAG_ROLE, names.TAG_SWEEP, names.TAG_RUN_KEY)}
        created = with_retry(self.client.create_run, self.experiment_id, start_time=start_time, tags=first,
                             run_name=run.name or run.short)
        run_id = created.info.run_id
        with_retry(self.client.update_run, run_id, "SCHEDULED")
        log_params_tags(self.client, run_id, config_params(run.config), tags)
        with_retry(self.client.log_text, run_id, config_yaml(run.config), names.ARTIFACT_CONFIG)
        return run_id

    def _reset(self, old: RunInfo, run: PlannedRun) -> None:
        """An interrupted child waits again: SCHEDULED / PENDING, no stale reason, this plan's group."""
        if old.status != "SCHEDULED":
            with_retry(self.client.update_run, old.run_id, "SCHEDULED")
        tags = child_tags(run, self.name, self.parent_run_id)
        keep = (names.MLFLOW_PARENT, names.TAG_GROUP, names.TAG_DEPENDS_ON, names.TAG_STATUS)
        log_params_tags(self.client, old.run_id, {}, {k: tags[k] for k in keep})
        if names.TAG_REASON in old.tags:
            with contextlib.suppress(Exception):
                with_retry(self.client.delete_tag, old.run_id, names.TAG_REASON)

    def mark(self, run_id: str, status: str, reason: str | None = None, traceback: str | None = None) -> None:
        """End a child from the driver: see `mark_run`."""
        _mark(self.client, run_id, status, reason, traceback)

    # The sweep lock --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, stale_after_s: float = 60.0, *, force: bool = False,
             heartbeat_s: float = 10.0) -> Iterator[None]:
        """Hold the sweep against other `kdsweep run` processes using the same store.

        Two drivers on one sweep would both resume the same interrupted runs. The lock is a
        heartbeat tag on the parent run (so it works for any store, from any node); a holder
        whose heartbeat is older than `stale_after_s`, or whose process is gone from this host,
        has died and is taken over. While held, the parent run is RUNNING; on exit it ends
        FINISHED, KILLED (Ctrl-C) or FAILED (an error).
        """
        with _SweepLock(self, stale_after_s=stale_after_s, force=force, heartbeat_s=heartbeat_s):
            yield


@dataclass
class _Holder:
    host: str
    pid: int
    beat: float
    since: str

    @classmethod
    def parse(cls, tags: dict[str, str]) -> _Holder | None:
        value = tags.get(names.TAG_ACTIVE)
        if not value:
            return None
        try:
            host, pid, beat = value.rsplit(":", 2)
            return cls(host, int(pid), float(beat), tags.get(names.TAG_ACTIVE_SINCE, "an unknown time"))
        except ValueError:
            return None  # unreadable: treat as free

    def alive(self, stale_after_s: float) -> bool:
        if time.time() - self.beat > stale_after_s:
            return False
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
        return True


_HELD_HERE: set[tuple[str, str]] = set()  # (uri, parent run id) held by this process
_HELD_LOCK = threading.Lock()


class _SweepLock:
    CONFIRM_S = 0.5  # wait after claiming, then re-read: a racing claimant's write shows up by then

    def __init__(self, tracker: SweepTracker, *, stale_after_s: float, force: bool, heartbeat_s: float):
        self.t = tracker
        self.stale_after_s = stale_after_s
        self.force = force
        self.heartbeat_s = heartbeat_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.key = (tracker.uri, tracker.parent_run_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.since = ""

    def _holder(self) -> _Holder | None:
        run = with_retry(self.t.client.get_run, self.t.parent_run_id)
        return _Holder.parse(run.data.tags)

    def _refuse(self, h: _Holder) -> UserError:
        return UserError(f"sweep {self.t.name} is already running in process {h.pid} on {h.host} since {h.since} "
                         f"(store {self.t.uri}); wait for it or stop it, or pass --force if it died")

    def _beat(self) -> None:
        value = f"{self.host}:{self.pid}:{time.time():.3f}"
        with_retry(self.t.client.set_tag, self.t.parent_run_id, names.TAG_ACTIVE, value)

    def _mine(self, h: _Holder | None) -> bool:
        return h is not None and (h.host, h.pid) == (self.host, self.pid)

    def __enter__(self) -> _SweepLock:
        with _HELD_LOCK:
            if self.key in _HELD_HERE:
                h = self._holder() or _Holder(self.host, self.pid, time.time(), "now")
                raise self._refuse(h)
            h = self._holder()
            if h is not None and not self._mine(h) and not self.force and h.alive(self.stale_after_s):
                raise self._refuse(h)
            if h is not None and not self._mine(h):
                log.warning("taking over sweep %s from process %s on %s (%s)", self.t.name, h.pid, h.host,
                            "--force" if self.force else "its heartbeat stopped")
            self.since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            log_params_tags(self.t.client, self.t.parent_run_id, {}, {names.TAG_ACTIVE_SINCE: self.since})
            self._beat()
            time.sleep(self.CONFIRM_S)
            h = self._holder()
            if not self._mine(h):  # another claimant wrote after us: it holds the sweep
                raise self._refuse(h)  # type: ignore[arg-type]
            _HELD_HERE.add(self.key)
        with_retry(self.t.client.update_run, self.t.parent_run_id, "RUNNING")
        self._thread = threading.Thread(target=self._heartbeat, name=f"kdsweep-lock-{self.t.name}", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                h = self._holder()
                if not self._mine(h):
                    log.warning("sweep %s was taken over by process %s on %s; no longer refreshing its lock",
                                self.t.name, getattr(h, "pid", "?"), getattr(h, "host", "?"))
                    return
                self._beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the sweep goes on
                log.warning("could not refresh the lock of sweep %s: %s", self.t.name, exc)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with _HELD_LOCK:
            _HELD_HERE.discard(self.key)
        try:
            if self._mine(self._holder()):
                for key in (names.TAG_ACTIVE, names.TAG_ACTIVE_SINCE):
                    with contextlib.suppress(Exception):
                        with_retry(self.t.client.delete_tag, self.t.parent_run_id, key)
            if exc_type is None:
                status = "FINISHED"
            elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
                status = "KILLED"
            else:
                status = "FAILED"
            with_retry(self.t.client.set_terminated, self.t.parent_run_id, status)
        except Exception as e:  # noqa: BLE001 - releasing must not hide the error that ended the sweep
            if exc_type is None:
                raise
            log.warning("could not release the lock of sweep %s: %s", self.t.name, e)
