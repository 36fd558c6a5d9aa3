"""A real PostgreSQL server in a temp dir on 127.0.0.1, and `mlflow server` on it, for the tests of
MLflow on a database (issue 22). Debian's `postgresql` package provides the binaries (the Makefile's
setup installs it where apt-get can); PostgreSQL refuses to run as root, so as root its processes run
as the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from kdsweep.tracking.ui import ui_command, ui_env


def pg_bin() -> Path | None:
    """The directory of initdb / pg_ctl: on the PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _as_user() -> dict:
    """subprocess arguments that drop root to the `postgres` user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@dataclass
class Postgres:
    bindir: Path
    data: Path
    port: int

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/mlflow"

    def stop(self) -> None:
        subprocess.run([str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w"],
                       capture_output=True, timeout=60, **_as_user())


def start_postgres(root: Path, port: int) -> Postgres:
    """initdb + pg_ctl start: trust on loopback only (a test server), its socket in the data dir, then
    the `mlflow` database."""
    bindir = pg_bin()
    assert bindir is not None, "PostgreSQL is not installed (make setup installs Debian's postgresql)"
    data = root / "pgdata"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        os.chown(data, user.pw_uid, user.pw_gid)
    run = {"capture_output": True, "text": True, "timeout": 120, "cwd": root, **_as_user()}
    done = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                           "--no-sync", "-E", "UTF8"], **run)
    assert done.returncode == 0, done.stderr[-2000:]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={data} -c fsync=off"
    done = subprocess.run([str(bindir / "pg_ctl"), "start", "-D", str(data), "-w", "-l", str(data / "log"),
                           "-o", options], **run)
    assert done.returncode == 0, done.stderr[-2000:] + (data / "log").read_text()[-2000:]
    server = Postgres(bindir, data, port)
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True) as con:
        con.execute("CREATE DATABASE mlflow")
    return server


@dataclass
class MlflowServer:
    proc: subprocess.Popen
    port: int

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_mlflow(store_uri: str, artifacts: Path, port: int, log: Path) -> MlflowServer:
    """`mlflow server` over the database, as `kdsweep ui` builds its command (127.0.0.1, one worker), in
    its own process group so that all its processes stop together."""
    with open(log, "w") as out:
        proc = subprocess.Popen(ui_command(store_uri, str(artifacts), "127.0.0.1", port), env=ui_env(),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = MlflowServer(proc, port)
    deadline = time.time() + 120
    while True:
        try:
            if requests.get(f"{server.uri}/health", timeout=2).ok:
                return server
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.time() > deadline:
            server.stop()
            raise RuntimeError(f"mlflow server did not start: {log.read_text()[-3000:]}")
        time.sleep(0.5)
