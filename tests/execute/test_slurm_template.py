"""The Slurm template (scripts/slurm/kdsweep.sbatch, docs/slurm.md) run as it is, with stand-ins for
Slurm's commands: `scontrol show hostnames` lists two fake nodes, `srun -w NODE CMD` runs CMD here as
that node, and `hostname --ip-address` answers the node's loopback address. The script starts a Ray head
and a worker, runs a sweep with `kdsweep run` against a tracking server on PostgreSQL, and stops the nodes.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
from execute_helpers import children, write_sweep
from ray_nodes import HEAD_IP, WORKER_IP, free_range, kill_all, processes_under

from kdsweep.execute.ray_security import MODE_ENV, SINGLE_MACHINE_ENV, TOKEN_ENV, TOKEN_PATH_ENV

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "scripts" / "slurm" / "kdsweep.sbatch"
NODES = {"kdnode1": HEAD_IP, "kdnode2": WORKER_IP}
STAND_INS = {
    "scontrol": """
        # scontrol show hostnames LIST: one name a line
        [ "$1 $2" = "show hostnames" ] || { echo "stand-in scontrol: only 'show hostnames'" >&2; exit 2; }
        echo "$3" | tr ',' '\\n'
    """,
    "srun": """
        # srun [--nodes=N --ntasks=N --overlap] -w NODE CMD...: CMD here, as NODE
        while [ $# -gt 0 ]; do
            case $1 in
                -w|--nodelist) node=$2; shift 2 ;;
                --nodelist=*) node=${1#*=}; shift ;;
                -*) shift ;;
                *) break ;;
            esac
        done
        FAKE_NODE=${node:?stand-in srun needs -w NODE} exec "$@"
    """,
    "hostname": """
        # hostname --ip-address: the fake node's address (FAKE_NODE_IPS: name=ip ...); else its name
        node=${FAKE_NODE:-kdnode1}
        case $1 in
            -i|-I|--ip-address|--all-ip-addresses)
                for pair in $FAKE_NODE_IPS; do if [ "${pair%%=*}" = "$node" ]; then echo "${pair#*=}"; fi; done ;;
            *) echo "$node" ;;
        esac
    """,
}
SWEEP = """
base:
  seed: 0
  epochs: 2
  data: {name: digits, batch_size: 32, workers: 0, limit: 320, val_limit: 64}
  student: {arch: digits_student}
grid:
  optim.lr: [0.02, 0.05]
"""


def stand_ins(directory: Path) -> Path:
    directory.mkdir()
    for name, body in STAND_INS.items():
        path = directory / name
        path.write_text("#!/bin/bash\n" + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return directory


def test_the_sbatch_template_runs_a_sweep_on_its_nodes_and_stops_them(mlflow_on_postgres, tmp_path):
    root = Path(tempfile.mkdtemp(prefix="kdsl", dir="/tmp"))  # the nodes' temp dirs: short socket paths
    job = str(random.randrange(10000, 99999))
    env = {k: v for k, v in os.environ.items()
           if k not in (MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV, SINGLE_MACHINE_ENV, "RAY_ADDRESS")}
    env.update(PATH=os.pathsep.join([str(stand_ins(root / "bin")), str(Path(sys.executable).parent),
                                     env["PATH"]]),
               SLURM_JOB_ID=job, SLURM_JOB_NODELIST=",".join(NODES), SLURM_CPUS_PER_TASK="1",
               FAKE_NODE_IPS=" ".join(f"{n}={ip}" for n, ip in NODES.items()), MLFLOW_TRACKING_URI=mlflow_on_postgres,
               KDSWEEP_SHARED=str(root / "shared"), KDSWEEP_RAY_TMP=str(root),
               KDSWEEP_RAY_PORT=str(free_range("0.0.0.0", 100)[0]))
    sweep = write_sweep(tmp_path, "slurm_sweep", SWEEP)
    try:
        done = subprocess.run(["bash", str(TEMPLATE), str(sweep), "--no-fuse", "--cpu-workers", "2",
                               "--no-system-metrics"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
        left = processes_under(root)
    finally:
        kill_all(processes_under(root))
        token = root / "shared" / job / "ray_token"
        token_mode = stat.S_IMODE(token.stat().st_mode) if token.exists() else None
        shutil.rmtree(root, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not left, [p.cmdline()[:2] for p in left]  # the script stopped every node it started
    assert token_mode == 0o600
    runs = children(mlflow_on_postgres, "slurm_sweep")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert {r.data.tags["kdsweep.node_ip"] for r in runs} == set(NODES.values())  # one job on each node
