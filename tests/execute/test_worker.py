"""A job in its worker, without Ray: what it tells MLflow and the live view (issue 12.7, 12.8)."""

from __future__ import annotations

import datetime as dt
import time
from types import SimpleNamespace

import pytest
from execute_helpers import children, store_uri, write_sweep

from kdsweep.execute.jobs import build_jobs
from kdsweep.execute.progress import ProgressBoard
from kdsweep.execute.worker import run_job
from kdsweep.plan import plan_sweep
from kdsweep.tracking.sweep import SweepTracker

BODY = """
base:
  epochs: 3
  data: {name: digits}
  student: {arch: digits_student}
grid:
  optim.lr: [0.1, 0.2]
"""


class Board:
    """ProgressBoard without Ray: `board.update.remote(...)` as the worker calls it."""

    def __init__(self) -> None:
        self.inner = ProgressBoard()
        self.update = SimpleNamespace(remote=self.inner.update)


@pytest.mark.slow  # a fresh MLflow store: ~15 s idle, a minute on a busy machine
def test_job_tags_readable_times_names_its_loggers_and_reports_a_resumed_epoch(tmp_path):
    """Also: a run's MLflow start time is when its training started, not when the driver created it,
    so the UI's Duration is training time (12.7); a resumed run keeps the start of its first training."""
    plan = plan_sweep(write_sweep(tmp_path, "worker_tags", BODY))
    uri = store_uri(tmp_path)
    tracker = SweepTracker(uri, plan, results_dir=tmp_path / "results")
    jobs = build_jobs(plan, tracker.prepare(plan.runs), tmp_path / "ckpt")
    names = []

    def fake_train(configs, *, workdirs, loggers):
        for logger in loggers:
            names.append(logger.name)
            logger.set_status("RUNNING")
            logger.log_metrics({"val_acc1": 50.0, "epoch_s": 1.0}, step=2)  # as if resumed after epoch 1
            logger.set_status("FINISHED")
        return [SimpleNamespace(status="FINISHED", reason=None, best_val_acc1=50.0, metrics={}, history=[]) for _ in configs]

    created = {r.info.run_id: r.info.start_time for r in children(uri, "worker_tags")}
    time.sleep(0.3)  # the runs wait for a slot
    board = Board()
    now = dt.datetime.now(dt.timezone.utc)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the tags keep milliseconds
    for job in jobs:
        run_job(job.payload(), uri=uri, board=board, system_metrics=False, train_fn=fake_train)

    assert sorted(names) == ["lr=0.1", "lr=0.2"]  # the engine titles each learning curve with these
    for run in children(uri, "worker_tags"):
        started = dt.datetime.fromisoformat(run.data.tags["kdsweep.started"])
        ended = dt.datetime.fromisoformat(run.data.tags["kdsweep.ended"])
        assert before <= started <= ended and started.tzinfo is not None
        assert run.info.start_time == int(started.timestamp() * 1000) >= created[run.info.run_id] + 300
        assert run.info.end_time >= run.info.start_time
    first_start = {r.info.run_id: r.info.start_time for r in children(uri, "worker_tags")}
    # A second run of a job whose run had logged epoch 2 starts the live view at epoch 2, not 0.
    board = Board()
    run_job(jobs[0].payload(), uri=uri, board=board, system_metrics=False,
            train_fn=lambda configs, *, workdirs, loggers: [
                lg.set_status("RUNNING") or SimpleNamespace(status="FINISHED", reason=None, best_val_acc1=1.0, metrics={}, history=[])
                for lg in loggers])
    key = jobs[0].runs[0].key
    assert board.inner.snapshot()[key]["resumed_from"] == 2
    again = {r.info.run_id: r.info.start_time for r in children(uri, "worker_tags")}
    assert again == first_start  # resumed: its Duration spans both trainings, as MLflow's own resume
