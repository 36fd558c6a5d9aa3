"""Side-by-side timing shared by the benchmarks: alternate the sides, report the median ratio.

Machines here are shared and noisy, so a benchmark never compares seconds measured at
different times: each round times every side once, in a rotating order, after warm-up
rounds that are thrown away; a round's ratio compares sides measured seconds apart. The
summary is the median of the per-round ratios with their spread (min..max over rounds).
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Sides:
    """Per-side lists of seconds, one entry per measured round."""

    times: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, list[object]] = field(default_factory=dict)  # what each call returned
    cpu: dict[str, list[float]] = field(default_factory=dict)  # CPU seconds, this process and its children

    def cpu_ratio(self, num: str, den: str) -> Ratio:
        """CPU-seconds ratio per round: the work each side did, which a busy machine distorts far
        less than wall time (a shared core stretches wall time, not CPU time)."""
        return Ratio([a / b for a, b in zip(self.cpu[num], self.cpu[den], strict=True)])

    def ratio(self, num: str, den: str) -> Ratio:
        """times[num] / times[den], per round."""
        return Ratio([a / b for a, b in zip(self.times[num], self.times[den], strict=True)])

    def ratio_of(self, num: str, den: str, value: Callable[[object], float]) -> Ratio:
        """value(result of num) / value(result of den), per round: for times a side measures itself."""
        pairs = zip(self.results[num], self.results[den], strict=True)
        return Ratio([value(a) / value(b) for a, b in pairs])

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])


@dataclass
class Ratio:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def __str__(self) -> str:
        lo, hi = min(self.values), max(self.values)
        return f"{self.median:.3f} (spread {lo:.3f}..{hi:.3f}, {len(self.values)} rounds)"


def alternate(sides: dict[str, Callable[[], object]], *, rounds: int, warmup: int = 1) -> Sides:
    """Time each side once per round, rotating which goes first; warm-up rounds are dropped."""
    names = list(sides)
    out = Sides({n: [] for n in names}, {n: [] for n in names}, {n: [] for n in names})
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            c0, t0 = cpu_seconds(), time.perf_counter()
            result = sides[name]()
            seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            if r >= warmup:
                out.times[name].append(seconds)
                out.results[name].append(result)
                out.cpu[name].append(cpu)
    return out


def engine_on_cpu_clock() -> None:
    """Make the engine's own epoch timings (epoch_s, images_per_s) CPU seconds of this process.

    For single-threaded CPU benchmarks on a shared machine: CPU time is what an epoch costs,
    wall time is that plus whatever the neighbours took. Only this benchmark process is patched.
    """
    import types

    import kdsweep.engine.train as train

    train.time = types.SimpleNamespace(perf_counter=time.process_time)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live children (DataLoader workers)
    and of its finished children. Without psutil (a lent GPU machine's plain Python, where benchmarks
    compare wall times): this process and its finished children only."""
    try:
        import psutil
    except ImportError:
        ended = os.times()
        return ended.user + ended.system + ended.children_user + ended.children_system
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:  # ended in between: counted below once reaped
            pass
    ended = os.times()
    return total + ended.children_user + ended.children_system


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 where unreadable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Peak RSS while the block runs, sampled every 2 ms by a thread (a CPU stand-in for
    torch.cuda.max_memory_allocated); reported as the peak above the RSS at entry."""

    def __enter__(self) -> PeakRss:
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def above_start(self) -> int:
        return self.peak - self.start


def machine() -> str:
    """One line: CPU count, load average, platform, torch version and threads, device."""
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{os.cpu_count()} CPU, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {dev}; "
            f"{platform.platform(terse=True)}; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"
