"""Ctrl-C: `kdsweep run` stops cleanly (exit 130, runs KILLED) and the same command picks up where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from execute_helpers import children, history, store_uri, write_sweep

pytestmark = pytest.mark.slow

BODY = """
base:
  epochs: 4
  data: {name: digits, batch_size: 32, workers: 0, limit: 320, val_limit: 120}
  student: {arch: digits_student}
grid:
  optim.lr: [0.02, 0.05]
"""


def kdsweep(*args: str) -> list[str]:
    return [sys.executable, "-m", "kdsweep.cli", *args]


def test_ctrl_c_kills_then_the_same_command_resumes(workdir):
    sweep = write_sweep(workdir, "interrupted", BODY)
    uri = store_uri(workdir)
    cmd = kdsweep("run", str(sweep), "--tracking-uri", uri, "--no-system-metrics")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.time() + 240
    try:
        while time.time() < deadline:  # wait until the first epoch of a run is in MLflow
            try:
                runs = children(uri, "interrupted")
            except Exception:
                runs = []
            if any(history(uri, r.info.run_id, "val_acc1") for r in runs):
                break
            time.sleep(0.2)
        else:
            pytest.fail("no epoch was logged in time")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out
    assert "Traceback" not in out
    first = {r.info.run_name: r for r in children(uri, "interrupted")}
    assert {r.data.tags["kdsweep.status"] for r in first.values()} <= {"KILLED", "FINISHED"}
    assert "KILLED" in {r.data.tags["kdsweep.status"] for r in first.values()}
    assert "KILLED" in {r.info.status for r in first.values()}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    (parent,) = client.search_runs([client.get_experiment_by_name("interrupted").experiment_id],
                                   "tags.`kdsweep.role` = 'sweep'")
    assert parent.info.status == "KILLED"  # the sweep was stopped, not finished

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stdout + again.stderr
    second = {r.info.run_name: r for r in children(uri, "interrupted")}
    assert {n: r.info.run_id for n, r in second.items()} == {n: r.info.run_id for n, r in first.items()}
    for run in second.values():
        assert run.info.status == "FINISHED"
        assert sorted({s for s, _ in history(uri, run.info.run_id, "val_acc1")}) == [1, 2, 3, 4]
