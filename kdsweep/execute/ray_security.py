"""Who may use the Ray clusters kdsweep starts or joins: a token, and loopback for the local one.

Ray runs whatever a client sends it, so a cluster that answers without a token is remote code
execution for anyone who can reach its ports. Ray has token authentication from 2.52 (the floor in
pyproject.toml) but turns it on by itself only for a local `ray.init()` and only from 2.59, not for
`ray start` nodes or clients of a given address, and it writes its default token file
(~/.ray/auth_token) with the process's umask (0644 here). So kdsweep turns it on itself:
`RAY_AUTH_MODE=token` with a token file only its owner can read, for every cluster it starts, on
every Ray version it accepts. It never sets the mode to anything else.

The embedded single-machine cluster also listens on 127.0.0.1 only: Ray picks the node's address
from `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` when it is imported (off: the loopback address, as on a
Mac), and then binds its GCS, raylet, workers and agents there instead of every interface.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from kdsweep.errors import UserError

MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
# Read by Ray when it is imported: off = a single-machine cluster on the loopback address.
SINGLE_MACHINE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
TOKEN_FILE = Path("~/.kdsweep/ray_auth_token")  # the embedded cluster's token unless the user gave one

log = logging.getLogger(__name__)


def token_file(path: Path = TOKEN_FILE) -> Path:
    """The token file at `path`, created (a random 256-bit token, mode 0600 in a 0700 directory) if
    missing; refused in one line if others may read it (its token may have leaked)."""
    path = path.expanduser()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        check_private(path)
        return path
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return path


def check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"this Ray token file can be read by other users (mode {mode:04o}), so its token may have "
                        f"leaked: delete it (kdsweep makes a new one) or chmod 600 it", where=str(path))


def _user_token(env: MutableMapping[str, str]) -> bool:
    """The user named a token (Ray reads RAY_AUTH_TOKEN first, then RAY_AUTH_TOKEN_PATH)."""
    if env.get(TOKEN_ENV):
        return True
    if env.get(TOKEN_PATH_ENV):
        path = Path(env[TOKEN_PATH_ENV]).expanduser()
        if not path.is_file():
            raise UserError("no such file; point it at the cluster's token file or unset it",
                            where=f"{TOKEN_PATH_ENV}={env[TOKEN_PATH_ENV]}")
        check_private(path)
        return True
    return False


def secure_local_cluster(env: MutableMapping[str, str] = os.environ) -> None:
    """Before kdsweep starts its own cluster: token mode, with the user's token or kdsweep's file."""
    if env.get(MODE_ENV, "token").lower() != "token":
        log.warning("%s=%s is ignored for the cluster kdsweep starts: it always requires a token", MODE_ENV,
                    env[MODE_ENV])
    env[MODE_ENV] = "token"
    if not _user_token(env):
        env[TOKEN_PATH_ENV] = str(token_file())
    _refresh_ray_config()


def secure_client(env: MutableMapping[str, str] = os.environ) -> None:
    """Before joining a cluster at an address: a token the user gave turns token mode on (Ray does not
    for an explicit address). Without one, nothing changes: an open cluster is the user's choice."""
    if _user_token(env) and MODE_ENV not in env:
        env[MODE_ENV] = "token"
        _refresh_ray_config()


def _refresh_ray_config() -> None:
    """Ray reads RAY_AUTH_MODE into its config when it is imported; a process that imported Ray before
    (a notebook, a test) re-reads it, as Ray itself does when it turns token mode on."""
    if "ray" not in sys.modules:
        return
    with contextlib.suppress(ImportError, AttributeError):
        from ray._raylet import Config

        Config.initialize("")


@contextlib.contextmanager
def loopback_only(env: MutableMapping[str, str] = os.environ) -> Iterator[None]:
    """While the embedded cluster starts: its node address is 127.0.0.1, so it listens there only. Takes
    effect where Ray is imported inside (the CLI); restored after, so that nodes this process starts
    later with `ray start` may join other machines."""
    before = env.get(SINGLE_MACHINE_ENV)
    env[SINGLE_MACHINE_ENV] = "0"
    try:
        yield
    finally:
        if before is None:
            env.pop(SINGLE_MACHINE_ENV, None)
        else:
            env[SINGLE_MACHINE_ENV] = before
