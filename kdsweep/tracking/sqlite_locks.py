"""Who holds a SQLite store: a lock probe, and the stopped processes that would block everyone.

A `kdsweep run` stopped (Ctrl-Z, SIGSTOP) in the middle of a write or a read keeps its lock on the
database until it is continued or killed: in SQLite's default rollback-journal mode nobody else can
write meanwhile, and during a commit nobody can read, so every other kdsweep command would wait
minutes for "database is locked". These checks name that process in one line instead. They take
paths, not URIs, so the store module (which resolves URIs) can call them without a cycle.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from kdsweep.errors import UserError


def write_locked(db: Path, wait_s: float = 5.0) -> bool:
    """The database takes no write for `wait_s`: some process holds a lock on it."""
    return _locked(db, wait_s, "BEGIN EXCLUSIVE")  # the lock a commit needs, taken and given back


def read_locked(db: Path, wait_s: float = 5.0) -> bool:
    """The database cannot be read for `wait_s`: some process is committing (or stopped while it did)."""
    return _locked(db, wait_s, "SELECT count(*) FROM sqlite_master")


def _locked(db: Path, wait_s: float, probe: str) -> bool:
    if not db.is_file():
        return False
    with contextlib.closing(sqlite3.connect(str(db), timeout=wait_s)) as con:
        try:
            con.execute(probe).fetchall()
            con.rollback()
        except sqlite3.DatabaseError as exc:  # also "file is not a database": check_store says that one
            return "locked" in str(exc)
    return False


def stopped_with_open(db: Path) -> list[int]:
    """Processes on this machine in the stopped state (T) that have `db` open (Linux: /proc)."""
    target = str(db.resolve())
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                continue
            if any(os.readlink(fd) == target for fd in proc.joinpath("fd").iterdir()):
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return sorted(found)


def check_not_held_by_a_stopped_process(db: Path, uri: str, *, writes: bool = True, wait_s: float = 5.0) -> None:
    """UserError naming the stopped process that holds a lock on `db` (the store `uri`) that a command
    needs: any lock for one that `writes`, a commit's for one that only reads (`kdsweep status`, `ui`).

    Cheap: the probe answers at once unless the database is held; only then are this machine's
    stopped processes looked at (Linux; elsewhere the commands wait as before).
    """
    if not (write_locked(db, wait_s) if writes else read_locked(db, wait_s)):
        return
    pids = stopped_with_open(db)
    if not pids:
        return
    who = ", ".join(f"{pid} ({_command(pid)})" for pid in pids)
    first = pids[0]
    raise UserError(f"the tracking store {uri} is locked by process {who}, stopped (Ctrl-Z or SIGSTOP) while it "
                    f"used the store: nothing can {'write to' if writes else 'read'} it until that process goes on; resume it "
                    f"(kill -CONT {first}) or stop it (kill {first}), then run again")


def _command(pid: int) -> str:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(" ".join(w.decode(errors="replace") for w in words if w).split())  # one line
    return text if len(text) <= 80 else text[:77] + "..."
