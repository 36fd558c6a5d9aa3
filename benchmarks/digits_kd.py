"""Acceptance check on the embedded digits data: teacher, plain student, KD student.

Trains a `digits_teacher` from scratch, then a `digits_student` without KD and one with
Hinton KD (T=4, alpha=0.9) from that teacher's best checkpoint, all on the CPU through
`kdsweep.engine.train_run`, and prints each run's best val top-1 and wall seconds.

    .venv/bin/python benchmarks/digits_kd.py [--epochs 15] [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kdsweep.engine import train_run


def base(arch: str, epochs: int, seed: int, threads: int | None) -> dict:
    return {
        "seed": seed,
        "epochs": epochs,
        "device": "cpu",
        "data": {"name": "digits", "batch_size": 64, "workers": 0},
        "student": {"arch": arch},
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        "schedule": {"name": "cosine"},
        "train": {"threads": threads},
    }


def timed(config: dict, workdir: Path):
    t0 = time.perf_counter()
    result = train_run(config, workdir=workdir)
    seconds = time.perf_counter() - t0
    if result.status != "FINISHED":
        raise SystemExit(f"{workdir.name}: {result.status} ({result.reason})")
    return result, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--teacher-epochs", type=int, default=15)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kdsweep-digits-kd-"))
    teacher, t_s = timed(base("digits_teacher", args.teacher_epochs, 0, args.threads), root / "teacher")
    rows = [("teacher (digits_teacher)", [teacher.best_val_acc1], [t_s])]
    plain, kd, plain_s, kd_s = [], [], [], []
    for seed in args.seeds:
        r, s = timed(base("digits_student", args.epochs, seed, args.threads), root / f"student-s{seed}")
        plain.append(r.best_val_acc1)
        plain_s.append(s)
        cfg = base("digits_student", args.epochs, seed, args.threads)
        cfg["teacher"] = {"arch": "digits_teacher", "checkpoint": str(teacher.best_checkpoint)}
        cfg["loss"] = {"kd": {"T": 4.0, "alpha": 0.9}}
        r, s = timed(cfg, root / f"kd-student-s{seed}")
        kd.append(r.best_val_acc1)
        kd_s.append(s)
    rows += [("student (digits_student), no KD", plain, plain_s),
             ("student + KD (T=4, alpha=0.9)", kd, kd_s)]

    print(f"digits, CPU, student epochs {args.epochs}, teacher epochs {args.teacher_epochs}, "
          f"seeds {args.seeds}, workdirs under {root}")
    print(f"{'run':34s} {'best val top-1 (%)':>28s} {'seconds':>10s}")
    for name, accs, secs in rows:
        acc = f"{statistics.mean(accs):.2f}" + (f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else "")
        each = " [" + ", ".join(f"{a:.2f}" for a in accs) + "]" if len(accs) > 1 else ""
        print(f"{name:34s} {acc + each:>28s} {statistics.mean(secs):10.1f}")


if __name__ == "__main__":
    main()
