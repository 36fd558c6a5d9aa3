"""Ray nodes as a lab starts them (`ray start`, separate processes), on loopback addresses, for the
multi-node and Slurm tests: explicit ports, a short temp dir per node, the token of issue 25, and
stopping by process id (never `ray stop`, which stops every Ray cluster of this user on the machine).
"""

from __future__ import annotations

import os
import random
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from kdsweep.execute.ray_security import MODE_ENV, SINGLE_MACHINE_ENV, TOKEN_ENV, TOKEN_PATH_ENV

RAY = str(Path(sys.executable).with_name("ray"))
# Each node on its own loopback address: Ray turns 127.0.0.1 into the machine's own address on a node
# that may join others, but keeps any other 127/8 address, so no test traffic leaves loopback.
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
# Node deaths noticed in ~3 s instead of Ray's default ~15 s (the GCS health check).
FAST_FAILURE = {"RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
                "RAY_health_check_failure_threshold": "3", "RAY_gcs_server_port_wait_time_s": "5"}


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def free_range(ip: str, size: int = 40) -> tuple[int, int]:
    """`size` consecutive ports that are free now, below the kernel's ephemeral range."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - size)
        try:
            held = []
            for port in range(base, base + size):
                s = socket.socket()
                held.append(s)
                s.bind((ip, port))
            return base, base + size - 1
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no free port range")


def write_token(path: Path) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path


def ray_env(token: Path, **extra: str) -> dict[str, str]:
    """This environment with the cluster's token (and nothing of another cluster's)."""
    env = {k: v for k, v in os.environ.items()
           if k not in (MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV, SINGLE_MACHINE_ENV, "RAY_ADDRESS")}
    env.update({MODE_ENV: "token", TOKEN_PATH_ENV: str(token), **FAST_FAILURE, **extra})
    return env


def node_ports(ip: str) -> list[str]:
    """Every port a node listens on, explicit (users sharing a node collide on Ray's defaults)."""
    low, high = free_range(ip)
    return ["--node-manager-port", str(free_port(ip)), "--object-manager-port", str(free_port(ip)),
            "--min-worker-port", str(low), "--max-worker-port", str(high),
            "--dashboard-agent-listen-port", str(free_port(ip)), "--dashboard-agent-grpc-port", str(free_port(ip)),
            "--runtime-env-agent-port", str(free_port(ip)), "--metrics-export-port", str(free_port(ip))]


@dataclass
class Node:
    """One `ray start` node: the processes under its cluster's temp root started for its address (Ray
    2.52 gives a worker node the head's temp dir whatever --temp-dir says; 2.60 its own)."""

    temp_dir: Path
    ip: str
    env: dict[str, str] = field(repr=False)

    def processes(self) -> list[psutil.Process]:
        mine = re.compile(rf"node[-_]ip[-_]address[= ]{re.escape(self.ip)}\b")
        return processes_under(self.temp_dir.parent, lambda line: bool(mine.search(line)))

    def kill(self) -> None:
        kill_all(self.processes())


def processes_under(directory: Path, also: Callable[[str], bool] = lambda line: True) -> list[psutil.Process]:
    """Processes whose command line names `directory` (Ray's daemons get their session dir) and passes
    `also`, with their descendants (the workers a raylet starts)."""
    text = str(directory)
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        line = " ".join(proc.info["cmdline"] or ())
        if text in line and also(line):
            found[proc.pid] = proc
            try:
                found.update({c.pid: c for c in proc.children(recursive=True)})
            except psutil.Error:
                pass
    return list(found.values())


def kill_all(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=15)


def start_node(temp_dir: Path, ip: str, env: dict[str, str], *, cpus: int, resources: str,
               head_port: int | None = None, address: str | None = None) -> Node:
    """`ray start --head` (head_port) or `ray start --address` (address) on `ip`, not blocking."""
    role = ["--head", "--port", str(head_port), "--dashboard-port", str(free_port(ip)),
            "--ray-client-server-port", str(free_port(ip)), "--include-dashboard", "false"] \
        if head_port else ["--address", address]
    cmd = [RAY, "start", *role, "--node-ip-address", ip, "--num-cpus", str(cpus), "--num-gpus", "0",
           "--resources", resources, "--temp-dir", str(temp_dir), "--disable-usage-stats", *node_ports(ip)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    if done.returncode != 0:
        kill_all(processes_under(temp_dir))
        raise RuntimeError(f"ray start failed: {done.stderr[-3000:]}")
    return Node(temp_dir, ip, env)


def wait_for_nodes(address: str, env: dict[str, str], count: int, timeout_s: float = 120) -> None:
    """Until `count` nodes are alive, asked as a client with the token would ask."""
    probe = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False, logging_level='error'); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.time() + timeout_s
    while True:
        out = subprocess.run([sys.executable, "-c", probe, address], capture_output=True, text=True, env=env,
                             timeout=120)
        if out.returncode == 0 and out.stdout.strip() == str(count):
            return
        if time.time() > deadline:
            raise RuntimeError(f"{count} nodes not alive at {address}: {out.stdout} {out.stderr[-2000:]}")
        time.sleep(1)
