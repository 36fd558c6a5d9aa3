"""What the parts of the GPU check share: the result record, the sizes, the context, time caps.

Two sets of sizes: GPU (the check's purpose: the figures a lent GPU gives in under 8 minutes)
and TINY (the same code at sizes a shared 2-core CPU runs in seconds, so the check is tested
and never dead code; no figure from it is a GPU figure).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]

# Statuses a part ends with. Only FAILED and ERROR of a correctness part fail the check.
PASSED, FAILED, MEASURED, SKIPPED, TIMED_OUT, ERROR = (
    "passed",
    "failed",
    "measured",
    "skipped",
    "timed out",
    "error",
)


@dataclass
class PartResult:
    name: str
    title: str
    correctness: bool
    status: str = SKIPPED
    reason: str = ""  # one line: why skipped / failed, or what a measured part measured on
    seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)  # the part's table in the report
    notes: list[str] = field(default_factory=list)  # lines printed under the table

    @property
    def failed(self) -> bool:
        return self.correctness and self.status in (FAILED, ERROR)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


@dataclass(frozen=True)
class Sizes:
    name: str
    engine_steps: int  # train batches per group run of part a (one epoch)
    engine_batch: int | None  # None: each sweep's own batch size
    engine_max_input: int | None  # None: each data set's own input size
    throughput_pair: tuple[str, str] | None  # (teacher, student); None: throughput.PAIRS decides
    throughput_batch: int
    throughput_steps: int  # train batches per epoch; the second of two epochs is measured
    ks: tuple[int, ...]  # fused group sizes
    teacher_steps: int
    cifar_images: int  # data path, CIFAR-sized case
    jpegs: int  # data path, JPEG case (0: not run)
    loader_workers: int  # the PIL DataLoader's workers
    caps: dict[str, float]  # seconds per part at most; the engine part, run last, also stops at the budget


GPU = Sizes(
    "GPU",
    engine_steps=3,
    engine_batch=None,
    engine_max_input=None,
    throughput_pair=None,
    throughput_batch=64,
    throughput_steps=20,
    ks=(4, 8),
    teacher_steps=10,
    cifar_images=8192,
    jpegs=256,
    loader_workers=8,
    caps={
        "engine": 480,
        "cuda_equality": 30,
        "throughput": 70,
        "data_path": 40,
        "batched": 45,
        "scheduling": 80,
    },
)
# Batch 4 and inputs of at most 32 px: a ResNet-50 at 224 px is seconds per step on a busy CPU;
# the digits pair for throughput: resnet32x4's forward alone takes a second for 4 images there.
TINY = Sizes(
    "tiny (CPU)",
    engine_steps=1,
    engine_batch=4,
    engine_max_input=32,
    throughput_pair=("digits_teacher", "digits_student"),
    throughput_batch=4,
    throughput_steps=1,
    ks=(2, 4),
    teacher_steps=2,
    cifar_images=256,
    jpegs=8,
    loader_workers=0,
    caps={
        "engine": 480,
        "cuda_equality": 60,
        "throughput": 60,
        "data_path": 60,
        "batched": 30,
        "scheduling": 240,
    },
)


@dataclass
class Context:
    device: torch.device
    sizes: Sizes
    work: Path  # scratch folder, deleted at the end
    out: Path  # the report folder
    sweeps: tuple[str, ...] = ()  # part a: only these (paths under sweeps/, or folders); empty: all

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)  # a timer must wait for the queued kernels


class PartTimeout(BaseException):  # noqa: N818 - not an Exception: no `except Exception` in the engine swallows it
    """The part's time cap was reached."""


@contextlib.contextmanager
def time_cap(seconds: float) -> Iterator[float]:
    """Interrupt the block after `seconds` (SIGALRM, main thread): a part that runs long is cut,
    its rows so far kept, and the check goes on. A hung CUDA call is not interruptible this way;
    the caller's own timeout (the device tool's) is the last resort. Yields the deadline."""

    def expire(signum: int, frame: object) -> None:
        raise PartTimeout(f"time cap of {seconds:.0f} s reached")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(0.01, seconds))
    try:
        yield time.monotonic() + seconds
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def importable(name: str) -> str | None:
    """None when `import name` works, else the one-line reason."""
    try:
        __import__(name)
    except Exception as e:  # noqa: BLE001 - ImportError, or a broken install
        return f"{type(e).__name__}: {e}".splitlines()[0]
    return None


def repo_env() -> dict[str, str]:
    """This process's environment with the checkout first on PYTHONPATH: a child process imports
    this kdsweep without an install (the device machine runs a plain checkout)."""
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_child(args: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run `python ARGS` with this checkout importable, in a process group of its own that is
    killed whole on a timeout or a time cap (a Ray cluster started by the child goes with it)."""
    with subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=repo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
