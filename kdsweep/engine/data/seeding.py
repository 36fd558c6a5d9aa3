"""Random streams that depend only on (seed, epoch, purpose), never on the global RNG.

A resumed run, a fused group of students and a fresh single run must see the same batches,
and the trainer's own use of the global RNG (weight init, dropout) must neither change the
data nor be changed by it. So every random draw of the data layer comes from a dedicated
CPU `torch.Generator` seeded from a hash of (seed, epoch, stream). Drawing on the CPU also
makes the order and the augmentation parameters identical on the CPU and on CUDA.

Transforms we do not reimplement (torchvision v2 ones applied per sample) draw from the
global RNG internally; `isolated_rng` lets them do so from a per-sample seed and puts the
caller's RNG state back afterwards.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

# Named streams, so the order of an epoch does not move when its augmentation changes.
STREAMS = {"order": 1, "augment": 2, "workers": 3, "val": 4, "subset": 5, "split": 6, "fake": 7, "batched": 8}

# Data subsets (limit, val_limit, the digits hold-out) use this fixed seed, not the run's:
# a teacher stage and its students run with different seeds must agree on what "val" is.
DATA_SEED = 0


def derive_seed(seed: int, epoch: int, stream: str) -> int:
    """A well-mixed 63-bit seed from (seed, epoch, stream); neighbours give unrelated streams."""
    seq = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch) & 0xFFFFFFFF, STREAMS[stream]])
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def generator(seed: int, epoch: int, stream: str) -> torch.Generator:
    """A fresh CPU generator for one (seed, epoch, stream)."""
    return torch.Generator().manual_seed(derive_seed(seed, epoch, stream))


def sample_seeds(gen: torch.Generator, n: int) -> list[int]:
    """One seed per sample for transforms that use the global RNG."""
    return torch.randint(0, 2**62, (n,), generator=gen).tolist()


def _cuda_index(device: torch.device) -> int | None:
    if device.type != "cuda":
        return None
    return device.index if device.index is not None else torch.cuda.current_device()


@contextlib.contextmanager
def isolated_rng(device: torch.device | None = None) -> Iterator[None]:
    """Run a block that may reseed the global RNGs (see `reseed`), restoring them afterwards."""
    index = _cuda_index(device) if device is not None else None
    state = random.getstate()
    devices = [index] if index is not None else []
    try:
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            yield
    finally:
        random.setstate(state)


def reseed(seed: int, device: torch.device | None = None) -> None:
    """Seed the global RNGs a per-sample transform may draw from; call inside `isolated_rng`."""
    torch.random.default_generator.manual_seed(seed)
    random.seed(seed)
    index = _cuda_index(device) if device is not None else None
    if index is not None:  # CUDA only: transforms that draw noise on the image's device
        with torch.cuda.device(index):
            torch.cuda.manual_seed(seed)


def worker_init(worker_id: int) -> None:
    """DataLoader workers: seed numpy and `random` from the worker's torch seed.

    The worker seed comes from the loader's own generator (seeded per epoch), so user
    transforms that use numpy or `random` are reproducible too; kdsweep's own per-sample
    seeding does not depend on it.
    """
    base = torch.initial_seed() % 2**32
    np.random.seed(base)
    random.seed(base)
