"""MLflow on PostgreSQL (issue 22): a real PostgreSQL server and `mlflow server` on it, both on 127.0.0.1
(conftest.py's mlflow_on_postgres, shared with the Slurm test), and the faults of test_faults.py repeated against
`--tracking-uri http://127.0.0.1:PORT`: drivers racing on a new sweep (one trains, the others are
refused or find nothing to do), and a driver killed mid-run whose sweep the next `kdsweep run` (with Ray)
finishes. Nothing is trained or logged twice.

On a server store the sweep's lock has no file lock to lean on (tracking/lock.py): a driver writes its
claim (the parent run's kdsweep.active tag and a raised kdsweep.generation), waits SweepLock.CONFIRM_S
and reads the tags back; it holds the sweep only if its own claim is still there, and every job it
starts is fenced by that generation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from execute_helpers import children, write_sweep

pytestmark = pytest.mark.slow

BODY = """
base:
  epochs: {epochs}
  data: {{name: digits, batch_size: 32, workers: 0, limit: {limit}, val_limit: 64}}
  student: {{arch: digits_student}}
  train: {{threads: 1}}
"""
EPOCH_METRICS = ("train_loss", "train_acc1", "val_loss", "val_acc1", "lr")


def driver_args(sweep: Path, uri: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kdsweep.cli", "run", str(sweep), "--tracking-uri", uri, "--no-system-metrics",
            *extra]


def check_exactly_once(uri: str, run_id: str, epochs: int) -> None:
    """Every epoch metric (under its plain or its curves/ name) holds steps 1..epochs, each once."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    keys = list(client.get_run(run_id).data.metrics)
    for metric in EPOCH_METRICS:
        steps = sorted(p.step for k in keys if k == metric or k.endswith("/" + metric)
                       for p in client.get_metric_history(run_id, k))
        assert steps == list(range(1, epochs + 1)), (metric, steps)


def test_a_sweep_on_mlflow_over_postgres_with_drivers_racing(mlflow_on_postgres, tmp_path):
    server = mlflow_on_postgres
    """Three `kdsweep run` of one new sweep at once against the server: exactly one trains, each other
    is refused in one line (or, arriving after it finished, finds nothing to train)."""
    sweep = write_sweep(tmp_path, "pg_race", BODY.format(epochs=3, limit=960))
    procs = [subprocess.Popen(driver_args(sweep, server, "--inline"), cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    trained = [p for p, (out, err) in zip(procs, outs, strict=True) if "1 run(s) to train" in out + err]
    assert len(trained) == 1 and trained[0].returncode == 0, [o[1][-2000:] for o in outs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err, err[-3000:]
        if proc is trained[0]:
            continue
        if proc.returncode == 2:
            assert err.startswith("kdsweep: error: sweep pg_race is already running in process"), err
            assert err.count("\n") == 1, err
        else:
            assert proc.returncode == 0 and "nothing to train" in out + err, err[-2000:]
    (run,) = children(server, "pg_race")
    assert run.info.status == "FINISHED"
    check_exactly_once(server, run.info.run_id, 3)


def test_a_killed_driver_loses_nothing_and_trains_nothing_twice(mlflow_on_postgres, tmp_path):
    server = mlflow_on_postgres
    """SIGKILL after epoch 2's checkpoint is written and before it is logged; the next `kdsweep run`
    (Ray workers logging to the server) takes the dead driver's lock at once and resumes the same run
    from the checkpoint: epoch 2 logged once, from the checkpoint, and the rest after it."""
    sweep = write_sweep(tmp_path, "pg_killed", BODY.format(epochs=3, limit=320))
    killed = subprocess.run(driver_args(sweep, server, "--inline"), cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "KDSWEEP_FAULT_KILL_AFTER_SAVE": "2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (before,) = children(server, "pg_killed")

    resumed = subprocess.run(driver_args(sweep, server, "--cpu-workers", "1"), cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (run,) = children(server, "pg_killed")
    assert run.info.run_id == before.info.run_id and run.info.status == "FINISHED"
    assert run.data.tags["kdsweep.attempts"] == "2" and run.data.tags["kdsweep.ray_node"]  # trained by Ray
    check_exactly_once(server, run.info.run_id, 3)
