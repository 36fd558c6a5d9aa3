"""`kdsweep ui`: MLflow's own web UI over the store a sweep wrote to.

The command line is built here (and not left to the user) so the UI reads the same store and
artifact root that `kdsweep run` resolved: a UI started on the default `./mlflow.db` would
show an empty page.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from kdsweep.errors import UserError
from kdsweep.tracking.store import check_store, default_artifact_root, resolve_tracking_uri

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
# MLflow 3's server refuses requests whose Host header it does not expect (DNS-rebinding guard).
# Its default allows localhost and private addresses; `--allowed-hosts` replaces that default,
# so when binding another interface we pass the default plus the names it will be reached by.
_DEFAULT_ALLOWED = ("localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[[]::1]:*",
                    "10.*", "192.168.*", *(f"172.{i}.*" for i in range(16, 32)))


def _allowed_hosts(host: str) -> list[str]:
    import socket

    hosts = [host]
    if host in ("0.0.0.0", "::"):
        hosts = [socket.gethostname(), socket.getfqdn()]
    extra = [h for name in dict.fromkeys(hosts) if name for h in (name, f"{name}:*")]
    return [*_DEFAULT_ALLOWED, *extra]


def ui_command(uri: str, artifact_root: str | None, host: str = "127.0.0.1", port: int = 5000, *,
               workers: int = 1) -> list[str]:
    """`python -m mlflow server` over `uri`, in this interpreter's environment (the MLflow kdsweep uses)."""
    if urlparse(uri).scheme in ("http", "https"):
        raise UserError(f"the tracking store {uri} is an MLflow server already: open {uri} in a browser "
                        "(kdsweep ui starts a server only over a database or file store)")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
           "--host", host, "--port", str(int(port)), "--workers", str(int(workers))]
    if artifact_root:
        cmd += ["--default-artifact-root", artifact_root]
    if host not in LOCAL_HOSTS:
        cmd += ["--allowed-hosts", ",".join(_allowed_hosts(host))]
    return cmd


def serve(uri: str | None = None, artifact_root: str | None = None, host: str = "127.0.0.1", port: int = 5000,
          *, results_dir: Path = Path("results")) -> int:
    """Run the UI in the foreground until Ctrl-C; returns the server's exit code (0 after Ctrl-C).

    `uri` is the --tracking-uri value or None (MLFLOW_TRACKING_URI, else the default store),
    resolved exactly as `kdsweep run` resolves it; the artifact root likewise defaults to the
    store's own (results/mlartifacts for the default store).
    """
    uri = resolve_tracking_uri(uri, results_dir)
    if artifact_root is None:
        artifact_root = default_artifact_root(uri, results_dir)
    cmd = ui_command(uri, artifact_root, host, port)  # an http store is refused before anything else
    check_port(host, port)
    check_store(uri, writes=False)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    print(f"MLflow UI for {uri}: {base} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    for line in experiment_links(uri, base):
        print(line, file=sys.stderr, flush=True)
    # Its own process group: the server starts workers of its own, and all of them go when the UI stops.
    proc = subprocess.Popen(cmd, env=ui_env(), start_new_session=True)
    previous = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C (the server is in its own group, so only we get it) or a process manager's SIGTERM:
        # take the server down too instead of orphaning it.
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_group(proc)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def experiment_links(uri: str, base: str) -> list[str]:
    """`  quickstart: http://127.0.0.1:5000/#/experiments/1/runs?viewStateShareKey=kdsweep&...`: each
    sweep's runs and curves, opened on the view its driver shared (tracking/view.py). MLflow 3.17's UI
    reads its GenAI / Model training switch from the URL (and then ignores the experiment's kind
    tag), so the link asks for the runs view itself; checked in headless Chromium against a
    quickstart store."""
    from kdsweep.tracking import names
    from kdsweep.tracking.store import open_client, with_retry
    from kdsweep.tracking.view import view_query

    try:
        experiments = with_retry(open_client(uri).search_experiments, max_results=1000)
    except Exception:  # a link list is a convenience; the server itself says what is wrong
        return []
    return [f"  {e.name}: {base}/#/experiments/{e.experiment_id}/runs?{view_query(e.tags)}" for e in experiments
            if names.TAG_SWEEP in e.tags]


def check_port(host: str, port: int) -> None:
    """Exit 2 with the fix when the port is taken (5000 is, on many Macs: AirPlay), instead of printing
    the URL and then uvicorn's "address already in use". Bound the way the server binds (SO_REUSEADDR)."""
    import socket

    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(f"port {port} on {host} is in use ({exc.strerror}); pick another with --port, "
                            f"e.g. kdsweep ui --port {int(port) + 1}") from None


# Warnings the server prints at every start that a kdsweep user can do nothing about: MLflow's own
# use of a deprecated Starlette module (a message filter, so the check imports nothing).
QUIET_WARNINGS = ("ignore:starlette.middleware.wsgi is deprecated",)


def ui_env() -> dict[str, str]:
    """The server's environment. MLflow 3's server also starts a job runner and seven worker processes
    for its GenAI jobs (judges, trace archival), which kdsweep never uses and which outlive an
    interrupted server; they are off unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION says otherwise."""
    env = dict(os.environ)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS", ""), *QUIET_WARNINGS) if w)
    return env


def _stop_group(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM to the server's process group (graceful), SIGKILL to whatever is left after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
