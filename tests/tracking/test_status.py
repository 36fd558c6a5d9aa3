"""`kdsweep status`: one row per planned run, read from MLflow."""

from __future__ import annotations

import io
import math

from kdsweep.tracking.logger import MlflowRunLogger
from kdsweep.tracking.status import print_status, status_counts, sweep_status
from kdsweep.tracking.sweep import SweepTracker


def test_status_before_anything_ran_creates_nothing(uri, plan, client):
    df = sweep_status(uri, plan)
    assert list(df["key"]) == [r.short for r in plan.runs]
    assert list(df["name"]) == ["teacher", "T=2", "T=4", "kd=none"]
    assert list(df["stage"]) == ["teacher", "", "", ""]
    assert set(df["state"]) == {"not started"}
    assert list(df["epochs"]) == [3, 3, 3, 3]
    assert status_counts(df) == {"not started": 4}
    assert client.get_experiment_by_name("tiny") is None  # reading made no experiment


def test_status_follows_the_runs(uri, plan, results_dir):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    teacher, t2, t4, base = plan.runs
    ids = {k: p.run_id for k, p in tracker.prepare(plan.runs[:3]).items()}  # the baseline not yet created

    done = MlflowRunLogger(uri, ids[teacher.key])
    done.set_status("RUNNING")
    for epoch in (1, 2, 3):
        done.log_metrics({"val_acc1": 80.0 + epoch}, step=epoch)
    done.log_metrics({"best_val_acc1": 83.0}, step=None)
    done.set_status("FINISHED")
    running = MlflowRunLogger(uri, ids[t2.key])
    running.set_status("RUNNING")
    running.log_metrics({"val_acc1": 40.0}, step=1)
    running.log_metrics({"val_acc1": 55.5}, step=2)
    tracker.mark(ids[t4.key], "NOT_RUN", "teacher failed")

    df = sweep_status(uri, plan).set_index("name")
    assert df.loc["teacher", "state"] == "FINISHED"
    assert df.loc["teacher", "epoch"] == 3 and df.loc["teacher", "best_val_acc1"] == 83.0
    assert df.loc["T=2", "state"] == "RUNNING"
    assert (df.loc["T=2", "epoch"], df.loc["T=2", "epochs"], df.loc["T=2", "val_acc1"]) == (2, 3, 55.5)
    assert math.isnan(df.loc["T=2", "best_val_acc1"])
    assert (df.loc["T=4", "state"], df.loc["T=4", "reason"]) == ("NOT_RUN", "teacher failed")
    assert df.loc["kd=none", "state"] == "not started" and df.loc["kd=none", "run_id"] == ""
    assert df.loc["teacher", "run_id"] == ids[teacher.key]
    assert status_counts(df) == {"FINISHED": 1, "RUNNING": 1, "NOT_RUN": 1, "not started": 1}
    # No driver holds the sweep: the RUNNING run is an orphan, and the table says how to resume it.
    assert df.loc["T=2", "reason"] == "its driver is gone; `kdsweep run` resumes it"
    with tracker.lock():
        assert sweep_status(uri, plan).set_index("name").loc["T=2", "reason"] == ""

    tracker.prepare(plan.runs)  # the next `kdsweep run`: the baseline gets its child, waiting
    df = sweep_status(uri, plan).set_index("name")
    assert df.loc["kd=none", "state"] == "PENDING"
    assert df.loc["T=4", "state"] == "PENDING"  # NOT_RUN is retried, so it waits again
    # Under the sweep lock a RUNNING child at prepare time is an orphan of a dead driver: it waits again too.
    assert df.loc["T=2", "state"] == "PENDING" and df.loc["T=2", "epoch"] == 2
    assert status_counts(df.reset_index()) == {"FINISHED": 1, "PENDING": 3}


def test_print_status(uri, plan, results_dir, tmp_path, monkeypatch):
    missing = tmp_path / "elsewhere" / "mlflow.db"
    out = io.StringIO()
    assert print_status(plan, f"sqlite:///{missing}", out=out) == 0
    assert not missing.exists() and not missing.parent.exists()  # status of nothing creates nothing
    assert out.getvalue().splitlines()[0] == f"tiny: 4 runs: 4 not started  (store sqlite:///{missing})"

    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    ids = {k: p.run_id for k, p in tracker.prepare(plan.runs).items()}
    logger = MlflowRunLogger(uri, ids[plan.runs[0].key])
    logger.set_status("RUNNING")
    logger.log_metrics({"val_acc1": 91.25}, step=1)
    tracker.mark(ids[plan.runs[3].key], "FAILED", "ValueError: boom")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # no --tracking-uri: found as `kdsweep run` found it
    out = io.StringIO()
    assert print_status(plan, None, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"tiny: 4 runs: 1 RUNNING, 2 PENDING, 1 FAILED  (store {uri})"
    assert lines[1].split() == ["key", "name", "stage", "state", "epoch", "best", "top-1", "last", "top-1", "reason"]
    teacher_row = next(line for line in lines if line.split()[1] == "teacher")
    assert teacher_row.split()[:6] == [plan.runs[0].short, "teacher", "teacher", "RUNNING", "1/3", "91.25"]
    assert lines[-1].split()[-2:] == ["ValueError:", "boom"]
