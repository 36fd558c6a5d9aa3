"""A decode-once cache of file data sets: uint8 arrays on disk, memory-mapped by every job.

Decoding JPEGs is what a per-sample pipeline spends its CPU on (write-up 003: "the bottleneck
is not the GPU but the CPU"), and every job of a sweep decodes the same files. Here a split is
decoded once per machine into `<cache dir>/<split name>-<size>px-<files>-<state>.u8`, a raw
(N, 3, size, size) uint8 array (`decode.decode_items`: shorter side resized, centre square),
and every later job maps it read-only-shared (copy-on-write) instead of decoding: jobs
on one machine share its pages through the OS page cache.

`<files>` hashes the list of paths and labels (which images, in which order: a `limit`
subset is another list), `<state>` every file's byte size and modification time, so a changed
file gives a new name and the split is decoded again; the stale file of the same list and
size is then deleted. Writers build under a lock and publish
with an atomic rename, so a job never maps a half-written file and two jobs never decode the
same split at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from kdsweep.engine.data.decode import decode_items
from kdsweep.engine.data.raw import FileData, TensorData

FORMAT = 1  # bump when the decoded bytes for the same files would change
ENV = "KDSWEEP_CACHE_DIR"


def default_dir() -> Path:
    """$KDSWEEP_CACHE_DIR, else $XDG_CACHE_HOME/kdsweep/decoded, else ~/.cache/kdsweep/decoded."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "kdsweep" / "decoded"


def identity(items: Sequence[tuple[Path, int]]) -> str:
    """12 hex digits over the resolved paths and labels: which images, in which order."""
    h = hashlib.sha256(str(FORMAT).encode())
    for path, label in items:
        h.update(f"\0{Path(path).resolve()}\0{label}".encode())
    return h.hexdigest()[:12]


def state(items: Sequence[tuple[Path, int]]) -> str:
    """12 hex digits over every file's byte size and modification time (ns)."""
    h = hashlib.sha256()
    for path, _ in items:
        st = os.stat(path)
        h.update(f"\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _map(path: Path, n: int, size: int) -> torch.Tensor:
    # mode "c": pages come from the shared page cache; a write (there is none) would stay private,
    # which also gives torch a writable array without copying it.
    array = np.memmap(path, dtype=np.uint8, mode="c", shape=(n, 3, size, size))
    return torch.from_numpy(array)


def cached_split(items: Sequence[tuple[Path, int]], size: int, workers: int, *, cache_dir: Path,
                 name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 3, size, size) uint8 images, memory-mapped from the cache (decoded first if needed),
    and their int64 labels."""
    labels = torch.tensor([label for _, label in items], dtype=torch.int64)
    cache_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{size}px-{identity(items)}"
    target = cache_dir / f"{stem}-{state(items)}.u8"
    if not target.is_file():
        with _locked(cache_dir / f"{stem}.lock"):
            if not target.is_file():  # another job may have built it while we waited
                x, _ = decode_items(items, size, workers)
                tmp = target.with_suffix(f".tmp{os.getpid()}")
                x.numpy().tofile(tmp)
                os.replace(tmp, target)
                for stale in cache_dir.glob(f"{stem}-*.u8"):
                    if stale != target:  # the same images before they changed; open maps stay valid
                        stale.unlink(missing_ok=True)
    expected = len(items) * 3 * size * size
    if target.stat().st_size != expected:
        raise OSError(f"{target} holds {target.stat().st_size} bytes, expected {expected}; delete it")
    return _map(target, len(items), size), labels


def decode(data: FileData, size: int, workers: int, *, cache_dir: Path | None = None,
           name: str = "files") -> TensorData:
    """Decoded in memory, or (with `cache_dir`) memory-mapped from the decode-once cache."""
    if cache_dir is not None:
        train_x, train_y = cached_split(data.train, size, workers, cache_dir=cache_dir, name=f"{name}-train")
        val_x, val_y = cached_split(data.val, size, workers, cache_dir=cache_dir, name=f"{name}-val")
    else:
        train_x, train_y = decode_items(data.train, size, workers)
        val_x, val_y = decode_items(data.val, size, workers)
    return TensorData(
        train_x=train_x, train_y=train_y, val_x=val_x, val_y=val_y,
        num_classes=data.num_classes, classes=data.classes, mean=data.mean, std=data.std,
    )
