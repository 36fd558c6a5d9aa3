"""The driver's side of tracking: one experiment and one parent run per sweep, one child per run.

The driver creates every child run before any job starts and hands each job its run id, so
workers never race to create runs (DESIGN: Tracking). Run keys make `kdsweep run` idempotent:
a key with a FINISHED child is skipped, an interrupted one is resumed in the same MLflow run
(its metrics continue where they stopped), and `--rerun` starts a fresh child beside the old.
Deleting a child in the MLflow UI is the way to make one run train again.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kdsweep.errors import UserError
from kdsweep.plan.build import Plan, PlannedRun
from kdsweep.status import RunStatus
from kdsweep.tracking import names
from kdsweep.tracking.limits import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    clip,
    config_params,
    config_yaml,
    log_params_tags,
    safe_key,
)
from kdsweep.tracking.lock import Holder, SweepLock
from kdsweep.tracking.marking import mark_with
from kdsweep.tracking.run_lookup import RunInfo, children_by_key, search_all
from kdsweep.tracking.store import default_artifact_root, open_client, store_mutex, with_retry
from kdsweep.tracking.view import axis_columns, view_tag

if TYPE_CHECKING:
    from mlflow.entities import Run


@dataclass(frozen=True)
class Prepared:
    run_id: str
    action: str  # "skip" (finished), "resume" (same MLflow run, unfinished), "new" (child just created)


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



def _logged_epochs(info: RunInfo) -> bool:
    """The child holds epoch points (system metrics do not count: they are not per epoch)."""
    return any(not k.startswith(names.SYSTEM_METRIC_PREFIX) for k in info.metrics) or bool(info.epoch)


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
        with store_mutex(uri):  # drivers racing on a new sweep create one experiment and one parent
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

    def share_first_view(self) -> None:
        """Write the view `kdsweep ui` links to (tracking/view.py): this sweep's axes (or search space) as
        columns. The driver calls it once, under the sweep's lock."""
        param_keys = {k for run in self.plan.runs for k in config_params(run.config)}
        columns = axis_columns(self.plan.axes, param_keys, names.TAG_AXIS_PREFIX)
        order = {}
        search = self.plan.sweep.search
        if search is not None:  # best by the search's metric; a trial's values are its params and axis tags
            scalars = {k for k, p in search.space.items()
                       if not any(isinstance(c, (dict, list)) for c in p.choices)}  # a block is a tag, not a param
            columns += axis_columns(search.space, scalars, names.TAG_AXIS_PREFIX)
            order = {"order_by": search.metric, "ascending": search.direction == "minimize"}
        key, value = view_tag(self.parent_run_id, columns, **order)
        with_retry(self.client.set_experiment_tag, self.experiment_id, key, value)

    def set_hardware(self, text: str) -> None:
        with_retry(self.client.set_tag, self.parent_run_id, names.TAG_HARDWARE, clip(text, MAX_TAG_VALUE))

    # Children ------------------------------------------------------------------------------------

    def existing(self) -> dict[str, RunInfo]:
        return children_by_key(self.client, self.experiment_id, self.name)

    def prepare(self, runs: list[PlannedRun], *, rerun: bool = False, again: Collection[str] = (),
                resumable: Callable[[str], bool] | None = None) -> dict[str, Prepared]:
        """One MLflow run id per planned run, created or reused before any job starts.

        An unfinished child resumes in the same MLflow run only when its epochs can go on:
        `resumable(key)` says its resume checkpoint is there. Without one (deleted to start the
        run over, or a lost checkpoint directory) a child that already logged epochs is
        superseded by a fresh child, so no run holds two trainings' points. `again`: run keys that train
        in a fresh child even if finished (their data changed: --rerun-changed), as --rerun does for all.
        """
        existing = self.existing()
        out: dict[str, Prepared] = {}
        for run in runs:
            old = existing.get(run.key)
            over = old is not None and resumable is not None and _logged_epochs(old) and not resumable(run.key)
            fresh = rerun or run.key in again
            if old is not None and not fresh and old.status == "FINISHED":
                out[run.key] = Prepared(old.run_id, "skip")
            elif old is not None and not fresh and not over:
                self._reset(old, run)
                out[run.key] = Prepared(old.run_id, "resume")
            else:
                start = max(_now_ms(), (old.start_time or 0) + 1) if old else None  # latest stays latest
                run_id = self._create_child(run, start)
                if old is not None and old.status in ("RUNNING", "SCHEDULED"):
                    why = "--rerun" if rerun else "a fresh start (its resume checkpoint is gone)"
                    self.mark(old.run_id, RunStatus.KILLED, f"superseded by {why} (run {run_id})")
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

    def accept_data(self, now: dict[str, str]) -> None:
        """--accept-data: finished runs keep their results and record the data found now ({run id: the new
        kdsweep.data tag}); what they trained on stays in kdsweep.data_accepted."""
        for run_id, value in now.items():
            before = with_retry(self.client.get_run, run_id).data.tags.get(names.TAG_DATA, "")
            with_retry(self.client.set_tag, run_id, names.TAG_DATA_ACCEPTED, clip(before, MAX_TAG_VALUE))
            with_retry(self.client.set_tag, run_id, names.TAG_DATA, clip(value, MAX_TAG_VALUE))

    def mark(self, run_id: str, status: str, reason: str | None = None, traceback: str | None = None) -> None:
        """End a child from the driver: see `mark_run`."""
        mark_with(self.client, run_id, status, reason, traceback)

    # The sweep lock --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, stale_after_s: float = Holder.STALE_AFTER_S, *, force: bool = False,
             heartbeat_s: float = 10.0) -> Iterator[SweepLock]:
        """Hold the sweep against other `kdsweep run` processes using the same store.

        Two drivers on one sweep would both resume the same interrupted runs. The lock is a
        heartbeat tag on the parent run (so it works for any store, from any node); a holder
        whose heartbeat is older than `stale_after_s`, or whose process is gone from this host,
        has died and is taken over; a live process on this host that stopped beating (Ctrl-Z) is
        not, unless `force`. While held, the parent run is RUNNING; on exit it ends FINISHED,
        KILLED (Ctrl-C) or FAILED (an error), or the lock's `end_status`. Yields the lock, whose
        `generation` every job carries (fencing).
        """
        with SweepLock(self, stale_after_s=stale_after_s, force=force, heartbeat_s=heartbeat_s) as held:
            yield held
