"""Acceptance check on the embedded digits data: teacher, plain student, KD student.

Trains a `digits_teacher` from scratch on the full train split, then `digits_student`s
without KD and with Hinton KD (T=4, alpha=0.9) from that teacher's best checkpoint, on
the full train split and on a small subset of it (where a teacher's soft labels matter
most), over several seeds. Everything runs on the CPU through `kdsweep.engine.train_run`;
it prints each row's best val top-1 (mean +- sd over seeds) and seconds per run.

    .venv/bin/python benchmarks/digits_kd.py [--epochs 10] [--seeds 0 1 2] [--limits 0 300] [--threads 1]

--threads 1 is the default because a shared 2-core machine makes OpenMP threads spin
against each other; on an idle machine pass the core count.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from kdsweep.engine import train_run


def base(arch: str, epochs: int, seed: int, threads: int | None, limit: int | None = None) -> dict:
    return {
        "seed": seed,
        "epochs": epochs,
        "device": "cpu",
        "data": {"name": "digits", "batch_size": 64, "workers": 0, "limit": limit},
        "student": {"arch": arch},
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        "schedule": {"name": "cosine"},
        "train": {"threads": threads},
    }


def timed(config: dict, workdir: Path) -> tuple[float, float, Path | None]:
    t0 = time.perf_counter()
    result = train_run(config, workdir=workdir)
    seconds = time.perf_counter() - t0
    if result.status != "FINISHED":
        raise SystemExit(f"{workdir.name}: {result.status} ({result.reason})")
    return result.best_val_acc1, seconds, result.best_checkpoint


def row(name: str, accs: list[float], secs: list[float]) -> str:
    acc = f"{statistics.mean(accs):.2f}" + (f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else "")
    each = ", ".join(f"{a:.2f}" for a in accs)
    return f"{name:46s} {acc:>14s}  [{each}]  {statistics.mean(secs):6.1f} s/run"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10, help="student epochs on the full train split")
    ap.add_argument("--subset-epochs", type=int, default=20, help="student epochs on a subset")
    ap.add_argument("--teacher-epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--limits", type=int, nargs="+", default=[0, 300], help="train images; 0: all 1437")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kdsweep-digits-kd-"))
    t_acc, t_s, t_ckpt = timed(base("digits_teacher", args.teacher_epochs, 0, args.threads), root / "teacher")
    lines = [row(f"teacher digits_teacher, {args.teacher_epochs} ep", [t_acc], [t_s])]
    for limit in args.limits:
        epochs = args.epochs if not limit else args.subset_epochs
        label = f"{limit} train imgs" if limit else "all train imgs"
        plain, kd = ([], []), ([], [])
        for seed in args.seeds:
            cfg = base("digits_student", epochs, seed, args.threads, limit or None)
            acc, s, _ = timed(cfg, root / f"plain-l{limit}-s{seed}")
            plain[0].append(acc)
            plain[1].append(s)
            cfg["teacher"] = {"arch": "digits_teacher", "checkpoint": str(t_ckpt)}
            cfg["loss"] = {"kd": {"T": 4.0, "alpha": 0.9}}
            acc, s, _ = timed(cfg, root / f"kd-l{limit}-s{seed}")
            kd[0].append(acc)
            kd[1].append(s)
        lines.append(row(f"student, no KD, {label}, {epochs} ep", *plain))
        lines.append(row(f"student + KD T=4 a=0.9, {label}, {epochs} ep", *kd))

    print(f"digits on the CPU ({args.threads} thread(s)); val = 360 held-out images; seeds {args.seeds}; "
          f"workdirs under {root}")
    print(f"{'run':46s} {'best val top-1':>14s}  per seed  seconds")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
