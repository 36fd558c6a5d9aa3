"""Where and how a job computes: device, threads, determinism, mixed precision, RNG streams.

Every process-wide switch the trainer flips lives here, so the CUDA-only lines are few and
in one place. A Ray worker process may run several jobs one after another, so `configure`
sets each switch both ways instead of only turning things on.

`RngStream` is what makes a group of students train exactly as each would alone: a student
owns a private copy of the global CPU (and CUDA) generator state and swaps it in around its
own work, so dropout or Fast FA's random vectors draw the same numbers whichever students
share its process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

from kdsweep.errors import UserError

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def select_device(name: str | None = "auto") -> torch.device:
    """auto: the (first visible) GPU when there is one, else the CPU; Ray sets CUDA_VISIBLE_DEVICES."""
    name = (name or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA was asked for but no GPU is visible; use device: cpu or auto", where="device")
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"unknown device {name!r}; use auto, cpu or cuda", where="device")
    return torch.device(name if name != "cuda" else "cuda:0")


def configure(train_cfg: dict[str, Any], device: torch.device) -> None:
    """Threads and determinism for this process, from the run config's `train` section."""
    threads = train_cfg.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    deterministic = bool(train_cfg.get("deterministic", True))
    if deterministic and device.type == "cuda":
        # cuBLAS reads this when it first creates a handle; harmless when already set.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op with no deterministic kernel warns instead of failing a long run.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic


def amp_dtype(train_cfg: dict[str, Any], device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None. Mixed precision is a CUDA feature here: on the CPU it is
    ignored (CPU bf16 autocast is slower than fp32 on most CPUs and would break the
    bit-exact CPU tests), as spec/defaults.py documents."""
    mode = str(train_cfg.get("amp") or "off").lower()
    if device.type != "cuda" or mode == "off":
        return None
    return AMP_DTYPES[mode]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A loss scaler for fp16 on CUDA; a disabled (pass-through) one otherwise, so the step
    code is the same in every mode."""
    return torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and dtype == torch.float16)


class RngStream:
    """A private copy of the global generator state (CPU, and CUDA on a GPU device)."""

    def __init__(self, device: torch.device, cpu: torch.Tensor | None = None, cuda: torch.Tensor | None = None):
        self.device = device
        self.cpu = torch.get_rng_state() if cpu is None else cpu
        self.cuda = cuda
        if self.cuda is None and device.type == "cuda":
            self.cuda = torch.cuda.get_rng_state(device)

    @classmethod
    def seeded(cls, seed: int, device: torch.device) -> RngStream:
        """A stream as `torch.manual_seed(seed)` would start it, without touching the global one."""
        cpu = torch.Generator().manual_seed(seed).get_state()
        cuda = torch.Generator(device=device).manual_seed(seed).get_state() if device.type == "cuda" else None
        return cls(device, cpu, cuda)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Run the block on this stream; the outer global state is restored afterwards."""
        outer_cpu = torch.get_rng_state()
        outer_cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda, self.device)
        try:
            yield
        finally:
            self.cpu = torch.get_rng_state()
            if outer_cuda is not None:
                self.cuda = torch.cuda.get_rng_state(self.device)
                torch.cuda.set_rng_state(outer_cuda, self.device)
            torch.set_rng_state(outer_cpu)

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        return {"cpu": self.cpu.clone(), "cuda": None if self.cuda is None else self.cuda.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor | None]) -> None:
        self.cpu = state["cpu"].clone()
        if state.get("cuda") is not None and self.device.type == "cuda":
            self.cuda = state["cuda"].clone()


def epoch_seed(seed: int, epoch: int) -> int:
    """Seed of the shared (data + teacher) stream at the start of `epoch`: reseeding per epoch
    makes that stream independent of how many students share the process and of resumes."""
    return (int(seed) * 1_000_003 + int(epoch) * 7919) % (2**63 - 1)
