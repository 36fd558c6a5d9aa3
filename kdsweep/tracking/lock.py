"""The sweep lock: one live `kdsweep run` per sweep and store.

The lock is a heartbeat tag on the sweep's parent run (so it works for any store, from any
node), refreshed by a daemon thread while the driver holds it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kdsweep.errors import UserError
from kdsweep.tracking import names
from kdsweep.tracking.limits import log_params_tags
from kdsweep.tracking.sqlite_locks import check_not_held_by_a_stopped_process, is_stopped
from kdsweep.tracking.store import first_line, sqlite_path, store_mutex, with_retry


class LockedSweep(Protocol):
    """What the lock needs of the sweep it guards (a `sweep.SweepTracker`, which owns the lock;
    named by its fields here so that the lock does not import the tracker back)."""

    name: str
    uri: str
    parent_run_id: str

log = logging.getLogger(__name__)


@dataclass
class Holder:
    """Who holds a sweep's lock, read from the parent run's `kdsweep.active` tag."""

    STALE_AFTER_S = 60.0  # a heartbeat (every 10 s) older than this has stopped

    host: str
    pid: int
    beat: float
    since: str

    @classmethod
    def parse(cls, tags: dict[str, str]) -> Holder | None:
        value = tags.get(names.TAG_ACTIVE)
        if not value:
            return None
        try:
            host, pid, beat = value.rsplit(":", 2)
            return cls(host, int(pid), float(beat), tags.get(names.TAG_ACTIVE_SINCE, "an unknown time"))
        except ValueError:
            return None  # unreadable: treat as free

    def state(self, stale_after_s: float) -> str:
        """"alive", "dead", or "silent": a process on this host that lives but has stopped beating
        (stopped with Ctrl-Z / SIGSTOP, or hung). Its Ray jobs may still train: it is not dead.
        On another host only the heartbeat can tell, so a stale one is dead."""
        fresh = time.time() - self.beat <= stale_after_s
        if self.host != socket.gethostname():
            return "alive" if fresh else "dead"
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return "dead"
        except PermissionError:
            pass
        return "alive" if fresh else "silent"

    def stopped(self) -> bool:
        return is_stopped(self.pid)


_HELD_HERE: set[tuple[str, str]] = set()  # (uri, parent run id) held by this process
_HELD_LOCK = threading.Lock()


class SweepLock:
    """The sweep's lock, held by one driver. Each take raises the parent's `kdsweep.generation`;
    jobs carry the generation they were started under and stop without writing once it changed
    (see tracking.logger: fencing), so a driver that took over never trains beside the old one's
    jobs. `end_status` is how the parent run ends when the lock is released (None: from the
    exception that ended the sweep, if any)."""

    CONFIRM_S = 0.5  # stores without a file lock: wait after claiming, then re-read (a racing write shows by then)

    def __init__(self, tracker: LockedSweep, *, stale_after_s: float, force: bool, heartbeat_s: float):
        self.t = tracker
        self.stale_after_s = stale_after_s
        self.force = force
        self.heartbeat_s = heartbeat_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.key = (tracker.uri, tracker.parent_run_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.since = ""
        self.generation = 0
        self.end_status: str | None = None

    def _tags(self) -> dict[str, str]:
        return dict(with_retry(self.t.client.get_run, self.t.parent_run_id).data.tags)

    def _holder(self) -> Holder | None:
        return Holder.parse(self._tags())

    def _refuse(self, h: Holder, state: str = "alive") -> UserError:
        where = f"process {h.pid} on {h.host}"
        if state == "silent":
            age = time.time() - h.beat
            how = "is stopped (Ctrl-Z or SIGSTOP)" if h.stopped() else "is alive"
            return UserError(f"sweep {self.t.name} is held by {where} since {h.since} (store {self.t.uri}), which "
                             f"{how} but has not refreshed its lock for {age:.0f} s; its jobs may still be "
                             f"training: resume it (kill -CONT {h.pid}) or stop it (kill {h.pid}), or pass --force "
                             f"to take the sweep over (its jobs then stop without writing)")
        return UserError(f"sweep {self.t.name} is already running in {where} since {h.since} "
                         f"(store {self.t.uri}); wait for it or stop it, or pass --force if it died")

    def _beat(self) -> None:
        value = f"{self.host}:{self.pid}:{time.time():.3f}"
        with_retry(self.t.client.set_tag, self.t.parent_run_id, names.TAG_ACTIVE, value)

    def _mine(self, tags: dict[str, str]) -> bool:
        h = Holder.parse(tags)
        return (h is not None and (h.host, h.pid) == (self.host, self.pid)
                and tags.get(names.TAG_GENERATION) == str(self.generation))

    def __enter__(self) -> SweepLock:
        with _HELD_LOCK, store_mutex(self.t.uri):
            # A driver stopped while it used the store blocks every write (and, mid-commit, every read),
            # --force included: say so before reading the lock's tags would wait on it.
            db = sqlite_path(self.t.uri)
            if db is not None:
                check_not_held_by_a_stopped_process(Path(db).expanduser(), self.t.uri)
            if self.key in _HELD_HERE:
                h = self._holder() or Holder(self.host, self.pid, time.time(), "now")
                raise self._refuse(h)
            tags = self._tags()
            h = Holder.parse(tags)
            if h is not None and (h.host, h.pid) != (self.host, self.pid):
                state = h.state(self.stale_after_s)
                if state != "dead" and not self.force:
                    raise self._refuse(h, state)
                log.warning("taking over sweep %s from process %s on %s (%s)", self.t.name, h.pid, h.host,
                            "--force" if self.force else "its heartbeat stopped")
            old = tags.get(names.TAG_GENERATION, "0")
            self.generation = (int(old) if old.isdigit() else 0) + 1
            self.since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            log_params_tags(self.t.client, self.t.parent_run_id, {}, {
                names.TAG_ACTIVE_SINCE: self.since, names.TAG_GENERATION: str(self.generation)})
            self._beat()
            if sqlite_path(self.t.uri) is None:  # no file lock: a racing claimant may have written meanwhile
                time.sleep(self.CONFIRM_S)
                tags = self._tags()
                if not self._mine(tags):  # another claimant wrote after us: it holds the sweep
                    raise self._refuse(Holder.parse(tags) or Holder("?", 0, time.time(), "now"))
            _HELD_HERE.add(self.key)
        with_retry(self.t.client.update_run, self.t.parent_run_id, "RUNNING")
        self._thread = threading.Thread(target=self._heartbeat, name=f"kdsweep-lock-{self.t.name}", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        failing = False
        while not self._stop.wait(self.heartbeat_s):
            try:
                tags = self._tags()
                if not self._mine(tags):
                    h = Holder.parse(tags)
                    log.warning("sweep %s was taken over by process %s on %s; no longer refreshing its lock",
                                self.t.name, getattr(h, "pid", "?"), getattr(h, "host", "?"))
                    return
                self._beat()
                failing = False
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the sweep goes on
                if not failing:  # one line per outage, not one per beat
                    log.warning("could not refresh the lock of sweep %s in %s (%s); retrying", self.t.name,
                                self.t.uri, first_line(exc))
                failing = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with _HELD_LOCK:
            _HELD_HERE.discard(self.key)
        try:
            if not self._mine(self._tags()):  # taken over: the parent run is the new holder's now
                return
            for key in (names.TAG_ACTIVE, names.TAG_ACTIVE_SINCE):
                with contextlib.suppress(Exception):
                    with_retry(self.t.client.delete_tag, self.t.parent_run_id, key)
            if self.end_status is not None:
                status = self.end_status
            elif exc_type is None:
                status = "FINISHED"
            elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
                status = "KILLED"
            else:
                status = "FAILED"
            with_retry(self.t.client.set_terminated, self.t.parent_run_id, status)
        except Exception as e:  # noqa: BLE001 - a store that is away: the lock goes stale by itself
            log.warning("could not release the lock of sweep %s in %s (%s); the next `kdsweep run` takes it over",
                        self.t.name, self.t.uri, first_line(e))
