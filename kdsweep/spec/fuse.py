"""Which students of a fused group train as one batched model (`train.fuse`), decided in this one place.

A fused group shares one data pipeline and one teacher forward; its students share the
architecture too (spec/groups.py). `batched` stacks their weights into one model
(engine/student_block.py: torch.func's vmap, whose convolutions run as grouped ones) so a
batch costs one student-sized forward, backward and optimiser step instead of K; `loop`
steps them one after another (student.py).

A run joins the block when each of its loss terms reads only logits and labels (its entry says
`batched=True`: ce, kd, dkd, dist), and the group's shared settings allow it: no compile, no
frozen modules, no cosine head with a margin, no fp16 loss scaling. The others stay in the loop
beside the block. A block needs two students; one alone gains nothing.

`auto` is batched only on the device types of `AUTO_BATCHED_ON`: where the block was measured
faster than the loop. Today that is none. On the CPU (benchmarks/README.md, benchmark 5,
one thread) the block pays only where per-op overhead dominates: at K = 8 the digits student's
step is 0.91x the loop's speed at batch 64 (the sweeps' default), 1.24x at 32, 1.67x at 16;
cifar_resnet8x4 is 0.51x at batch 64 (grouped convolutions are no faster than K small ones
there). A CPU sweep with small batches may set `fuse: batched`. On CUDA the block has never
run: HFTA measured grouped model arrays paying there, but a default must not be a path no GPU
has tried. Once benchmarks/gpu_check.py (part d, and part a with `fuse: batched`) has run on a
GPU and its report under benchmarks/gpu/ shows the block faster, add "cuda" below.

The engine asks `choose` with the device it trains on; `kdsweep plan`, which imports no torch
and knows no device, shows `planned`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kdsweep.spec.entries import LOSSES

BATCHED, LOOP, AUTO = "batched", "loop", "auto"
AUTO_BATCHED_ON: frozenset[str] = frozenset()  # device types where `auto` is batched: measured faster there


def group_reason(config: dict[str, Any], device_type: str | None) -> str | None:
    """Why no student of this config's group may be batched (settings a group shares), else None.
    `device_type` None: not known (the plan), so a CUDA-only reason is not given."""
    train, student = config.get("train") or {}, config.get("student") or {}
    if train.get("compile"):
        return "train.compile"
    if student.get("freeze"):
        return "student.freeze"
    head = student.get("head") or {}
    if float(head.get("m") or 0) != 0:
        return "a margin head"
    if device_type == "cuda" and str(train.get("amp") or "off").lower() == "fp16":
        return "fp16 loss scaling"
    return None


def run_reason(config: dict[str, Any]) -> str | None:
    """The first loss term of this run that a batched block cannot compute (it reads features,
    has parameters or draws random numbers), else None."""
    for name in config.get("loss") or {}:
        if name in LOSSES and not LOSSES.get(name).batched:
            return f"loss.{name}"
    return None


def wanted(config: dict[str, Any], device_type: str) -> bool:
    """Whether the group's `train.fuse` asks for a block on this device."""
    fuse = str((config.get("train") or {}).get("fuse") or AUTO).lower()
    return fuse == BATCHED or (fuse == AUTO and device_type in AUTO_BATCHED_ON)


def choose(configs: Sequence[dict[str, Any]], device_type: str) -> list[bool]:
    """Which runs of a group train in the batched block on a device of `device_type`."""
    if not configs or not wanted(configs[0], device_type) or group_reason(configs[0], device_type):
        return [False] * len(configs)
    joins = [run_reason(c) is None for c in configs]
    return joins if sum(joins) >= 2 else [False] * len(configs)


def planned(configs: Sequence[dict[str, Any]]) -> list[str]:
    """What each run of a group gets, as `kdsweep plan` shows it (no device known): `-` alone,
    `batched`, `loop (<why>)`, or for `auto` `loop` (or `loop (cuda: batched)` once measured there)."""
    if len(configs) < 2:
        return ["-"] * len(configs)
    fuse = str((configs[0].get("train") or {}).get("fuse") or AUTO).lower()
    shared = group_reason(configs[0], None)
    whys = [shared or run_reason(c) for c in configs]
    if fuse == LOOP:
        return [LOOP] * len(configs)
    if sum(why is None for why in whys) < 2:
        return [f"{LOOP} ({why or 'no second student to batch with'})" for why in whys]
    if fuse == BATCHED:
        return [BATCHED if why is None else f"{LOOP} ({why})" for why in whys]
    on = ", ".join(sorted(AUTO_BATCHED_ON))
    return [(f"{LOOP} ({on}: {BATCHED})" if on else LOOP) if why is None else f"{LOOP} ({why})" for why in whys]
