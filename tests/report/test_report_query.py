"""load_runs: one row per planned run, whatever the store holds."""

from __future__ import annotations

import math

import pandas as pd
import report_sweeps as rs

from kdsweep.report.query import load_runs


def test_one_row_per_planned_run_with_status_metrics_config_and_history(store, planned):
    plan = planned(rs.T_ALPHA, "q_rows")
    sweep = store.sweep(plan, hardware="cpu: 2 cores")
    sweep.run("big", best=80.83, params=2.0e6, flops=1.5e8, history={"val_acc1": [50.0, 80.83]})
    sweep.run("T=1", best=79.0, history={"val_acc1": [40.0, 79.0]})
    sweep.run("T=1", best=79.5)  # a rerun that finished later wins
    sweep.run("T=3", best=81.1)
    sweep.run("T=3", "FAILED")  # ... but a later failure does not hide a finished run
    sweep.run("T=5", "FAILED", reason="nan loss")
    sweep.run("T=5", "RUNNING")  # none finished: the latest says what is going on
    sweep.run("alpha=0.7", "PENDING")

    df = load_runs(store.uri, plan, history=["val_acc1"])

    assert list(df["key"]) == [r.key for r in plan.runs]
    assert list(df["name"]) == ["big", "T=1", "T=3", "T=5", "T=10", "alpha=0.7", "alpha=0.6", "alpha=0.5"]
    assert list(df["status"]) == ["finished", "finished", "finished", "running", "not run", "pending", "not run",
                                  "not run"]
    assert list(df["stage"]) == ["big", "", "", "", "", "", "", ""]
    assert df.loc[1, "best_val_acc1"] == 79.5 and df.loc[2, "best_val_acc1"] == 81.1
    assert math.isnan(df.loc[4, "best_val_acc1"]) and pd.isna(df.loc[4, "run_id"])
    assert df.loc[0, "params"] == 2.0e6 and df.loc[0, "flops"] == 1.5e8
    assert df.loc[0, "history.val_acc1"] == {1: 50.0, 2: 80.83}
    assert df.loc[1, "history.val_acc1"] == {}  # the rerun that counts logged no history
    assert df.loc[3, "reason"] == ""  # the latest child (running) has no reason; the failed one did
    # Config values from the plan, by dotted key; the point as planned.
    assert df.loc[2, "loss.kd.T"] == 3 and df.loc[5, "loss.kd.alpha"] == 0.7
    assert df.loc[0, "student.arch"] == "digits_teacher"
    assert df.loc[5, "point"] == {"loss.kd.alpha": 0.7}
    assert df.attrs["hardware"] == "cpu: 2 cores"
    assert df.attrs["parent_run_id"] == sweep.parent_id
    assert df.attrs["n_children"] == 8


def test_a_sweep_never_run_is_all_not_run(store, planned):
    plan = planned(rs.STATES, "q_never")
    df = load_runs(store.uri, plan)
    assert len(df) == len(plan.runs) == 9
    assert set(df["status"]) == {"not run"}
    assert df.attrs["n_children"] == 0 and df.attrs["parent_run_id"] is None


def test_status_falls_back_to_mlflow_when_the_tag_is_missing(store, planned):
    from kdsweep.tracking import names

    plan = planned(rs.SIZES, "q_fallback")
    sweep = store.sweep(plan)
    run_id = sweep.run("arch=digits_student", best=70.0)
    store.client.delete_tag(run_id, names.TAG_STATUS)  # set_terminated made MLflow's status FINISHED
    df = load_runs(store.uri, plan)
    assert list(df["status"]) == ["finished", "not run"]


def test_runs_logged_before_and_after_the_curves_prefix_read_alike(store, planned):
    """Per-epoch metrics are logged as `curves/val_acc1` (the run page shows them first); a store also holds
    runs of an older kdsweep with `val_acc1`: the report reads both, by the plain name."""
    plan = planned(rs.T_ALPHA, "q_prefix")
    sweep = store.sweep(plan)
    sweep.run("T=1", best=79.0, history={"val_acc1": [40.0, 79.0]})  # an older run
    sweep.run("T=3", best=81.0, history={"curves/val_acc1": [45.0, 81.0]})  # as logged now
    df = load_runs(store.uri, plan, history=["val_acc1"])
    assert df.loc[1, "history.val_acc1"] == {1: 40.0, 2: 79.0}
    assert df.loc[2, "history.val_acc1"] == {1: 45.0, 2: 81.0}
    assert df.loc[1, "val_acc1"] == 79.0 and df.loc[2, "val_acc1"] == 81.0  # the latest value, by its plain name
    assert "curves/val_acc1" not in df.columns
