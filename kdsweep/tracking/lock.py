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
from typing import TYPE_CHECKING, Any

from kdsweep.errors import UserError
from kdsweep.tracking import names
from kdsweep.tracking.limits import log_params_tags
from kdsweep.tracking.store import with_retry

if TYPE_CHECKING:
    from kdsweep.tracking.sweep import SweepTracker

log = logging.getLogger(__name__)


@dataclass
class _Holder:
    host: str
    pid: int
    beat: float
    since: str

    @classmethod
    def parse(cls, tags: dict[str, str]) -> _Holder | None:
        value = tags.get(names.TAG_ACTIVE)
        if not value:
            return None
        try:
            host, pid, beat = value.rsplit(":", 2)
            return cls(host, int(pid), float(beat), tags.get(names.TAG_ACTIVE_SINCE, "an unknown time"))
        except ValueError:
            return None  # unreadable: treat as free

    def alive(self, stale_after_s: float) -> bool:
        if time.time() - self.beat > stale_after_s:
            return False
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
        return True


_HELD_HERE: set[tuple[str, str]] = set()  # (uri, parent run id) held by this process
_HELD_LOCK = threading.Lock()


class SweepLock:
    CONFIRM_S = 0.5  # wait after claiming, then re-read: a racing claimant's write shows up by then

    def __init__(self, tracker: SweepTracker, *, stale_after_s: float, force: bool, heartbeat_s: float):
        self.t = tracker
        self.stale_after_s = stale_after_s
        self.force = force
        self.heartbeat_s = heartbeat_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.key = (tracker.uri, tracker.parent_run_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.since = ""

    def _holder(self) -> _Holder | None:
        run = with_retry(self.t.client.get_run, self.t.parent_run_id)
        return _Holder.parse(run.data.tags)

    def _refuse(self, h: _Holder) -> UserError:
        return UserError(f"sweep {self.t.name} is already running in process {h.pid} on {h.host} since {h.since} "
                         f"(store {self.t.uri}); wait for it or stop it, or pass --force if it died")

    def _beat(self) -> None:
        value = f"{self.host}:{self.pid}:{time.time():.3f}"
        with_retry(self.t.client.set_tag, self.t.parent_run_id, names.TAG_ACTIVE, value)

    def _mine(self, h: _Holder | None) -> bool:
        return h is not None and (h.host, h.pid) == (self.host, self.pid)

    def __enter__(self) -> SweepLock:
        with _HELD_LOCK:
            if self.key in _HELD_HERE:
                h = self._holder() or _Holder(self.host, self.pid, time.time(), "now")
                raise self._refuse(h)
            h = self._holder()
            if h is not None and not self._mine(h) and not self.force and h.alive(self.stale_after_s):
                raise self._refuse(h)
            if h is not None and not self._mine(h):
                log.warning("taking over sweep %s from process %s on %s (%s)", self.t.name, h.pid, h.host,
                            "--force" if self.force else "its heartbeat stopped")
            self.since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            log_params_tags(self.t.client, self.t.parent_run_id, {}, {names.TAG_ACTIVE_SINCE: self.since})
            self._beat()
            time.sleep(self.CONFIRM_S)
            h = self._holder()
            if not self._mine(h):  # another claimant wrote after us: it holds the sweep
                raise self._refuse(h)  # type: ignore[arg-type]
            _HELD_HERE.add(self.key)
        with_retry(self.t.client.update_run, self.t.parent_run_id, "RUNNING")
        self._thread = threading.Thread(target=self._heartbeat, name=f"kdsweep-lock-{self.t.name}", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                h = self._holder()
                if not self._mine(h):
                    log.warning("sweep %s was taken over by process %s on %s; no longer refreshing its lock",
                                self.t.name, getattr(h, "pid", "?"), getattr(h, "host", "?"))
                    return
                self._beat()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the sweep goes on
                log.warning("could not refresh the lock of sweep %s: %s", self.t.name, exc)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with _HELD_LOCK:
            _HELD_HERE.discard(self.key)
        try:
            if self._mine(self._holder()):
                for key in (names.TAG_ACTIVE, names.TAG_ACTIVE_SINCE):
                    with contextlib.suppress(Exception):
                        with_retry(self.t.client.delete_tag, self.t.parent_run_id, key)
            if exc_type is None:
                status = "FINISHED"
            elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
                status = "KILLED"
            else:
                status = "FAILED"
            with_retry(self.t.client.set_terminated, self.t.parent_run_id, status)
        except Exception as e:  # noqa: BLE001 - releasing must not hide the error that ended the sweep
            if exc_type is None:
                raise
            log.warning("could not release the lock of sweep %s: %s", self.t.name, e)
