"""Fused groups vs one run at a time: the speed-up of training K KD students in one process.

A fused group loads and augments each batch once and runs the teacher forward once for all
K students; trained one by one, each run pays for both itself. This script trains the same
K runs both ways, side by side in one process and on the same thread budget, checks that
the metrics agree exactly, and prints the time ratio (machines here are noisy: only the
ratio, measured in one run, means anything).

    .venv/bin/python benchmarks/fused_vs_solo.py [--students 6] [--epochs 3] [--repeats 2]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch

from kdsweep.engine import train_group
from kdsweep.engine.logger import MemoryLogger
from kdsweep.spec.resolve import resolve_run_config


def configs(k: int, epochs: int, teacher_ckpt: str) -> list[dict]:
    base = {
        "epochs": epochs,
        "data": {"name": "digits", "batch_size": 64, "workers": 0, "limit": 600},
        "student": {"arch": "digits_student"},
        "teacher": {"arch": "digits_teacher", "checkpoint": teacher_ckpt},
        "optim": {"lr": 0.05},
        "loss": {"kd": {"T": 4.0, "alpha": 0.9}},
    }
    out = []
    for i in range(k):
        cfg = copy.deepcopy(base)
        cfg["loss"]["kd"]["T"] = 1.0 + i
        cfg["optim"]["lr"] = 0.02 + 0.01 * i
        out.append(resolve_run_config(cfg))
    return out


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from kdsweep.engine.models import build_model

        teacher = build_model({"arch": "digits_teacher", "num_classes": 10, "cifar": False, "head": None,
                               "kwargs": {}, "init": None, "freeze": []}, 10)
        ckpt = tmp / "teacher.pt"
        torch.save(teacher.state_dict(), ckpt)
        cfgs = configs(args.students, args.epochs, str(ckpt))

        solo_times, fused_times = [], []
        for rep in range(args.repeats):
            def solo(rep=rep):
                return [train_group([c], workdirs=[tmp / f"solo{rep}_{i}"], loggers=[MemoryLogger()])[0]
                        for i, c in enumerate(cfgs)]

            def fused(rep=rep):
                return train_group(cfgs, workdirs=[tmp / f"fused{rep}_{i}" for i in range(len(cfgs))],
                                   loggers=[MemoryLogger() for _ in cfgs])

            t_solo, solo_results = timed(solo)
            t_fused, fused_results = timed(fused)
            solo_times.append(t_solo)
            fused_times.append(t_fused)
            same = [a.best_val_acc1 == b.best_val_acc1 for a, b in zip(solo_results, fused_results, strict=True)]
            print(f"repeat {rep + 1}: {args.students} runs one by one {t_solo:.1f} s, as one group {t_fused:.1f} s, "
                  f"ratio {t_solo / t_fused:.2f}x; best top-1 identical for {sum(same)}/{len(same)} runs")
        ratio = sum(solo_times) / sum(fused_times)
        print(f"fused group speed-up over one-by-one: {ratio:.2f}x "
              f"({args.students} digits students, {args.epochs} epochs, {args.threads} thread(s), "
              f"{args.repeats} repeats)")


if __name__ == "__main__":
    main()
