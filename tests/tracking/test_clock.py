"""A child's MLflow start time is moved to when its training started (12.7: the UI's Duration)."""

from __future__ import annotations

from types import SimpleNamespace

from kdsweep.tracking.clock import move_start_time
from kdsweep.tracking.logger import MlflowRunLogger
from kdsweep.tracking.sweep import SweepTracker


def test_a_fresh_run_takes_its_training_start_and_a_resumed_one_keeps_its_first(uri, plan, results_dir, client):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    fresh, resumed = [p.run_id for p in tracker.prepare(plan.runs).values()][:2]
    created = client.get_run(fresh).info.start_time
    later_s = created / 1000 + 180.0  # three minutes queued for a slot

    assert MlflowRunLogger(uri, fresh).start_clock(later_s)
    assert client.get_run(fresh).info.start_time == int(later_s * 1000)

    logger = MlflowRunLogger(uri, resumed)
    logger.log_metrics({"val_acc1": 50.0}, step=1)
    first = client.get_run(resumed).info.start_time
    assert not MlflowRunLogger(uri, resumed).start_clock(later_s)  # a new process, as a resumed job is
    assert client.get_run(resumed).info.start_time == first


def test_stores_that_cannot_move_it_say_so_instead_of_failing(uri, client):
    assert not move_start_time(SimpleNamespace(), "0" * 32, 1)  # an MLflow server: no SQL store to write
    assert not move_start_time(client, "0" * 32, 1)  # no such run


def test_a_start_only_moves_later(uri, plan, results_dir, client):
    """A worker whose clock runs behind the driver's must not move a --rerun child before the run it supersedes."""
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    run_id = next(iter(tracker.prepare(plan.runs).values())).run_id
    created = client.get_run(run_id).info.start_time
    assert not move_start_time(client, run_id, created - 5000)
    assert client.get_run(run_id).info.start_time == created
