"""Who holds a SQLite store: the stopped processes that would block everyone else.

A `kdsweep run` stopped (Ctrl-Z, SIGSTOP) in the middle of a write or a read keeps its lock on the
database until it is continued or killed: in SQLite's default rollback-journal mode nobody else can
write meanwhile, and during a commit nobody can read, so every other kdsweep command would wait
minutes for "database is locked". These checks name that process in one line instead.

The kernel's lock table (`/proc/locks`, Linux) says which process holds which byte range of which
file, so the check neither takes a lock nor waits: a stopped process that merely has the file open
is not blamed, and nobody else is held up while it looks. Elsewhere (no `/proc/locks`) it finds
nothing and the commands wait as before. It takes paths, not URIs, so the store module (which
resolves URIs) can call it without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

from kdsweep.errors import UserError

# SQLite's lock bytes (its os_unix.c): RESERVED is a write lock on the byte after PENDING; a reader
# waits only for PENDING or EXCLUSIVE (a write lock on PENDING or on the SHARED range after it).
PENDING_BYTE = 0x40000000
RESERVED_BYTE = PENDING_BYTE + 1
LOCK_TABLE = Path("/proc/locks")


def _file_key(path: Path) -> str | None:
    """How /proc/locks names a file: `MAJOR:MINOR:INODE`, the device numbers in hex."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"


def _locks() -> list[tuple[int, str, str, int]]:
    """(pid, READ / WRITE, file key, first byte) of every POSIX lock held (waiters left out)."""
    try:
        lines = LOCK_TABLE.read_text().splitlines()
    except OSError:
        return []
    held = []
    for line in lines:
        f = line.split()
        if len(f) < 7 or "->" in f or f[1] not in ("POSIX", "OFDLCK"):
            continue  # `->`: a process waiting for the lock, not holding it
        try:
            held.append((int(f[4]), f[3], f[5], int(f[6])))
        except ValueError:
            continue
    return held


def is_stopped(pid: int) -> bool:
    """Linux: the process is stopped (state T), e.g. by Ctrl-Z; False where that cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def stopped_holders(db: Path, *, writes: bool = True) -> list[int]:
    """Stopped processes holding a lock on `db` that holds up a command that `writes` (any lock on the
    database or, in WAL mode, on its `-shm` file), or one that only reads (a pending or exclusive lock)."""
    main = _file_key(db)
    if main is None:
        return []
    keys = {main} | ({k} if writes and (k := _file_key(db.with_name(db.name + "-shm"))) else set())
    pids = {pid for pid, kind, key, start in _locks()
            if key in keys and (writes or (key == main and kind == "WRITE" and start != RESERVED_BYTE))}
    return sorted(pid for pid in pids if pid != os.getpid() and is_stopped(pid))


def check_not_held_by_a_stopped_process(db: Path, uri: str, *, writes: bool = True) -> None:
    """UserError naming the stopped process whose lock on `db` (the store `uri`) holds this command up."""
    pids = stopped_holders(db, writes=writes)
    if not pids:
        return
    who = ", ".join(f"{pid} ({_command(pid)})" for pid in pids)
    first = pids[0]
    raise UserError(f"the tracking store {uri} is locked by process {who}, stopped (Ctrl-Z or SIGSTOP) while it "
                    f"used the store: nothing can {'write to' if writes else 'read'} it until that process goes "
                    f"on; resume it (kill -CONT {first}) or stop it (kill {first}), then run again")


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(" ".join(w.decode(errors="replace") for w in words if w).split())  # one line
    return text if len(text) <= 80 else text[:77] + "..."
