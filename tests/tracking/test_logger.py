"""The worker's logger: per-epoch metrics with steps, summary at the last epoch, status, pickling,
several processes writing one SQLite store at once, and system metrics."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import time

import pytest

from kdsweep.engine.logger import RunLogger
from kdsweep.metric_names import stored_names
from kdsweep.tracking import names
from kdsweep.tracking.logger import MlflowRunLogger, system_metrics
from kdsweep.tracking.sweep import SweepTracker


@pytest.fixture
def run_ids(uri, plan, results_dir) -> list[str]:
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    return [p.run_id for p in tracker.prepare(plan.runs).values()]


def _history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    """A metric's points as logged: a per-epoch one under `curves/` (metric_names.CURVE_PREFIX)."""
    return sorted((m.step, m.value) for k in stored_names(key) for m in client.get_metric_history(run_id, k))


def test_metrics_steps_summary_and_status(uri, run_ids, client, tmp_path):
    logger: RunLogger = MlflowRunLogger(uri, run_ids[1])
    logger.set_status("RUNNING")
    run = client.get_run(run_ids[1])
    assert (run.info.status, run.data.tags[names.TAG_STATUS]) == ("RUNNING", "RUNNING")

    for epoch in (1, 2, 3):
        logger.log_metrics({"train_loss": 1.0 / epoch, "val_acc1": 50.0 + epoch, "lr": 0.1}, step=epoch)
    logger.log_metrics({"best_val_acc1": 53.0, "best_epoch": 3, "params": 20_000}, step=None)
    curve = tmp_path / "curves.png"
    curve.write_bytes(b"\x89PNG fake")
    logger.log_artifact(curve, names.ARTIFACT_PLOTS)
    logger.set_status("FINISHED", "early stop: val_acc1 did not improve for 5 epochs")

    assert _history(client, run_ids[1], "val_acc1") == [(1, 51.0), (2, 52.0), (3, 53.0)]
    assert _history(client, run_ids[1], "train_loss")[0] == (1, 1.0)
    assert _history(client, run_ids[1], "best_val_acc1") == [(3, 53.0)]  # the summary sits at the last epoch
    history = client.get_metric_history(run_ids[1], "curves/val_acc1")
    assert len(history) == 3 and all(m.timestamp > 0 for m in history)
    run = client.get_run(run_ids[1])
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.data.tags[names.TAG_STATUS] == "FINISHED"
    assert run.data.tags[names.TAG_REASON].startswith("early stop")
    assert run.data.tags[names.TAG_EPOCH] == "3"
    assert run.data.metrics["params"] == 20_000
    assert [a.path for a in client.list_artifacts(run_ids[1], "plots")] == ["plots/curves.png"]


def test_failed_killed_and_resumed_runs(uri, run_ids, client):
    failed = MlflowRunLogger(uri, run_ids[0])
    failed.set_status("RUNNING")
    failed.set_status("FAILED", "ValueError: bad shape\n  at line 3")
    run = client.get_run(run_ids[0])
    assert (run.info.status, run.data.tags[names.TAG_STATUS]) == ("FAILED", "FAILED")
    assert run.data.tags[names.TAG_REASON] == "ValueError: bad shape at line 3"

    first = MlflowRunLogger(uri, run_ids[2])
    first.set_status("RUNNING")
    first.log_metrics({"val_acc1": 10.0}, step=1)
    first.log_metrics({"val_acc1": 20.0}, step=2)
    first.set_status("KILLED", "stopped at epoch 3 step 7; resumes after epoch 2")
    assert client.get_run(run_ids[2]).info.status == "KILLED"

    # Another process resumes the same MLflow run: metrics continue, the summary lands at its last epoch.
    again = pickle.loads(pickle.dumps(MlflowRunLogger(uri, run_ids[2])))
    again.set_status("RUNNING")
    assert client.get_run(run_ids[2]).info.status == "RUNNING"
    again.log_metrics({"val_acc1": 30.0}, step=3)
    fresh = MlflowRunLogger(uri, run_ids[2])  # knows nothing in-process: reads the epoch tag
    fresh.log_metrics({"best_val_acc1": 30.0}, step=None)
    fresh.set_status("FINISHED")
    assert _history(client, run_ids[2], "val_acc1") == [(1, 10.0), (2, 20.0), (3, 30.0)]
    assert _history(client, run_ids[2], "best_val_acc1") == [(3, 30.0)]
    assert client.get_run(run_ids[2]).info.status == "FINISHED"

    with pytest.raises(ValueError, match="unknown status"):
        fresh.set_status("DONE")


def test_set_tags(uri, run_ids, client):
    MlflowRunLogger(uri, run_ids[0]).set_tags({"kdsweep.slot": "gpu0/1", "kdsweep.pid": 1234, "odd key!": "x"})
    tags = client.get_run(run_ids[0]).data.tags
    assert (tags["kdsweep.slot"], tags["kdsweep.pid"], tags["odd key_"]) == ("gpu0/1", "1234", "x")


def test_pickles_without_its_client(uri, run_ids):
    logger = MlflowRunLogger(uri, run_ids[0])
    logger.set_status("RUNNING")  # opens a client (a database engine inside)
    assert logger._client is not None
    state = pickle.loads(pickle.dumps(logger))
    assert state._client is None and (state.uri, state.run_id) == (uri, run_ids[0])


def _worker(pickled: bytes, epochs: int) -> None:
    """One training process: gets its logger pickled (as a Ray task does), sets RUNNING, logs every
    epoch as fast as it can, finishes."""
    logger = pickle.loads(pickled)
    logger.set_status("RUNNING")
    for epoch in range(1, epochs + 1):
        logger.log_metrics({k: float(epoch) for k in names.EPOCH_METRICS}, step=epoch)
    logger.log_metrics({"best_val_acc1": float(epochs)}, step=None)
    logger.set_status("FINISHED")


def test_four_processes_log_to_one_sqlite_store(uri, run_ids, client):
    epochs = 25
    # fork, not spawn: four fresh interpreters importing MLflow would cost more than the test itself.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    procs = [ctx.Process(target=_worker, args=(pickle.dumps(MlflowRunLogger(uri, rid)), epochs)) for rid in run_ids]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    for rid in run_ids:
        run = client.get_run(rid)
        assert run.info.status == "FINISHED"
        for key in names.EPOCH_METRICS:
            assert _history(client, rid, key) == [(e, float(e)) for e in range(1, epochs + 1)]
        assert _history(client, rid, "best_val_acc1") == [(epochs, float(epochs))]


def test_system_metrics(uri, run_ids, client):
    pytest.importorskip("psutil")
    MlflowRunLogger(uri, run_ids[0]).set_status("RUNNING")
    with system_metrics(uri, run_ids[0], interval_s=0.2) as monitor:
        assert monitor is not None
        time.sleep(1.0)
    keys = set(client.get_run(run_ids[0]).data.metrics)
    assert "system/cpu_utilization_percentage" in keys
    assert "system/system_memory_usage_megabytes" in keys


def test_system_metrics_off_or_unavailable_is_nothing(uri, run_ids, client, monkeypatch):
    with system_metrics(uri, run_ids[1], enabled=False) as monitor:
        assert monitor is None
    monkeypatch.setitem(sys.modules, "mlflow.system_metrics.system_metrics_monitor", None)  # as without psutil
    with system_metrics(uri, run_ids[1]) as monitor:
        assert monitor is None
    assert not any(k.startswith("system/") for k in client.get_run(run_ids[1]).data.metrics)


def test_exactly_once_across_processes(uri, run_ids, client):
    """A resumed run replays its checkpoint's history through a new logger: the points the run
    holds stay as they are (one per step), the missing ones are added, the summary is not doubled."""
    first = MlflowRunLogger(uri, run_ids[0])
    for epoch in (1, 2):
        first.log_metrics({"val_acc1": 10.0 * epoch}, step=epoch)
    first.log_metrics({"best_val_acc1": 20.0}, step=None)
    again = pickle.loads(pickle.dumps(MlflowRunLogger(uri, run_ids[0])))  # as a Ray retry gets it
    for epoch in (1, 2, 3):
        again.log_metrics({"val_acc1": 10.0 * epoch + 1, "lr": 0.1}, step=epoch)
    again.log_metrics({"best_val_acc1": 31.0}, step=None)
    assert _history(client, run_ids[0], "val_acc1") == [(1, 10.0), (2, 20.0), (3, 31.0)]
    assert _history(client, run_ids[0], "lr") == [(1, 0.1), (2, 0.1), (3, 0.1)]
    assert _history(client, run_ids[0], "best_val_acc1") == [(2, 20.0), (3, 31.0)]  # one per step
    assert client.get_run(run_ids[0]).data.tags[names.TAG_EPOCH] == "3"


def test_fenced_logger_stops_and_writes_nothing(uri, run_ids, client, plan, results_dir):
    from kdsweep.errors import StopRun

    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    with tracker.lock() as held:
        logger = MlflowRunLogger(uri, run_ids[0], fence=(tracker.parent_run_id, held.generation))
        logger.guard()  # ours: passes
        logger.log_metrics({"val_acc1": 1.0}, step=1)
        client.set_tag(tracker.parent_run_id, names.TAG_GENERATION, str(held.generation + 1))  # taken over
        with pytest.raises(StopRun, match="another driver took the sweep over"):
            logger.guard()
        with pytest.raises(StopRun):
            logger.log_metrics({"val_acc1": 2.0}, step=2)
    assert logger.stopped == "fenced" and _history(client, run_ids[0], "val_acc1") == [(1, 1.0)]


def test_outage_buffers_then_flushes_or_stops(uri, run_ids, client, monkeypatch):
    """Writes the store refuses for a while are kept and land with the next write that gets
    through; past the allowance the logger raises StopRun and drops nothing it had written."""
    from mlflow.exceptions import MlflowException

    from kdsweep.errors import StopRun

    monkeypatch.setenv("KDSWEEP_STORE_OUTAGE_S", "0.5")
    logger = MlflowRunLogger(uri, run_ids[0])
    logger.log_metrics({"val_acc1": 1.0}, step=1)
    real = logger.client.log_batch
    down = {"on": True}

    def flaky(*args, **kwargs):
        if down["on"]:
            raise MlflowException("(sqlite3.OperationalError) unable to open database file")
        return real(*args, **kwargs)

    monkeypatch.setattr(logger.client, "log_batch", flaky)
    logger.log_metrics({"val_acc1": 2.0}, step=2)  # buffered: training goes on
    assert _history(client, run_ids[0], "val_acc1") == [(1, 1.0)]
    down["on"] = False
    logger.log_metrics({"val_acc1": 3.0}, step=3)
    assert _history(client, run_ids[0], "val_acc1") == [(1, 1.0), (2, 2.0), (3, 3.0)]

    down["on"] = True
    logger.log_metrics({"val_acc1": 4.0}, step=4)
    time.sleep(0.6)
    with pytest.raises(StopRun, match="did not answer for 0.5 s .*unable to open database file"):
        logger.log_metrics({"val_acc1": 5.0}, step=5)
    assert logger.stopped == "store"
