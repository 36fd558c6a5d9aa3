"""The sweep lock: one live `kdsweep run` per sweep and store, dead holders taken over."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.tracking import names
from kdsweep.tracking.lock import SweepLock
from kdsweep.tracking.sweep import SweepTracker


@pytest.fixture(autouse=True)
def quick_confirm(monkeypatch):
    monkeypatch.setattr(SweepLock, "CONFIRM_S", 0.05)


@pytest.fixture
def tracker(uri, plan, results_dir) -> SweepTracker:
    return SweepTracker(uri, plan, results_dir=results_dir)


def _tags(client, tracker) -> dict[str, str]:
    return client.get_run(tracker.parent_run_id).data.tags


def _claim(client, tracker, host: str, pid: int, age_s: float) -> None:
    client.set_tag(tracker.parent_run_id, names.TAG_ACTIVE, f"{host}:{pid}:{time.time() - age_s:.3f}")
    client.set_tag(tracker.parent_run_id, names.TAG_ACTIVE_SINCE, "2026-01-02 03:04:05 UTC")


def test_lock_holds_beats_and_releases(tracker, client, uri, plan, results_dir):
    with tracker.lock(heartbeat_s=0.1):
        tags = _tags(client, tracker)
        host, pid, beat = tags[names.TAG_ACTIVE].rsplit(":", 2)
        assert (host, int(pid)) == (socket.gethostname(), os.getpid())
        assert client.get_run(tracker.parent_run_id).info.status == "RUNNING"
        time.sleep(0.5)
        assert float(_tags(client, tracker)[names.TAG_ACTIVE].rsplit(":", 1)[1]) > float(beat)  # refreshed

        # A second tracker of the same sweep, even in this process, is refused.
        with pytest.raises(UserError) as exc:
            with SweepTracker(uri, plan, results_dir=results_dir).lock():
                pass
        message = str(exc.value)
        assert message.startswith(f"sweep tiny is already running in process {os.getpid()} on {socket.gethostname()}")
        assert f"(store {uri})" in message and "--force" in message and "\n" not in message
    tags = _tags(client, tracker)
    assert names.TAG_ACTIVE not in tags and names.TAG_ACTIVE_SINCE not in tags
    assert client.get_run(tracker.parent_run_id).info.status == "FINISHED"

    with pytest.raises(RuntimeError):
        with tracker.lock():
            raise RuntimeError("the executor crashed")
    assert client.get_run(tracker.parent_run_id).info.status == "FAILED"
    assert names.TAG_ACTIVE not in _tags(client, tracker)
    with tracker.lock():  # and it can be taken again
        pass


def test_live_holder_elsewhere_refuses_stale_one_is_taken_over(tracker, client):
    _claim(client, tracker, "gpu-node-7", 4242, age_s=5)
    with pytest.raises(UserError) as exc:
        with tracker.lock(stale_after_s=60):
            pass
    assert str(exc.value).startswith(
        "sweep tiny is already running in process 4242 on gpu-node-7 since 2026-01-02 03:04:05 UTC (store sqlite:///")
    assert _tags(client, tracker)[names.TAG_ACTIVE].startswith("gpu-node-7:4242:")  # untouched

    with tracker.lock(force=True):  # --force takes it regardless
        assert _tags(client, tracker)[names.TAG_ACTIVE].startswith(f"{socket.gethostname()}:{os.getpid()}:")

    _claim(client, tracker, "gpu-node-7", 4242, age_s=120)  # its heartbeat stopped two minutes ago
    with tracker.lock(stale_after_s=60):
        assert _tags(client, tracker)[names.TAG_ACTIVE].startswith(f"{socket.gethostname()}:{os.getpid()}:")


def test_holder_in_another_process(tracker, uri, plan, client, tmp_path):
    """A real second `kdsweep run`: refused while it lives; once it is killed (no chance to clean up),
    its fresh heartbeat names a dead pid on this host and is taken over at once."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from kdsweep.plan import plan_sweep
        from kdsweep.tracking.sweep import SweepTracker
        tracker = SweepTracker({uri!r}, plan_sweep({str(plan.sweep.path)!r}), results_dir=Path({str(tmp_path)!r}))
        with tracker.lock(heartbeat_s=1):
            print("locked", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=f"already running in process {proc.pid} on {socket.gethostname()}"):
            with tracker.lock():
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert _tags(client, tracker)[names.TAG_ACTIVE].startswith(f"{socket.gethostname()}:{proc.pid}:")
        with tracker.lock(stale_after_s=3600):
            assert _tags(client, tracker)[names.TAG_ACTIVE].startswith(f"{socket.gethostname()}:{os.getpid()}:")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_live_process_on_this_host_is_not_dead_when_its_heartbeat_stops(tracker, client):
    """A driver stopped with Ctrl-Z stops beating but its Ray jobs may train on: refused without
    --force (it used to be taken over as dead); --force takes it and raises the lock's generation."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        os.kill(sleeper.pid, signal.SIGSTOP)
        _claim(client, tracker, socket.gethostname(), sleeper.pid, age_s=300)
        with pytest.raises(UserError) as exc:
            with tracker.lock(stale_after_s=60):
                pass
        message = str(exc.value)
        assert f"held by process {sleeper.pid} on {socket.gethostname()}" in message and "\n" not in message
        assert "is stopped (Ctrl-Z or SIGSTOP)" in message and "has not refreshed its lock for 300 s" in message
        assert f"kill -CONT {sleeper.pid}" in message and "--force" in message
        before = int(_tags(client, tracker).get(names.TAG_GENERATION, "0"))
        with tracker.lock(force=True) as held:
            assert held.generation == before + 1
            assert _tags(client, tracker)[names.TAG_GENERATION] == str(held.generation)
    finally:
        sleeper.kill()
        sleeper.wait()


def _stopped_helper(db: str, statements: str) -> subprocess.Popen:
    """A process that opens the store, runs `statements` (`; `-separated) and stops itself (SIGSTOP)
    when the test writes a line to it."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal, sqlite3, sys
        sys.stdin.readline()
        db = sqlite3.connect({db!r}, isolation_level=None)
        for statement in {statements!r}.split("; "):
            db.execute(statement).fetchall()
        os.kill(os.getpid(), signal.SIGSTOP)
        """)], stdin=subprocess.PIPE, text=True)


def _go_and_wait_stopped(proc: subprocess.Popen) -> None:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    deadline = time.time() + 60
    from kdsweep.tracking.sqlite_locks import is_stopped

    while not is_stopped(proc.pid):
        assert time.time() < deadline, "the helper never stopped"
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/locks").is_file(), reason="the kernel's lock table is Linux's /proc/locks")
@pytest.mark.parametrize("hold", ["BEGIN; SELECT count(*) FROM runs",  # a read: writers wait for it
                                  "BEGIN IMMEDIATE",  # inside a write
                                  "BEGIN EXCLUSIVE"])  # inside a commit: readers wait too
def test_a_driver_stopped_while_it_used_the_store_is_named_not_waited_on(tracker, client, uri, hold):
    """A driver stopped (SIGSTOP) while it held a lock on the SQLite store blocks every writer (and,
    mid-commit, every reader), so --force cannot take over either: one line names the process and
    how to let it go, at once, instead of MLflow's "database is locked" after minutes of retries.
    Every command says so the same way (`check_store`) when the lock holds it up. A stopped process
    that only has the store open (a Ctrl-Z'd `kdsweep ui`) is not blamed."""
    from kdsweep.tracking import store

    db = uri.removeprefix("sqlite:///")
    innocent = _stopped_helper(db, "SELECT count(*) FROM runs")  # read, done, no transaction left open
    holder = _stopped_helper(db, hold)
    try:
        _claim(client, tracker, socket.gethostname(), holder.pid, age_s=0)  # stopped right after a beat
        _go_and_wait_stopped(innocent)
        store.check_store(uri)
        _go_and_wait_stopped(holder)
        for attempt in (lambda: tracker.lock(stale_after_s=60).__enter__(),
                        lambda: tracker.lock(force=True).__enter__(),
                        lambda: store.check_store(uri)):
            start = time.monotonic()
            with pytest.raises(UserError) as exc:
                attempt()
            message = str(exc.value)
            assert f"locked by process {holder.pid} (" in message and "stopped (Ctrl-Z or SIGSTOP)" in message
            assert f"kill -CONT {holder.pid}" in message and f"kill {holder.pid}" in message and "\n" not in message
            assert str(innocent.pid) not in message
            assert time.monotonic() - start < 5  # nothing waited on
        # A command that only reads (`kdsweep status`, `ui`) is held up by a stopped commit only.
        if hold == "BEGIN EXCLUSIVE":
            with pytest.raises(UserError, match=f"locked by process {holder.pid} .*nothing can read it"):
                store.check_store(uri, writes=False)
        else:
            store.check_store(uri, writes=False)
    finally:
        for proc in (holder, innocent):
            proc.kill()
            proc.wait()
    with tracker.lock(force=True) as held:  # a killed holder's lock goes with it
        assert _tags(client, tracker)[names.TAG_GENERATION] == str(held.generation)


def test_a_holder_taken_over_leaves_the_parent_to_the_new_one(tracker, client):
    with tracker.lock(heartbeat_s=60) as first:
        _claim(client, tracker, "gpu-node-7", 4242, age_s=0)  # another driver took it (e.g. --force)
        client.set_tag(tracker.parent_run_id, names.TAG_GENERATION, str(first.generation + 1))
    tags = _tags(client, tracker)
    assert tags[names.TAG_ACTIVE].startswith("gpu-node-7:4242:")  # not released by the old holder
    assert client.get_run(tracker.parent_run_id).info.status == "RUNNING"  # nor ended
