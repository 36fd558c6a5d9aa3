"""Errors a user can cause, carried to the CLI as one line and exit code 2.

Everything the user can fix (a bad sweep file, an unknown model name, a missing data
directory, a checkpoint that does not fit) raises `UserError`. The CLI prints its message
on one line without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake in the user's input: the message names where it is and how to fix it."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None):
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A short hint naming the closest known names, or the whole list when none is close."""
    known = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(known[:40]) + (", ..." if len(known) > 40 else "")
    return f"known: {shown}"


class StopRun(Exception):  # noqa: N818 - a signal to stop, not a failure of the run
    """Raised by a run's logger when the run must stop now and write nothing more.

    Two causes: another driver took the sweep over (this job is fenced: it must neither log
    nor save the epoch it was training), or the tracking store has not answered for longer
    than the outage allowance. Either way the run keeps its last finished epoch in last.pt
    and the next `kdsweep run` resumes it; the message says why, on one line, and `kind`
    says which ("fenced" or "store").
    """

    def __init__(self, message: str, *, kind: str = "store"):
        self.kind = kind
        super().__init__(message)
