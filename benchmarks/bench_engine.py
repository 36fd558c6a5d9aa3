"""Benchmark 1, engine overhead: `train_group` for one KD run vs a bare hand-written loop.

Both sides train the same digits_student from the same digits_teacher (random weights: speed
does not depend on them) with Hinton KD, SGD + nesterov, a per-step cosine schedule, batch 64,
the same uint8 data already in memory, the same augmentation (pad-and-random-crop done on the
batch), and evaluate on the val split after every epoch. The engine side goes through
`train_group` with a logger that drops everything (it still writes last.pt / best.pt each epoch
and profiles the student at the end, as a real run does). A third side is the bare loop plus
a per-step finiteness check that reads one scalar back (what the engine did before it kept
the check on the device, `engine/divergence.py`), which prices that host sync.

Printed: the median per-round ratio of the training time per epoch (epochs after the first,
the steady state the engine's `images_per_s` measures; in CPU seconds, 1 thread, so a busy
machine does not decide it), and of the whole call (wall and CPU seconds).

    python benchmarks/bench_engine.py [--rounds 5] [--epochs 3] [--limit 600] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sidebyside import alternate, engine_on_cpu_clock, machine

from kdsweep.engine import train_group
from kdsweep.engine.data.build import apply_limits
from kdsweep.engine.data.digits import load_digits
from kdsweep.engine.logger import NullLogger
from kdsweep.engine.models import build_model
from kdsweep.spec.resolve import resolve_run_config

BATCH, T, ALPHA, LR, PAD = 64, 4.0, 0.9, 0.05, 2




def run_config(epochs: int, limit: int, threads: int, teacher_ckpt: str) -> dict:
    return resolve_run_config({
        "seed": 0, "epochs": epochs, "device": "cpu",
        "data": {"name": "digits", "batch_size": BATCH, "workers": 0, "limit": limit},
        "student": {"arch": "digits_student"},
        "teacher": {"arch": "digits_teacher", "checkpoint": teacher_ckpt},
        "optim": {"name": "sgd", "lr": LR, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
        "schedule": {"name": "cosine", "per": "iter"},
        "loss": {"kd": {"T": T, "alpha": ALPHA}},
        "train": {"threads": threads},
    })


class Bare:
    """The loop a careful person writes by hand for the same run (no logging, no checkpoints)."""

    def __init__(self, limit: int, teacher_state: dict, check: bool):
        raw = load_digits({"input_size": 32}, 0)
        apply_limits(raw, limit, None)
        self.raw, self.teacher_state, self.check = raw, teacher_state, check
        self.mean = torch.tensor(raw.mean).view(1, 3, 1, 1)
        self.std = torch.tensor(raw.std).view(1, 3, 1, 1)

    def augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = F.pad(x.float().div_(255), (PAD,) * 4)
        n, c, h, w = x.shape
        i = torch.randint(0, 2 * PAD + 1, (n,), generator=gen)
        j = torch.randint(0, 2 * PAD + 1, (n,), generator=gen)
        rows = (i[:, None] + torch.arange(h - 2 * PAD))[:, None, :, None]
        cols = (j[:, None] + torch.arange(w - 2 * PAD))[:, None, None, :]
        x = x[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]
        return (x - self.mean) / self.std

    def __call__(self, epochs: int) -> list[float]:
        torch.manual_seed(0)
        student = build_model({"arch": "digits_student"}, 10)
        teacher = build_model({"arch": "digits_teacher"}, 10)
        teacher.load_state_dict(self.teacher_state)
        teacher.eval().requires_grad_(False)
        opt = torch.optim.SGD(student.parameters(), lr=LR, momentum=0.9, nesterov=True, weight_decay=5e-4)
        x_all, y_all = self.raw.train_x, self.raw.train_y
        steps = math.ceil(len(y_all) / BATCH)
        total = epochs * steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * k / total)))
        val_x = (self.raw.val_x.float() / 255 - self.mean) / self.std
        train_s = []
        for epoch in range(epochs):
            t0 = time.process_time()
            gen = torch.Generator().manual_seed(epoch)
            order = torch.randperm(len(y_all), generator=gen)
            student.train()
            for k in range(steps):
                idx = order[k * BATCH:(k + 1) * BATCH]
                x, y = self.augment(x_all[idx], gen), y_all[idx]
                with torch.no_grad():
                    t_logits = teacher(x)
                logits = student(x)
                soft = F.kl_div(F.log_softmax(logits / T, 1), F.log_softmax(t_logits / T, 1),
                                reduction="batchmean", log_target=True)
                loss = (1 - ALPHA) * F.cross_entropy(logits, y) + ALPHA * T * T * soft
                if self.check and not bool(torch.isfinite(loss)):
                    raise FloatingPointError("diverged")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            train_s.append(time.process_time() - t0)
            student.eval()
            with torch.no_grad():
                for k in range(0, len(val_x), BATCH):
                    student(val_x[k:k + BATCH]).argmax(1).eq(self.raw.val_y[k:k + BATCH]).sum()
        return train_s


def engine_side(cfg: dict, root: Path):
    count = [0]

    def run() -> list[float]:
        count[0] += 1
        result = train_group([cfg], workdirs=[root / f"engine{count[0]}"], loggers=[NullLogger()])[0]
        n = cfg["data"]["limit"]
        return [n / row["images_per_s"] for row in result.history]

    return run


def steady(train_s: object) -> float:
    """Training seconds of the epochs after the first (the first pays for warm-up)."""
    return sum(train_s[1:]) if len(train_s) > 1 else train_s[0]  # type: ignore[index]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=600, help="train images")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    engine_on_cpu_clock()  # per-epoch train times in CPU seconds on both sides (1 thread)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.manual_seed(1)
        teacher_state = build_model({"arch": "digits_teacher"}, 10).state_dict()
        torch.save(teacher_state, root / "teacher.pt")
        cfg = run_config(args.epochs, args.limit, args.threads, str(root / "teacher.pt"))
        bare, checked = Bare(args.limit, teacher_state, False), Bare(args.limit, teacher_state, True)
        sides = alternate({"engine": engine_side(cfg, root), "bare": lambda: bare(args.epochs),
                           "bare+check": lambda: checked(args.epochs)}, rounds=args.rounds)
    print(f"# 1. engine overhead ({machine()})")
    print(f"digits_teacher -> digits_student KD, batch {BATCH}, {args.limit} train images, {args.epochs} epochs, CPU")
    print(f"  engine / bare, train time per epoch (epochs 2..): {sides.ratio_of('engine', 'bare', steady)}")
    print(f"  engine / bare, whole call (setup, val, checkpoints, profile): {sides.ratio('engine', 'bare')}")
    print(f"  engine / bare, CPU seconds of the whole call (what a busy machine distorts least): "
          f"{sides.cpu_ratio('engine', 'bare')}")
    print(f"  per-step finiteness check, bare+check / bare, train time: "
          f"{sides.ratio_of('bare+check', 'bare', steady)}")
    per_step = [(steady(c) - steady(b)) / ((args.epochs - 1) * math.ceil(args.limit / BATCH))
                for c, b in zip(sides.results["bare+check"], sides.results["bare"], strict=True)]
    per_step.sort()
    print(f"  check cost per step: median {per_step[len(per_step) // 2] * 1e6:+.0f} us "
          f"(a step here takes {steady(sides.results['bare'][0]) / ((args.epochs - 1) * math.ceil(args.limit / BATCH)) * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
