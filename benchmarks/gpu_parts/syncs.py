"""Host syncs counted under `torch.cuda.set_sync_debug_mode("warn")`, by where they happen.

In "warn" mode every CUDA call that makes the host wait (`.item()`, a device-to-host copy,
`nonzero`, GradScaler's found-inf check) raises a Python warning at the moment it is made,
so the Python stack of that moment says which code asked. The house rule (train.py) is no
host sync inside an epoch's training and val steps; the engine reads its meters and its
divergence watch once, at the epoch's end.
"""

from __future__ import annotations

import contextlib
import os
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

import kdsweep

PACKAGE = str(Path(kdsweep.__file__).parent) + os.sep  # frames of kdsweep's own code start with this
SYNC_TEXT = "called a synchronizing CUDA operation"
INSIDE, EPOCH_END, OUTSIDE = "inside the epoch", "epoch end", "outside the epoch"
# Engine functions (train.py, student.py) that bound the places: the epoch's loop, and the
# once-per-epoch reads after it.
EPOCH_FUNCTION = "_train_epoch"
EPOCH_END_FUNCTIONS = ("diverged", "_end_epoch")


@dataclass
class SyncCount:
    by_place: dict[str, Counter] = field(
        default_factory=lambda: {INSIDE: Counter(), EPOCH_END: Counter(), OUTSIDE: Counter()}
    )

    def add(self, stack: list[traceback.FrameSummary]) -> None:
        ours = [f for f in stack if f.filename.startswith(PACKAGE)]
        names = {f.name for f in ours}
        if names & set(EPOCH_END_FUNCTIONS):
            place = EPOCH_END
        elif EPOCH_FUNCTION in names:
            place = INSIDE
        else:
            place = OUTSIDE
        self.by_place[place][where(ours[-1] if ours else stack[-1])] += 1

    def total(self, place: str) -> int:
        return sum(self.by_place[place].values())

    def top(self, place: str, n: int = 3) -> str:
        """The places that synced most: `kdsweep/engine/student.py:152 train_step x12; ...`."""
        return "; ".join(f"{w} x{k}" for w, k in self.by_place[place].most_common(n))


def where(frame: traceback.FrameSummary) -> str:
    """`kdsweep/engine/student.py:152 train_step` (outside kdsweep: the file's name only)."""
    if frame.filename.startswith(PACKAGE):
        short = "kdsweep/" + frame.filename[len(PACKAGE) :].replace(os.sep, "/")
    else:
        short = Path(frame.filename).name
    return f"{short}:{frame.lineno} {frame.name}"


@contextlib.contextmanager
def count_host_syncs(device: torch.device) -> Iterator[SyncCount | None]:
    """Count the host syncs made in the block on a CUDA device; yields None elsewhere (a CPU
    has no queue to drain: the count does not apply)."""
    if device.type != "cuda":
        yield None
        return
    count = SyncCount()
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # every sync, not the first per line
        show_other = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001 - warnings' hook
            if SYNC_TEXT in str(message):
                count.add(traceback.extract_stack()[:-1])
            else:
                show_other(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        torch.cuda.set_sync_debug_mode("warn")
        try:
            yield count
        finally:
            torch.cuda.set_sync_debug_mode("default")
