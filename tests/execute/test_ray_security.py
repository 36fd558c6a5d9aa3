"""Issue 25: every Ray cluster kdsweep starts requires a token, and its local one listens on loopback only."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.execute.ray_security import (
    MODE_ENV,
    SINGLE_MACHINE_ENV,
    TOKEN_ENV,
    TOKEN_PATH_ENV,
    loopback_only,
    secure_client,
    secure_local_cluster,
    token_file,
)

REPO = Path(__file__).resolve().parents[2]
AUTH_VARS = (MODE_ENV, TOKEN_ENV, TOKEN_PATH_ENV, "RAY_ADDRESS")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_token_file_is_made_once_for_its_owner_only(tmp_path):
    path = token_file(tmp_path / "kd" / "token")
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    token = path.read_text()
    assert len(token) == 64 and int(token, 16) >= 0  # 256 random bits, hex
    assert token_file(path).read_text() == token  # kept: nodes and clients started later share it


def test_a_token_file_others_can_read_is_refused_in_one_line(tmp_path):
    path = token_file(tmp_path / "token")
    path.chmod(0o644)
    with pytest.raises(UserError) as refused:
        token_file(path)
    text = str(refused.value)
    assert text.startswith(str(path)) and "0644" in text and "chmod 600" in text and "\n" not in text


def test_the_local_cluster_always_requires_a_token(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {MODE_ENV: "disabled"}  # the user's opt-out is not taken for a cluster kdsweep starts
    with caplog.at_level(logging.WARNING):
        secure_local_cluster(env)
    assert env[MODE_ENV] == "token" and "ignored" in caplog.text
    assert Path(env[TOKEN_PATH_ENV]) == tmp_path / ".kdsweep" / "ray_auth_token"
    assert mode(Path(env[TOKEN_PATH_ENV])) == 0o600

    given = {TOKEN_ENV: "the-users-own"}  # a token the user gave is used as it is
    secure_local_cluster(given)
    assert given == {TOKEN_ENV: "the-users-own", MODE_ENV: "token"}


def test_joining_a_cluster_uses_the_token_given_and_weakens_nothing(tmp_path, monkeypatch):
    path = token_file(tmp_path / "token")
    env = {TOKEN_PATH_ENV: str(path)}
    secure_client(env)
    assert env[MODE_ENV] == "token"
    plain: dict[str, str] = {}
    secure_client(plain)  # no token: the cluster decides (an authenticated one refuses this client)
    assert plain == {}
    with pytest.raises(UserError, match=f"^{TOKEN_PATH_ENV}=.*missing: no such file"):
        secure_client({TOKEN_PATH_ENV: str(tmp_path / "missing")})


def test_loopback_only_restores_the_environment():
    env = {SINGLE_MACHINE_ENV: "1"}
    with loopback_only(env):
        assert env[SINGLE_MACHINE_ENV] == "0"
    assert env == {SINGLE_MACHINE_ENV: "1"}


# The real code path: `kdsweep run` starts its cluster with runner._init_ray, in a fresh interpreter
# (Ray not yet imported, as in the CLI), and reports the sockets its process tree listens on.
CLUSTER = textwrap.dedent("""
    import json, os, sys
    import psutil
    from kdsweep.execute.runner import RunOptions, _init_ray

    _init_ray(RunOptions(num_cpus=1, num_gpus=0))
    import ray

    tree = [psutil.Process(), *psutil.Process().children(recursive=True)]
    listening = sorted({(c.laddr.ip, c.laddr.port, p.name()) for p in tree for c in p.net_connections("tcp")
                        if c.status == psutil.CONN_LISTEN})
    print(json.dumps({"address": ray.get_runtime_context().gcs_address, "listening": listening,
                      "token_path": os.environ["RAY_AUTH_TOKEN_PATH"]}), flush=True)
    sys.stdin.read()  # until the test closes stdin
""")
CLIENT = "import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); print(ray.cluster_resources()['CPU'])"


def client(address: str, home: Path, **auth: str) -> subprocess.CompletedProcess:
    """A Ray client in a fresh process with only the auth variables given (and no default token file)."""
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    # Ray turns a loopback address into the machine's own before connecting unless told, as kdsweep
    # tells its cluster, that this is a single-machine cluster: only a client on this machine can.
    env.update({SINGLE_MACHINE_ENV: "0"}, HOME=str(home), RAY_gcs_server_port_wait_time_s="2", **auth)
    # (the wait: a refusal takes 2 s, not 20)
    return subprocess.run([sys.executable, "-c", CLIENT, address], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.slow
def test_the_embedded_cluster_refuses_a_client_without_the_token_and_listens_on_loopback(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in AUTH_VARS}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = cluster.stdout.readline()
        assert line, cluster.stderr.read()[-3000:]
        info = json.loads(line)
        token = Path(info["token_path"])
        assert token == home / ".kdsweep" / "ray_auth_token" and mode(token) == 0o600
        assert info["address"].startswith("127.0.0.1:")
        open_to_others = [entry for entry in info["listening"] if entry[0] not in ("127.0.0.1", "::ffff:127.0.0.1")]
        assert not open_to_others, open_to_others
        assert any(name == "gcs_server" for _, _, name in info["listening"]), info["listening"]

        refused = client(info["address"], home)
        assert refused.returncode != 0 and "Authentication token is missing or incorrect" in refused.stderr, \
            refused.stderr[-2000:]
        wrong = client(info["address"], home, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="0" * 64)
        assert wrong.returncode != 0 and "Authentication token is missing or incorrect" in wrong.stderr
        accepted = client(info["address"], home, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
        assert accepted.returncode == 0 and accepted.stdout.strip() == "1.0", accepted.stderr[-2000:]
    finally:
        cluster.stdin.close()
        cluster.wait(timeout=60)
