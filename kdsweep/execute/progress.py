"""The live view of a running sweep: slots, epochs, accuracies, ETA, counts and failures.

Workers post events to a `ProgressBoard` (a Ray actor, so workers on any node reach it);
the driver reads snapshots and draws them with rich, or prints one plain line per event
when the output is not a terminal (CI logs, `nohup`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from kdsweep.status import RunStatus

# The live view's own words beside RunStatus: a run not started in this session yet, and one
# that had finished in an earlier `kdsweep run` (so it is not trained again).
WAITING = "waiting"
SKIPPED = "skipped"
RECENT = 8  # epochs the board keeps per run, so a plain view polling slower than epochs end misses none
FINAL = (*(s for s in RunStatus if s.is_finished()), SKIPPED)


def state_word(state: str) -> str:
    known = RunStatus.parse(state)
    return known.word if known else state


class ProgressBoard:
    """Latest event per run key; wrapped with ray.remote by the runner."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.seq = 0

    def update(self, key: str, event: dict[str, Any]) -> None:
        self.seq += 1
        run = self.runs.setdefault(key, {})
        if event.get("val_acc1") is not None:
            run["best"] = max(run.get("best", float("-inf")), float(event["val_acc1"]))
            run.setdefault("first_time", event.get("time"))
            if event.get("epoch"):  # every epoch's numbers, not only the latest: the plain view prints each
                run["recent"] = [*run.get("recent", []), (int(event["epoch"]), float(event["val_acc1"]),
                                                          run["best"])][-RECENT:]
        run.update({k: v for k, v in event.items() if v is not None})
        run["seq"] = self.seq

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.runs.items()}


@dataclass
class RunView:
    """What the driver knows about one run, merged from its own bookkeeping and the board."""

    key: str
    name: str
    epochs: int
    state: str = WAITING  # WAITING, SKIPPED or a RunStatus
    slot: str = ""  # as shown: `gpu 0`, `cpu 2` (the n-th CPU job running at once)
    worker: str = ""  # as the worker named it: `gpu 0`, `cpu <pid>` (runs of one job share it)
    epoch: int = 0
    resumed_from: int = 0  # the epoch a resumed run's checkpoint had reached when it started again
    val_acc1: float | None = None
    best: float | None = None
    reason: str | None = None
    started: float | None = None
    epoch_s: list[float] = field(default_factory=list)

    def eta_s(self) -> float | None:
        if not self.epoch_s or self.state != RunStatus.RUNNING:
            return None
        return sum(self.epoch_s[-3:]) / len(self.epoch_s[-3:]) * max(self.epochs - self.epoch, 0)


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


def _acc(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def _shorten(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def failure_lines(items: list[tuple[str, str, str]]) -> list[str]:
    """(state, run, reason) -> one line per distinct (state, reason): a reason shared by many runs
    (a missing data set, a failed teacher) prints once, with how many runs it stopped and which."""
    groups: dict[tuple[str, str], list[str]] = {}
    for state, run, reason in items:
        groups.setdefault((state_word(state), reason), []).append(run)
    lines = []
    for (state, reason), runs in groups.items():
        who = runs[0] if len(runs) == 1 else f"{len(runs)} runs ({_shorten(runs)})"
        lines.append(f"{state}: {who}" + (f": {reason}" if reason else ""))
    return lines


class LiveView:
    """Merges board snapshots into RunViews and renders them (rich when a TTY, else plain lines)."""

    FINAL = FINAL

    def __init__(self, sweep: str, runs: list[RunView], console: Console | None = None):
        self.sweep = sweep
        self.runs = {r.key: r for r in runs}
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.plain = not self.console.is_terminal
        self._printed: set[tuple] = set()
        self._reasons: dict[str, str] = {}  # reason -> the first run printed with it
        self._epoch_printed: dict[str, int] = {}  # run key -> the last epoch whose line was printed
        self.started = time.time()

    def merge(self, snapshot: dict[str, dict[str, Any]]) -> None:
        for key, event in snapshot.items():
            view = self.runs.get(key)
            if view is None:
                continue
            before = (view.state, view.epoch)
            if event.get("slot") and event["slot"] != view.worker:
                view.worker = event["slot"]
                view.slot = self._slot_label(view)
            if event.get("resumed_from") and view.epoch < event["resumed_from"]:
                view.resumed_from = view.epoch = int(event["resumed_from"])
            if event.get("epoch"):
                if event["epoch"] > view.epoch and event.get("epoch_s"):
                    view.epoch_s.append(float(event["epoch_s"]))
                view.epoch = int(event["epoch"])
            if event.get("val_acc1") is not None:
                view.val_acc1 = float(event["val_acc1"])
            if event.get("best") is not None:
                view.best = float(event["best"])
            state = event.get("state")
            if state == RunStatus.RUNNING and view.state not in self.FINAL:
                view.state = RunStatus.RUNNING
            elif state in self.FINAL:
                view.state = state
            elif event.get("epoch") and view.state not in self.FINAL:
                view.state = RunStatus.RUNNING
            if event.get("reason"):
                view.reason = event["reason"]
            if self.plain:
                # Epochs that ended since the last poll, the last one too when the run's end came with it
                # (a teacher's 15/15 arrived with FINISHED, and only FINISHED was printed).
                for epoch, val_acc1, best in event.get("recent", ()):
                    if epoch > max(self._epoch_printed.get(key, 0), view.resumed_from):
                        self._epoch_printed[key] = epoch
                        self._print_text(view, f"[{view.slot}] {view.name}: epoch {epoch}/{view.epochs} "
                                               f"val_acc1 {_acc(val_acc1)} best {_acc(best)}", epoch)
                if (view.state, view.epoch) != before:
                    self._print_line(view)

    def _slot_label(self, view: RunView) -> str:
        """GPU slots keep their device number; a CPU job (named by its process) becomes `cpu n`, the
        lowest number no other running job holds, so the column reads as slots, not process ids."""
        if not view.worker.startswith("cpu "):
            return view.worker
        taken = {}
        for other in self.runs.values():
            if other is not view and other.worker.startswith("cpu ") and other.state in (RunStatus.RUNNING, WAITING) \
                    and other.slot:
                taken[other.worker] = other.slot
        if view.worker in taken:  # another run of the same job (a fused group)
            return taken[view.worker]
        used = set(taken.values())
        n = 1
        while f"cpu {n}" in used:
            n += 1
        return f"cpu {n}"

    def set_state(self, key: str, state: str, reason: str | None = None) -> None:
        view = self.runs[key]
        if view.state == state:
            return
        view.state = state
        if reason:
            view.reason = reason
        if self.plain:
            self._print_line(view)

    def _print_text(self, view: RunView, text: str, epoch: int) -> None:
        stamp = (view.key, RunStatus.RUNNING, epoch)
        if stamp not in self._printed:
            self._printed.add(stamp)
            self.console.print(text, markup=False, highlight=False)

    def _print_line(self, view: RunView) -> None:
        stamp = (view.key, view.state, view.epoch)
        if stamp in self._printed:
            return
        self._printed.add(stamp)
        if view.state == RunStatus.RUNNING and view.epoch == view.resumed_from == 0:
            text = f"[{view.slot}] {view.name}: started ({view.epochs} epochs)"
        elif view.state == RunStatus.RUNNING and view.epoch == view.resumed_from:
            text = f"[{view.slot}] {view.name}: resumed at epoch {view.epoch}/{view.epochs}"
        elif view.state == RunStatus.RUNNING:
            text = (f"[{view.slot}] {view.name}: epoch {view.epoch}/{view.epochs} "
                    f"val_acc1 {_acc(view.val_acc1)} best {_acc(view.best)}")
        else:
            text = f"{view.name}: {view.state}" + self._reason_note(view)
        self.console.print(text, markup=False, highlight=False)

    def _reason_note(self, view: RunView) -> str:
        """` (reason)` the first time a reason is printed; after that, the run that first had it."""
        if not view.reason:
            return ""
        first = self._reasons.setdefault(view.reason, view.name)
        return f" ({view.reason})" if first == view.name else f" (same reason as {first})"

    def counts(self) -> dict[str, int]:
        out = {state_word(s): 0 for s in (RunStatus.FINISHED, RunStatus.RUNNING, WAITING, RunStatus.FAILED,
                                           RunStatus.NOT_RUN, SKIPPED, RunStatus.KILLED)}
        for view in self.runs.values():
            word = state_word(view.state)
            out[word] = out.get(word, 0) + 1
        return out

    def summary_line(self) -> str:
        counts = self.counts()
        parts = [f"{n} {k}" for k, n in counts.items() if n]
        return f"{self.sweep}: " + ", ".join(parts) + f" ({_fmt_eta(time.time() - self.started)} elapsed)"

    def render(self) -> Group:
        """The summary line, a table of the running runs (none when nothing runs), and failures."""
        running = sorted((v for v in self.runs.values() if v.state == RunStatus.RUNNING), key=lambda v: v.slot)
        parts: list[Any] = []
        if running:
            table = Table(title=self.summary_line(), expand=False)
            for col in ("slot", "run", "epoch", "val top-1", "best", "ETA"):
                table.add_column(col, no_wrap=True)
            for view in running:
                table.add_row(view.slot, view.name, f"{view.epoch}/{view.epochs}", _acc(view.val_acc1),
                              _acc(view.best), _fmt_eta(view.eta_s()))
            parts.append(table)
        else:
            parts.append(Text(self.summary_line()))
        failures = [(v.state, v.name, v.reason or "") for v in self.runs.values()
                    if v.state in (RunStatus.FAILED, RunStatus.NOT_RUN) and v.reason]
        for line in failure_lines(failures)[-8:]:
            parts.append(Text(line, style="red"))
        return Group(*parts)

    def interrupted(self, statuses: dict[str, str]) -> None:
        """After Ctrl-C: what the runner marked (KILLED) replaces `running` / `waiting`, quietly."""
        for key, state in statuses.items():
            view = self.runs.get(key)
            if view is not None and view.state not in self.FINAL:
                view.state = state
