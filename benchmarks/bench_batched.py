"""Benchmark 5, batched students (issue 21): K students as one batched model vs the fused group's loop.

A fused group already shares one data pipeline and one teacher forward; what is left per batch
is the students' own work: forward, backward and optimiser step. This times that part alone,
both sides on the same engine objects: K `Student`s built as `train_group` builds them (a KD
T x alpha grid, lr differing too), stepped one after another (`Student.train_step`, the loop)
or as one `StudentBlock` (`train.fuse: batched`), on one fixed batch and fixed teacher logits
(the shared teacher forward is not timed: both sides get it for free). K = 2, 4, 8, on the
digits student (~25k parameters) and on cifar_resnet8x4 (1.2M, 100 classes, 32x32) where the
CIFAR zoo is registered. Reported: milliseconds per batch of each side (median over rounds)
and the speed-up loop / batched per round (median, spread). On the CPU the times are CPU
seconds of this process (a shared core stretches wall time, not CPU time); on CUDA, wall time
between synchronisations.

    python benchmarks/bench_batched.py [--rounds 3] [--k 2 4 8] [--archs digits_student cifar_resnet8x4]
                                       [--batch 64] [--threads 1] [--device cpu|cuda]

`gpu_check(device, tiny)` is what benchmarks/gpu_check.py calls (part d); `run(...)` returns the rows.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch
from sidebyside import alternate, machine

from kdsweep.engine.data import Batch
from kdsweep.engine.logger import NullLogger
from kdsweep.engine.losses import build_losses
from kdsweep.engine.models.zoo import MODELS
from kdsweep.engine.student import Student, TeacherOutput, build_student
from kdsweep.engine.student_block import StudentBlock
from kdsweep.spec.resolve import resolve_run_config

GRID = [(t, a) for t in (1.0, 2.0, 4.0, 8.0) for a in (0.5, 0.9)]  # bench_fused.py's T x alpha grid
ARCHS = {"digits_student": 10, "cifar_resnet8x4": 100}  # arch -> classes (digits; CIFAR-100)
# Steps per side per round, sized so a CPU round of K = 8 takes a few seconds on each arch.
STEPS = {"digits_student": 20, "cifar_resnet8x4": 2}


def _configs(arch: str, k: int, device: str) -> list[dict[str, Any]]:
    return [resolve_run_config({
        "seed": 0, "device": device,
        "data": {"name": "digits"},  # not loaded: the batch is made here, the classes given to the model
        "student": {"arch": arch},
        "teacher": {"arch": "digits_teacher", "checkpoint": "not-loaded.pt"},  # its logits are given
        "optim": {"name": "sgd", "lr": 0.05 * (1 + i / 10), "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        "loss": {"kd": {"T": t, "alpha": a}},
        "train": {"fuse": "batched"},
    }) for i, (t, a) in enumerate(GRID[:k])]


def _students(arch: str, k: int, device: torch.device, root: Path) -> list[Student]:
    classes = ARCHS[arch]
    probe = torch.zeros(2, 3, 32, 32, device=device)
    return [build_student(cfg, workdir=root / f"{arch}{k}_{i}", logger=NullLogger(), device=device,
                          num_classes=classes, losses=build_losses(cfg["loss"]), iters_per_epoch=1000, probe=probe,
                          teacher_probe={}, train_labels=None)
            for i, cfg in enumerate(_configs(arch, k, device.type))]


def _sides(arch: str, k: int, batch: Batch, teacher: TeacherOutput, steps: int, device: torch.device, root: Path):
    """Both sides' step functions, each over its own K students built alike (same seeds and configs)."""
    students = _students(arch, k, device, root / "loop")
    stacked = _students(arch, k, device, root / "batched")
    for s in students + stacked:
        s.start_epoch()
    block = StudentBlock(stacked)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def loop() -> None:
        for step in range(steps):
            for s in students:
                s.train_step(batch, teacher, epoch=1, step=step + 1)
        sync()

    def batched() -> None:
        for step in range(steps):
            block.train_step(batch, teacher, epoch=1, step=step + 1)
        sync()

    return {"loop": loop, "batched": batched}


def run(device: str = "cpu", *, ks: tuple[int, ...] = (2, 4, 8), archs: tuple[str, ...] = tuple(ARCHS),
        batch: int = 64, rounds: int = 3, steps: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One row per (arch, K): ms per batch of each side and the speed-up loop / batched (median, spread)."""
    dev = torch.device(device)
    steps = {**STEPS, **(steps or {})}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in (a for a in archs if a in MODELS):
            classes = ARCHS[arch]
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(batch, 3, 32, 32, generator=gen).to(dev)
            y = torch.randint(0, classes, (batch,), generator=gen).to(dev)
            data = Batch(x, y, torch.arange(batch, device=dev))
            teacher = TeacherOutput(logits=torch.randn(batch, classes, generator=gen).to(dev))
            for k in ks:
                n = steps[arch]
                timed = alternate(_sides(arch, k, data, teacher, n, dev, Path(tmp) / f"{arch}{k}"), rounds=rounds)
                seconds = timed.cpu if dev.type == "cpu" else timed.times
                ratio = timed.cpu_ratio("loop", "batched") if dev.type == "cpu" else timed.ratio("loop", "batched")
                rows.append({
                    "arch": arch, "K": k, "batch": batch, "device": dev.type,
                    "loop_ms": 1000 * statistics.median(seconds["loop"]) / n,
                    "batched_ms": 1000 * statistics.median(seconds["batched"]) / n,
                    "speedup": ratio.median, "spread": [min(ratio.values), max(ratio.values)], "rounds": rounds,
                })
                print(_line(rows[-1]), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    lo, hi = row["spread"]
    return (f"| {row['arch']} | {row['K']} | {row['loop_ms']:.1f} | {row['batched_ms']:.1f} | "
            f"{row['speedup']:.2f}x ({lo:.2f}..{hi:.2f}) |")


def gpu_check(device: str, tiny: bool) -> list[dict[str, Any]]:
    """Part d of benchmarks/gpu_check.py: full sizes on CUDA; on the CPU K = 2, 4 of the digits
    student at batch 8, one round (a check that the path runs, not a figure)."""
    if tiny:
        return run(device, ks=(2, 4), archs=("digits_student",), batch=8, rounds=1, steps={"digits_student": 3})
    return run(device, rounds=3, steps={"digits_student": 20, "cifar_resnet8x4": 10})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--k", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="CPU threads (1: as each job of a CPU sweep runs)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(machine())
    print(f"students' forward + backward + step per batch of {args.batch}, {args.rounds} rounds after a warm-up; "
          f"speed-up = loop / batched")
    print("| student | K | loop ms | batched ms | speed-up (spread) |\n|---|---|---|---|---|")
    run(args.device, ks=tuple(args.k), archs=tuple(args.archs), batch=args.batch, rounds=args.rounds)


if __name__ == "__main__":
    main()
