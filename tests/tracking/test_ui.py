"""`kdsweep ui`: the mlflow server command over the sweep's store, and a real server answering for it."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from kdsweep.errors import UserError
from kdsweep.tracking.sweep import SweepTracker
from kdsweep.tracking.ui import serve, ui_command


def test_ui_command(uri, results_dir):
    cmd = ui_command(uri, str(results_dir / "mlartifacts"), port=5123)
    assert cmd[:4] == [sys.executable, "-m", "mlflow", "server"]
    args = dict(zip(cmd[4::2], cmd[5::2], strict=False))
    assert args["--backend-store-uri"] == uri
    assert args["--default-artifact-root"] == str(results_dir / "mlartifacts")
    assert (args["--host"], args["--port"]) == ("127.0.0.1", "5123")
    assert "--allowed-hosts" not in cmd  # MLflow's default already allows localhost

    assert "--default-artifact-root" not in ui_command(uri, None)
    wide = ui_command(uri, None, host="0.0.0.0")
    allowed = wide[wide.index("--allowed-hosts") + 1].split(",")
    assert socket.gethostname() in allowed and "localhost:*" in allowed and "192.168.*" in allowed
    with pytest.raises(UserError, match="is an MLflow server already"):
        ui_command("http://127.0.0.1:5000", None)
    with pytest.raises(UserError, match="is an MLflow server already"):
        serve("http://127.0.0.1:5000")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Direct children of a process, from /proc (Linux)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError):
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.split("/")[2]))
    return out


@pytest.mark.slow
def test_ui_server_lists_the_sweeps_runs(uri, plan, results_dir):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    tracker.share_first_view()
    run_ids = {p.run_id for p in tracker.prepare(plan.runs).values()}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # `kdsweep ui` as the CLI runs it: serve() with no URI finds the store through MLFLOW_TRACKING_URI.
    script = f"from kdsweep.tracking.ui import serve; serve(None, port={port})"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"mlflow server exited early:\n{proc.stdout.read()}"
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "mlflow server did not come up within 90 s"
            time.sleep(0.5)
        reply = requests.post(f"{base}/api/2.0/mlflow/runs/search",
                              json={"experiment_ids": [tracker.experiment_id], "max_results": 100}, timeout=10)
        assert reply.status_code == 200, reply.text
        listed = {r["info"]["run_id"] for r in reply.json()["runs"]}
        assert listed == run_ids | {tracker.parent_run_id}
        artifacts = requests.get(f"{base}/api/2.0/mlflow/artifacts/list",
                                 params={"run_id": sorted(run_ids)[0], "path": "config"}, timeout=10)
        assert [f["path"] for f in artifacts.json()["files"]] == ["config/resolved.yaml"]
        page = requests.get(f"{base}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
        # The page the printed link opens reads the sweep's shared view from the experiment (12.6).
        experiment = requests.get(f"{base}/api/2.0/mlflow/experiments/get",
                                  params={"experiment_id": tracker.experiment_id}, timeout=10).json()["experiment"]
        view = json.loads({t["key"]: t["value"] for t in experiment["tags"]}["mlflow.sharedViewState.kdsweep"])
        assert view["runsExpanded"] == {tracker.parent_run_id: True}

        server_groups = [os.getpgid(pid) for pid in _children(proc.pid)]
        assert server_groups, "serve() runs the mlflow server as a child process"

        # Stopped the way a process manager stops it: serve() takes its server down before it exits.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(requests.RequestException):
            requests.get(f"{base}/health", timeout=2)
        for group in server_groups:  # the server and every worker it started are gone
            with pytest.raises(ProcessLookupError):
                os.killpg(group, 0)
        printed = proc.stdout.read()
        assert (f"{plan.sweep.name}: {base}/#/experiments/{tracker.experiment_id}/runs?viewStateShareKey=kdsweep"
                "&compareRunsMode=CHART") in printed, printed[-2000:]
    finally:
        if proc.poll() is None:  # a failure above: let serve() clean up, then make sure
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()


def test_ui_on_a_taken_port_exits_2_naming_port(uri, kdsweep):
    """Port 5000 is taken on many Macs: say so and how to fix it, instead of printing a URL that is not ours."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = kdsweep("ui", "--tracking-uri", uri, "--port", port, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"kdsweep: error: port {port} on 127.0.0.1 is in use (Address already in use); "
                           f"pick another with --port, e.g. kdsweep ui --port {port + 1}\n")


def test_ui_server_env_silences_mlflows_starlette_deprecation():
    """MLflow's server imports starlette.middleware.wsgi, which warns at every start; the user cannot act on it."""
    from kdsweep.tracking.ui import ui_env

    code = ("import warnings; warnings.warn('starlette.middleware.wsgi is deprecated and will be removed', "
            "UserWarning); warnings.warn('another warning', UserWarning)")
    proc = subprocess.run([sys.executable, "-c", code], env=ui_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert "starlette" not in proc.stderr and "another warning" in proc.stderr  # only that one is silenced


def test_sweeps_open_on_their_runs_and_ui_links_them(uri, plan, results_dir):
    """Issue 12.6: MLflow 3 opens an experiment by its kind; a kdsweep sweep is model training, so the
    UI shows its runs and charts first, not the GenAI traces view. `kdsweep ui` prints each sweep's link."""
    from kdsweep.tracking import names
    from kdsweep.tracking.store import open_client
    from kdsweep.tracking.ui import experiment_links

    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    tracker.share_first_view()  # what a driver does under the sweep's lock
    experiment = open_client(uri).get_experiment(tracker.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert experiment_links(uri, "http://127.0.0.1:5000") == [
        f"  {plan.sweep.name}: http://127.0.0.1:5000/#/experiments/{tracker.experiment_id}/runs"
        "?viewStateShareKey=kdsweep&compareRunsMode=CHART&workflowType=machine_learning"]
    # A sweep an older kdsweep wrote has no shared view: its link opens the runs, charted, all the same.
    open_client(uri).delete_experiment_tag(tracker.experiment_id, "mlflow.sharedViewState.kdsweep")
    assert experiment_links(uri, "http://x")[0].endswith(
        f"/#/experiments/{tracker.experiment_id}/runs?compareRunsMode=CHART&workflowType=machine_learning")
    # An experiment made before the tag existed gets it the next time the sweep runs.
    open_client(uri).delete_experiment_tag(tracker.experiment_id, names.MLFLOW_EXPERIMENT_KIND)
    SweepTracker(uri, plan, results_dir=results_dir)
    assert open_client(uri).get_experiment(tracker.experiment_id).tags[names.MLFLOW_EXPERIMENT_KIND] == \
        names.EXPERIMENT_KIND_TRAINING
