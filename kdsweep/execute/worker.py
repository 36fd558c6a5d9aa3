"""What runs inside one Ray task: train one job and report back.

The task gets plain data (configs, run ids, paths), so it can run on any node. It fills in
the teacher / init checkpoints of its stages, logs to MLflow through the run ids the driver
created, feeds the live view, and returns a small result per run: Ray passes that result
to the jobs that need this one, which is how stages become task dependencies.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kdsweep.execute.notices import collected
from kdsweep.status import RunStatus
from kdsweep.tracking.names import TAG_ENDED, TAG_STARTED, TAG_WARNINGS

BEST = "best.pt"


def slot_name() -> str:
    """`gpu 2` when Ray gave this task a GPU (CUDA_VISIBLE_DEVICES), else `cpu <pid>`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    try:
        import ray

        # Not inside Ray (--inline): asking the runtime context would start a whole local cluster.
        gpus = ray.get_runtime_context().get_accelerator_ids().get("GPU", []) if ray.is_initialized() else []
    except Exception:  # not inside Ray (tests, the Python entry point)
        gpus = []
    if gpus:
        return "gpu " + ",".join(str(g) for g in gpus)
    return f"cpu {os.getpid()}" if not visible else f"gpu {visible}"


def _now_iso(now_s: float | None = None) -> str:
    """`2026-11-30T09:41:07.123+00:00`: readable in the MLflow UI, parsed by datetime.fromisoformat."""
    when = datetime.now(timezone.utc) if now_s is None else datetime.fromtimestamp(now_s, timezone.utc)
    return when.isoformat(timespec="milliseconds")


def ray_node() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else ""
    except Exception:
        return ""


def ray_node_ip() -> str:
    """The address of this task's Ray node: says which node it is where nodes share a host name (several
    nodes on one machine, containers)."""
    try:
        import ray

        return ray.util.get_node_ip_address() if ray.is_initialized() else ""
    except Exception:
        return ""


class ProgressLogger:
    """Wraps a run's MLflow logger and copies each epoch's numbers to the live view."""

    def __init__(self, inner: Any, board: Any, key: str, slot: str, epochs: int, name: str = ""):
        self.inner, self.board, self.key, self.slot, self.epochs = inner, board, key, slot, epochs
        self.name = name  # the run's name, as plan and MLflow show it (the engine titles its plots with it)

    def _post(self, **event: Any) -> None:
        if self.board is not None:
            try:
                self.board.update.remote(self.key, {"slot": self.slot, "epochs": self.epochs, **event})
            except Exception:  # the view is a convenience; never fail a run over it
                pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.inner.log_metrics(metrics, step)
        if step is not None:
            self._post(epoch=step, val_acc1=metrics.get("val_acc1"), epoch_s=metrics.get("epoch_s"),
                       time=time.time())

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.inner.log_artifact(path, artifact_path)

    def guard(self) -> None:
        self.inner.guard()

    def set_status(self, status: str, reason: str | None = None) -> None:
        self.inner.set_status(status, reason)
        # A resumed run starts where its last epoch left off; the live view should say so, not "epoch 0".
        resumed = self.inner.last_epoch() if status == "RUNNING" and hasattr(self.inner, "last_epoch") else 0
        self._post(state=status, reason=reason, time=time.time(), resumed_from=resumed or None)


def checkpoint_of(dep: dict) -> str | None:
    """A finished stage's best weights: its work dir if this node sees it, else MLflow's copy."""
    local = Path(dep["workdir"]) / BEST
    if local.is_file():
        return str(local)
    if not dep.get("run_id") or not dep.get("uri"):
        return None
    try:
        import mlflow

        mlflow.set_tracking_uri(dep["uri"])
        got = mlflow.artifacts.download_artifacts(run_id=dep["run_id"], artifact_path=f"checkpoints/{BEST}",
                                                  dst_path=str(Path(dep["workdir"])))
        return got if Path(got).is_file() else None
    except Exception:
        return None


def _missing_dependency(config: dict, deps: dict[str, dict]) -> str | None:
    """Fill the teacher / init checkpoints from finished stages; the reason when one is not there."""
    for section, label in ((config.get("teacher"), "teacher"), (config["student"].get("init"), "init")):
        if not isinstance(section, dict) or not section.get("key"):
            continue
        dep = deps.get(section["key"])
        if dep is None or dep.get("status") != RunStatus.FINISHED:
            why = (dep or {}).get("reason") or (dep or {}).get("status", RunStatus.NOT_RUN.word)
            return f"{label} stage {section.get('run')} did not finish ({why})"
        path = checkpoint_of(dep)
        if path is None:
            return f"{label} stage {section.get('run')} finished but its best checkpoint is not found"
        section["checkpoint"] = path
    return None


def run_job(job: dict, *dep_results: dict, uri: str, board: Any = None, threads: int | None = None,
            system_metrics: bool = True, retries: int = 0, train_fn: Any = None,
            prune: Any = None) -> dict[str, dict]:
    """Train one job's runs (see `_run_job`); a job stopped by its store or by a driver that
    took the sweep over (StopRun) ends its unfinished runs KILLED, resumable, with `stopped`
    saying why ("store" or "fenced"), and writes nothing more."""
    from kdsweep.errors import StopRun

    results: dict[str, dict] = {}
    try:
        return _run_job(job, *dep_results, uri=uri, board=board, threads=threads, system_metrics=system_metrics,
                        retries=retries, train_fn=train_fn, prune=prune, results=results)
    except StopRun as exc:
        reason = str(exc).splitlines()[0]
        for run in job["runs"]:
            if results.get(run["key"], {}).get("status") not in (RunStatus.FINISHED, RunStatus.FAILED,
                                                                 RunStatus.NOT_RUN):
                results[run["key"]] = {"workdir": run["workdir"], "run_id": run["run_id"], "uri": uri,
                                       "status": RunStatus.KILLED, "reason": reason, "stopped": exc.kind}
        return results


def _run_job(job: dict, *dep_results: dict, uri: str, board: Any, threads: int | None, system_metrics: bool,
             retries: int, train_fn: Any, prune: Any, results: dict[str, dict]) -> dict[str, dict]:
    """Train one job's runs; returns {run key: {status, reason, workdir, run_id, uri, ...}}.

    `dep_results` are the results of the jobs holding this job's stages (Ray resolves them
    before the task starts: they are top-level arguments, which is what makes them task
    dependencies) and a dict for stages that finished in an earlier `kdsweep run`.

    Runs that fail are trained again up to `retries` times here, in the same task, so the
    jobs waiting on this one see only the final outcome. Each retry resumes from the run's
    last epoch checkpoint.

    `prune(run key, epoch, epoch metrics)`, given for a search's trials, is asked after each
    epoch whether the search's pruner stopped that run (execute/search.py).
    """
    from kdsweep.errors import StopRun
    from kdsweep.tracking.logger import MlflowRunLogger
    from kdsweep.tracking.marking import mark_run

    deps: dict[str, dict] = {}
    for result in dep_results:
        deps.update(result)
    slot = slot_name()
    node = socket.gethostname()
    fence = (job["parent_run_id"], job["generation"]) if job.get("parent_run_id") else None

    def result(run: dict, status: str, reason: str | None, **extra: Any) -> dict:
        """What dependants and the driver read: where the run's checkpoints are, and how it ended."""
        return {"workdir": run["workdir"], "run_id": run["run_id"], "uri": uri, "slot": slot,
                "status": status, "reason": reason, **extra}

    trainable = []
    for run in job["runs"]:
        config = run["config"]
        if threads:
            config["train"]["threads"] = threads
        why = _missing_dependency(config, deps)
        if why:
            mark_run(uri, run["run_id"], RunStatus.NOT_RUN, reason=why)
            results[run["key"]] = result(run, RunStatus.NOT_RUN, why)
            if board is not None:
                board.update.remote(run["key"], {"state": RunStatus.NOT_RUN, "reason": why, "slot": slot})
            continue
        trainable.append(run)
    if not trainable:
        return results

    loggers = []
    for run in trainable:
        inner = MlflowRunLogger(uri, run["run_id"], fence=fence)
        inner.guard()  # a job of a driver that was taken over before it started trains nothing
        started = time.time()
        inner.set_tags({"kdsweep.slot": slot, "kdsweep.node": node, "kdsweep.ray_node": ray_node(),
                        "kdsweep.node_ip": ray_node_ip(),
                        "kdsweep.pid": str(os.getpid()), TAG_STARTED: _now_iso(started),
                        "kdsweep.attempts": str(_attempt(inner))})
        inner.start_clock(started)  # the UI's Duration: training time, not the time queued for a slot
        loggers.append(ProgressLogger(inner, board, run["key"], slot, run["epochs"], name=run.get("name", "")))
    _log_data(trainable, [lg.inner for lg in loggers])
    if train_fn is None:
        from kdsweep.engine import train_group as train_fn
    from kdsweep.tracking.logger import system_metrics as monitor

    pending = list(zip(trainable, loggers, strict=True))
    for attempt in range(retries + 1):
        if not pending:
            break
        failed = []
        extra = {}
        if prune is not None:
            keys = [r["key"] for r, _ in pending]
            extra["prune"] = lambda i, epoch, metrics, keys=keys: prune(keys[i], epoch, metrics)
        try:
            with contextlib.ExitStack() as monitors, collected() as raised:
                for run, _ in pending:  # every run of a fused job shows its process's usage, not only the first
                    monitors.enter_context(monitor(uri, run["run_id"], enabled=system_metrics))
                outcomes = train_fn([r["config"] for r, _ in pending],
                                    workdirs=[Path(r["workdir"]) for r, _ in pending],
                                    loggers=[lg for _, lg in pending], **extra)
        except StopRun:
            raise
        except Exception as exc:  # a bug or an error outside any one run: every run of the job failed
            text = traceback.format_exc()
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            for run, _ in pending:
                mark_run(uri, run["run_id"], RunStatus.FAILED, reason=reason, traceback=text)
                results[run["key"]] = result(run, RunStatus.FAILED, reason)
            failed = pending
        else:
            for (run, logger), outcome in zip(pending, outcomes, strict=True):
                if logger.inner.stopped:  # fenced, or the store gone: write nothing more
                    kind = logger.inner.stopped
                    results[run["key"]] = result(run, RunStatus.KILLED, outcome.reason, stopped=kind)
                    continue
                logger.inner.set_tags({TAG_ENDED: _now_iso(), **({TAG_WARNINGS: "\n".join(raised)} if raised else {})})
                results[run["key"]] = result(run, outcome.status, outcome.reason,
                                             best_val_acc1=outcome.best_val_acc1, metrics=dict(outcome.metrics),
                                             epochs_trained=len(outcome.history), warnings=list(raised))
                if outcome.status == RunStatus.FAILED:
                    failed.append((run, logger))
            stopped = next((r for r in results.values() if r.get("stopped")), None)
            if stopped is not None:  # the job's other runs stop too (run_job marks them)
                raise StopRun(stopped["reason"] or "stopped", kind=stopped["stopped"])
        if failed and attempt < retries:
            for _, logger in failed:
                logger.inner.set_tags({"kdsweep.attempts": str(_attempt(logger.inner))})
        pending = failed
    return results


def _log_data(runs: list[dict], loggers: list[Any]) -> None:
    """Record with each run the data it is about to train on (engine/data/fingerprint.py), as this node
    sees it; a fused job's runs share one fingerprint. Not knowing it never stops training."""
    import json
    import logging

    from kdsweep.engine.data.fingerprint import as_dicts, fingerprint
    from kdsweep.errors import StopRun

    seen: dict[str, dict] = {}
    for run, logger in zip(runs, loggers, strict=True):
        data = run["config"]["data"]
        try:
            text = json.dumps(data, sort_keys=True, default=str)
            if text not in seen:
                seen[text] = as_dicts(fingerprint(data))
            logger.log_data(data["name"], seen[text])
        except StopRun:
            raise
        except Exception as exc:  # noqa: BLE001 - a fingerprint is a record, not a reason to fail
            logging.getLogger(__name__).warning("could not record the data of run %s: %s", run["key"][:8], exc)


def _attempt(logger: Any) -> int:
    """This attempt's number: one more than the run's `kdsweep.attempts` tag, counting every start
    of the run, whether by `--retries`, by Ray re-running a job whose worker died, or by a later
    `kdsweep run` resuming it. A new run (created by this driver) starts at 1."""
    tags = logger.run_tags()
    value = tags.get("kdsweep.attempts", "0")
    return (int(value) if value.isdigit() else 0) + 1
