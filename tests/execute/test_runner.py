"""`kdsweep run` end to end on this CPU machine: Ray schedules, the engine trains, MLflow records."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from execute_helpers import children, history, store_uri, write_sweep

from kdsweep.cli import main
from kdsweep.execute.runner import RunOptions, run_sweep
from kdsweep.plan import plan_sweep

pytestmark = pytest.mark.slow

TINY = """
base:
  seed: 0
  epochs: {epochs}
  data: {{name: digits, batch_size: 64, workers: 0, limit: {limit}, val_limit: 120}}
  student: {{arch: digits_student}}
  optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
"""


def quickstart_args(uri: str) -> list[str]:
    return ["run", str(Path(__file__).parents[2] / "sweeps" / "quickstart.yaml"), "--tracking-uri", uri,
            "-o", "epochs=2", "-o", "data.limit=256", "-o", "data.val_limit=120", "--no-system-metrics"]


def test_quickstart_end_to_end_then_rerun_trains_nothing(workdir, ray_local, capsys):
    uri = store_uri(workdir)
    assert main(quickstart_args(uri)) == 0

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("quickstart")
    assert exp is not None
    parents = client.search_runs([exp.experiment_id], filter_string="tags.`kdsweep.role` = 'sweep'")
    assert len(parents) == 1
    runs = children(uri, "quickstart")
    assert len(runs) == 8  # teacher stage + 6 grid points + the no-KD baseline
    by_name = {r.info.run_name: r for r in runs}
    assert {"teacher", "alpha=0.5 T=2", "alpha=0.9 T=8", "kd=none"} <= set(by_name)
    for run in runs:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert run.data.tags["kdsweep.sweep"] == "quickstart"
        assert len(run.data.tags["kdsweep.run_key"]) == 16
        assert run.data.params["epochs"] == "2"
        assert run.data.params["data.name"] == "digits"
        assert [s for s, _ in history(uri, run.info.run_id, "val_acc1")] == [1, 2]
        assert 0 <= run.data.metrics["best_val_acc1"] <= 100
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"config", "checkpoints", "plots"} <= artifacts
        assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/best.pt"]
    kd = by_name["alpha=0.5 T=2"]
    assert kd.data.tags["kdsweep.axis.loss.kd.T"] == "2"
    assert kd.data.tags["kdsweep.axis.loss.kd.alpha"] == "0.5"
    assert kd.data.params["loss.kd.T"] in ("2", "2.0")
    assert kd.data.params["loss.ce.weight"] == "0.5"
    assert "curves/train_loss_kd" in kd.data.metrics and "curves/train_loss_ce" in kd.data.metrics  # per epoch
    # the six KD students share the teacher and train in one fused job
    assert len({by_name[n].data.tags["kdsweep.group"] for n in by_name if "T=" in n}) == 1
    # the MLflow UI's first view (`kdsweep ui` links to it), with the sweep's parent expanded
    view = json.loads(exp.tags["mlflow.sharedViewState.kdsweep"])
    assert view["runsExpanded"] == {parents[0].info.run_id: True}
    for run in runs:  # Duration in the UI: from the training's start, not the run's creation
        started = dt.datetime.fromisoformat(run.data.tags["kdsweep.started"])
        assert run.info.start_time == int(started.timestamp() * 1000)

    capsys.readouterr()
    assert main(quickstart_args(uri)) == 0
    out = capsys.readouterr()
    assert "nothing to train" in out.err + out.out
    assert len(children(uri, "quickstart")) == 8


def test_failing_run_leaves_the_rest_finished(workdir, ray_local):
    sweep = write_sweep(workdir, "one_fails", TINY.format(epochs=2, limit=128) + """
grid:
  optim.lr: [0.05, 1.0e+30]
""")
    plan = plan_sweep(sweep, fuse=False)
    outcome = run_sweep(plan, RunOptions(tracking_uri=store_uri(workdir), system_metrics=False))
    assert outcome.exit_code == 1
    statuses = {plan.by_key[k].name: s for k, s in outcome.statuses.items()}
    assert statuses == {"lr=0.05": "FINISHED", "lr=1e+30": "FAILED"}
    runs = {r.info.run_name: r for r in children(store_uri(workdir), "one_fails")}
    failed = runs["lr=1e+30"]
    assert failed.info.status == "FAILED"
    assert "diverged" in failed.data.tags["kdsweep.reason"]
    assert runs["lr=0.05"].info.status == "FINISHED"


def test_stage_failure_marks_dependants_not_run(workdir, ray_local):
    sweep = write_sweep(workdir, "stage_fails", TINY.format(epochs=1, limit=128) + """
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}, optim: {lr: 1.0e+30}}
grid:
  loss.kd.T: [2, 4]
points:
  - {loss.kd: null}
""")
    plan = plan_sweep(sweep)
    outcome = run_sweep(plan, RunOptions(tracking_uri=store_uri(workdir), system_metrics=False))
    assert outcome.exit_code == 1
    statuses = {plan.by_key[k].name: s for k, s in outcome.statuses.items()}
    assert statuses == {"teacher": "FAILED", "T=2": "NOT_RUN", "T=4": "NOT_RUN", "kd=none": "FINISHED"}
    runs = {r.info.run_name: r for r in children(store_uri(workdir), "stage_fails")}
    assert runs["T=2"].data.tags["kdsweep.status"] == "NOT_RUN"
    assert "teacher stage teacher did not finish" in runs["T=2"].data.tags["kdsweep.reason"]


def _kill_when_checkpointed(workdir: Path, uri: str, sweep: str, killed: dict) -> None:
    """Wait for the first epoch checkpoint of the sweep's only run, then SIGKILL its worker."""
    deadline = time.time() + 180
    while time.time() < deadline and not killed:
        if any((workdir / "results" / "checkpoints" / sweep).glob("*/last.pt")):
            runs = children(uri, sweep)
            pid = runs[0].data.tags.get("kdsweep.pid") if runs else None
            if pid:
                os.kill(int(pid), signal.SIGKILL)
                killed["pid"] = int(pid)
                killed["run_id"] = runs[0].info.run_id
                return
        time.sleep(0.05)


def test_killed_worker_resumes_with_the_same_metrics(workdir, ray_local):
    body = TINY.format(epochs=5, limit=512)
    uri = store_uri(workdir)
    straight = plan_sweep(write_sweep(workdir, "straight", body))
    assert run_sweep(straight, RunOptions(tracking_uri=uri, system_metrics=False)).exit_code == 0

    killed: dict = {}
    watcher = threading.Thread(target=_kill_when_checkpointed, args=(workdir, uri, "killed", killed), daemon=True)
    watcher.start()
    plan = plan_sweep(write_sweep(workdir, "killed", body))
    outcome = run_sweep(plan, RunOptions(tracking_uri=uri, system_metrics=False))
    watcher.join(timeout=5)
    assert killed, "the worker was never killed"
    assert outcome.exit_code == 0
    (run,) = children(uri, "killed")
    (ref,) = children(uri, "straight")
    assert run.info.run_id == killed["run_id"]  # resumed in the same MLflow run
    assert int(run.data.tags["kdsweep.pid"]) != killed["pid"]  # by a new worker process
    assert run.data.tags["kdsweep.attempts"] == "2"  # Ray's retry of the dead worker counts
    for metric in ("val_acc1", "val_loss", "train_loss"):
        steps = [s for s, _ in history(uri, run.info.run_id, metric)]
        assert steps == [1, 2, 3, 4, 5], (metric, steps)  # exactly once per epoch
        got = dict(history(uri, run.info.run_id, metric))
        want = dict(history(uri, ref.info.run_id, metric))
        assert got == pytest.approx(want, rel=0, abs=1e-9), metric
    assert run.data.metrics["best_val_acc1"] == ref.data.metrics["best_val_acc1"]
