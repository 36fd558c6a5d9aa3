"""Issue 22: a Ray cluster started the way a lab starts one (a head and a worker node by `ray start`, each
its own processes, temp dir and ports, on loopback, with the token of issue 25), and a sweep driven from a
third process with `kdsweep run --address`: jobs land on both nodes, the worker node killed mid-run loses
nothing (its job resumes on the head from its checkpoint in the shared directory), and nothing of the
cluster is left running after.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from execute_helpers import write_sweep
from ray_nodes import (
    HEAD_IP,
    WORKER_IP,
    free_port,
    kill_all,
    processes_under,
    ray_env,
    start_node,
    wait_for_nodes,
    write_token,
)

pytestmark = pytest.mark.slow

EPOCHS = 20
SWEEP = f"""
base:
  seed: 0
  epochs: {EPOCHS}
  data: {{name: digits, batch_size: 32, workers: 0, limit: null, val_limit: 120}}
  student: {{arch: digits_student}}
  optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
grid:
  optim.lr: [0.02, 0.03, 0.04, 0.05]
"""
EPOCH_METRICS = ("train_loss", "train_acc1", "val_loss", "val_acc1", "lr")


@pytest.fixture(scope="module")
def cluster():
    """A head (127.0.0.2) and a worker node (127.0.0.3) of 1 CPU each, under one short temp root (Ray's
    socket paths must stay under 107 bytes), with a shared directory both see. Killed by process id
    after the module, even when a test failed; the test checks that nothing was left."""
    root = Path(tempfile.mkdtemp(prefix="kdmn", dir="/tmp"))
    token = write_token(root / "token")
    port = free_port(HEAD_IP)
    env = ray_env(token)
    address = f"{HEAD_IP}:{port}"
    nodes = []
    try:
        nodes.append(start_node(root / "h", HEAD_IP, env, cpus=1, resources='{"kd_head": 1}', head_port=port))
        nodes.append(start_node(root / "w", WORKER_IP, env, cpus=1, resources='{"kd_worker": 1}', address=address))
        wait_for_nodes(address, env, 2)
        (root / "shared").mkdir()
        yield {"address": address, "env": env, "head": nodes[0], "worker": nodes[1], "root": root,
               "shared": root / "shared"}
    finally:
        kill_all(processes_under(root))
        left = processes_under(root)
        shutil.rmtree(root, ignore_errors=True)
    assert not left, [p.pid for p in left]  # an error of the module's last test if anything survived


def run_rows(db: Path) -> list[tuple[str, str, str, int]]:
    """(run id, status, node ip, epochs logged) of each run, read from SQLite without MLflow."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("""
                SELECT r.run_uuid, r.status, COALESCE(t.value, ''),
                       (SELECT count(*) FROM metrics m WHERE m.run_uuid = r.run_uuid AND m.key LIKE '%val_acc1'
                        AND m.key NOT LIKE '%best%' AND m.key NOT LIKE '%final%')
                FROM runs r JOIN tags role ON role.run_uuid = r.run_uuid AND role.key = 'kdsweep.role'
                     AND role.value = 'run'
                LEFT JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'kdsweep.node_ip'""").fetchall()
    except sqlite3.Error:
        return []


def steps(uri: str, run_id: str) -> dict[str, list[int]]:
    """Each epoch metric's logged steps (under its plain or its curves/ name)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    keys = list(client.get_run(run_id).data.metrics)
    return {m: sorted(p.step for k in keys if k == m or k.endswith("/" + m) for p in client.get_metric_history(run_id, k))
            for m in EPOCH_METRICS}


def test_a_sweep_runs_on_both_nodes_and_survives_losing_the_worker_node(cluster, tmp_path):
    shared = cluster["shared"]
    db = shared / "mlflow.db"
    uri = f"sqlite:///{db}"
    sweep = write_sweep(tmp_path, "multinode", SWEEP)
    driver = subprocess.Popen(
        [sys.executable, "-m", "kdsweep.cli", "run", str(sweep), "--address", cluster["address"], "--tracking-uri",
         uri, "--checkpoint-dir", str(shared / "checkpoints"), "--no-fuse", "--cpu-workers", "2",
         "--no-system-metrics"], cwd=tmp_path, env=cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        # Kill the worker node once one of its runs finished there and another is mid-way there.
        deadline = time.time() + 300
        while True:
            rows = run_rows(db)
            on_worker = [r for r in rows if r[2] == WORKER_IP]
            finished_there = [r for r in on_worker if r[1] == "FINISHED"]
            midway = [r for r in on_worker if r[1] == "RUNNING" and 2 <= r[3] <= EPOCHS // 2]  # time to kill it
            if finished_there and midway:
                break
            assert driver.poll() is None, driver.stdout.read()[-4000:]
            assert time.time() < deadline, rows
            time.sleep(0.2)
        killed = midway[0][0]
        cluster["worker"].kill()
        out, _ = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert driver.returncode == 0, out[-4000:]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    rows = {r[0]: r for r in run_rows(db)}
    assert len(rows) == 4 and all(status == "FINISHED" for _, status, _, _ in rows.values()), rows
    assert {ip for _, _, ip, _ in rows.values()} == {HEAD_IP, WORKER_IP}  # jobs landed on both nodes
    assert rows[killed][2] == HEAD_IP  # resumed on the head ...
    tags = client.get_run(killed).data.tags
    assert tags["kdsweep.attempts"] == "2"  # ... in the same MLflow run, so from its checkpoint (none: a new run)
    for run_id in rows:
        for metric, logged in steps(uri, run_id).items():
            assert logged == list(range(1, EPOCHS + 1)), (run_id == killed, metric, logged)  # each epoch once
    assert not cluster["worker"].processes()



def test_a_driver_without_the_token_is_refused_in_one_line(cluster, tmp_path):
    env = {k: v for k, v in cluster["env"].items() if not k.startswith("RAY_AUTH")}
    env.update(HOME=str(tmp_path), RAY_gcs_server_port_wait_time_s="2")  # no default token file; refused in 2 s
    sweep = write_sweep(tmp_path, "no_token", SWEEP)
    done = subprocess.run([sys.executable, "-m", "kdsweep.cli", "run", str(sweep), "--address", cluster["address"],
                           "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"kdsweep: error: --address: no Ray cluster at {cluster['address']} let this client in")
    assert "InvalidAuthToken" in done.stderr  # Ray's own log of why, above it
