"""Warnings raised inside a job reach the user: the driver's console once per reason, and the runs' tags.

A job runs in a Ray worker whose output is not shown (--ray-logs aside), so a Python warning or
one of kdsweep's own log warnings (CRD: "nce_k ... drawing 63 negatives") would never be seen.
`collected()` gathers them while a job trains; the worker returns them with the job's results and
writes them to each run's `kdsweep.warnings` tag; `Notices` counts them across jobs on the driver,
where one reason (the text with its numbers blanked) is printed once, with how many jobs raised it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

LOGGER = "kdsweep"  # every kdsweep module logs under it (logging.getLogger(__name__))


class _Gather(logging.Handler):
    def __init__(self, into: list[str]):
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a notice must never fail the job
            _add(self.into, record.getMessage())


def _add(into: list[str], text: str) -> None:
    line = " ".join(str(text).split())
    if line and line not in into:
        into.append(line)


@contextlib.contextmanager
def collected() -> Iterator[list[str]]:
    """The job's warnings, each text once, in the order raised: Python warnings (once per place, as
    Python's default shows them) as `Category: message`, and kdsweep's log warnings as they read."""
    into: list[str] = []
    handler = _Gather(into)
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                yield into
            finally:
                for w in caught:
                    _add(into, f"{w.category.__name__}: {w.message}")
    finally:
        logger.removeHandler(handler)


def reason(text: str) -> str:
    """What makes two warnings the same: their text with every number blanked."""
    return re.sub(r"\d+(\.\d+)?", "#", text)


@dataclass
class Notices:
    """The driver's count of the jobs' warnings: reason -> (the first text seen, jobs that raised it)."""

    seen: dict[str, list] = field(default_factory=dict)

    def add(self, texts: list[str]) -> None:
        for text in dict.fromkeys(texts):
            entry = self.seen.setdefault(reason(text), [text, 0])
            entry[1] += 1

    def lines(self) -> list[str]:
        return [f"warning from {n} job{'s' if n != 1 else ''}: {text}" for text, n in self.seen.values()]
