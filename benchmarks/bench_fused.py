"""Benchmark 2, fused sweep: K = 8 KD students sharing one teacher, as one group vs K runs.

A T x alpha grid (T 1, 2, 4, 8 x alpha 0.5, 0.9) of digits_student from a digits_teacher,
whose no-grad forward costs at least twice a student's training step, at 32x32 and 64x64
(the digits rendered at that size). Both sides go through `train_group`: once with all K
configs (one data pipeline and one teacher forward per batch), once per config. Compared is
the training time of the epochs after the first (from each run's `images_per_s`), beside
the ideal speed-up from the measured parts, K (t + s + d) / (t + K s + d): t a teacher
forward, s a student step, d a batch of data (median CPU seconds over 9 batches, same sizes:
CPU time, because a loaded machine stretches wall time at random).

Peak memory of each side is measured once in a fresh subprocess, as the peak resident set
size (sampled every 2 ms) above the process's size after a warm-up run: in one process the
allocator keeps what the other side freed. On CUDA it would be torch.cuda.max_memory_allocated.

    python benchmarks/bench_fused.py [--rounds 3] [--sizes 32 64] [--limit 192] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from sidebyside import PeakRss, Ratio, alternate, engine_on_cpu_clock, machine

from kdsweep.engine import train_group
from kdsweep.engine.data import build_data
from kdsweep.engine.logger import NullLogger
from kdsweep.engine.models import build_model
from kdsweep.spec.resolve import resolve_run_config

K_GRID = [(t, a) for t in (1.0, 2.0, 4.0, 8.0) for a in (0.5, 0.9)]
BATCH = 64
# digits_teacher at twice its default widths (~15M multiply-adds per 32x32 image, 1.5M parameters):
# its forward costs several student steps, as a ResNet-50 teacher does for a ResNet-18 student.
TEACHER = {"arch": "digits_teacher", "kwargs": {"widths": [64, 128, 256, 512]}}


def configs(size: int, limit: int, threads: int, teacher_ckpt: str) -> list[dict]:
    out = []
    for T, alpha in K_GRID:
        out.append(resolve_run_config({
            "seed": 0, "epochs": 2, "device": "cpu",
            "data": {"name": "digits", "batch_size": BATCH, "workers": 0, "limit": limit, "val_limit": 64,
                     "input_size": size},
            "student": {"arch": "digits_student"},
            "teacher": {**TEACHER, "checkpoint": teacher_ckpt},
            "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
            "schedule": {"name": "cosine"},
            "loss": {"kd": {"T": T, "alpha": alpha}},
            "train": {"threads": threads},
        }))
    return out


class Sides:
    def __init__(self, cfgs: list[dict], root: Path):
        self.cfgs, self.root, self.count = cfgs, root, 0
        self.n = cfgs[0]["data"]["limit"]

    def _train(self, cfgs: list[dict]) -> float:
        self.count += 1
        dirs = [self.root / f"c{self.count}_{i}" for i in range(len(cfgs))]
        results = train_group(cfgs, workdirs=dirs, loggers=[NullLogger() for _ in cfgs])
        if any(r.status != "FINISHED" for r in results):
            raise SystemExit(f"a run did not finish: {[r.reason for r in results]}")
        # A group's images_per_s is each run's images over the group's train time: one group time.
        return self.n / results[0].history[-1]["images_per_s"]

    def solo(self) -> float:
        return sum(self._train([c]) for c in self.cfgs)

    def fused(self) -> float:
        return self._train(self.cfgs)


def _cpu_median(fn, steps: int) -> float:
    """Median CPU seconds of fn() (1 thread: CPU time is what the step costs, however busy the machine)."""
    fn()
    times = []
    for _ in range(steps):
        c0 = time.process_time()
        fn()
        times.append(time.process_time() - c0)
    return statistics.median(times)


def parts(cfg: dict, steps: int = 9) -> dict[str, float]:
    """Median CPU seconds per batch: teacher forward t, student step s (CE + KD), data d."""
    import torch.nn.functional as F

    teacher = build_model(cfg["teacher"], 10, where="teacher").eval()
    student = build_model(cfg["student"], 10).train()
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    bundle = build_data(cfg["data"], seed=0, device=torch.device("cpu"))
    first = next(iter(bundle.train.batches(0)))
    x, y = first.x, first.y
    with torch.no_grad():
        t_logits = teacher(x)

    def teach() -> None:
        with torch.no_grad():
            teacher(x)

    def step() -> None:
        logits = student(x)
        kd = F.kl_div(F.log_softmax(logits / 4, 1), F.log_softmax(t_logits / 4, 1), reduction="batchmean",
                      log_target=True)
        loss = 0.1 * F.cross_entropy(logits, y) + 0.9 * 16 * kd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def data() -> None:
        for _ in bundle.train.batches(1):
            pass

    return {"t": _cpu_median(teach, steps), "s": _cpu_median(step, steps),
            "d": _cpu_median(data, steps) / len(bundle.train)}


def peak_memory(side: str, size: int, limit: int, threads: int) -> int:
    """Peak RSS growth (bytes) of one call of `side`, in a fresh process."""
    out = subprocess.run([sys.executable, __file__, "--memory-side", side, "--sizes", str(size),
                          "--limit", str(limit), "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["peak_bytes"])


def _memory_side(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.save(build_model(TEACHER, 10).state_dict(), root / "t.pt")
        sides = Sides(configs(args.sizes[0], args.limit, args.threads, str(root / "t.pt")), root)
        sides._train(sides.cfgs[:1])  # warm-up: lazy imports and first-call allocations are not the side's
        with PeakRss() as peak:
            getattr(sides, args.memory_side)()
    print(json.dumps({"peak_bytes": peak.above_start}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--limit", type=int, default=192, help="train images (3 batches of 64)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory-side", choices=["solo", "fused"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_side:
        return _memory_side(args)
    torch.set_num_threads(args.threads)
    engine_on_cpu_clock()  # the engine's train time in CPU seconds, like the parts
    k = len(K_GRID)
    print(f"# 2. fused sweep ({machine()})")
    print(f"K = {k} digits_student KD runs (T x alpha) from one digits_teacher, batch {BATCH}, {args.limit} train "
          "images, CPU, 1 thread; speed-up = K runs one by one / one group, CPU seconds of epoch 2's training")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch.save(build_model(TEACHER, 10).state_dict(), root / "t.pt")
        for size in args.sizes:
            cfgs = configs(size, args.limit, args.threads, str(root / "t.pt"))
            p = parts(cfgs[0])
            sides = Sides(cfgs, root / str(size))
            measured = alternate({"solo": sides.solo, "fused": sides.fused}, rounds=args.rounds)
            speedup = measured.ratio_of("solo", "fused", float)
            whole = measured.ratio("solo", "fused")
            ideal = k * (p["t"] + p["s"] + p["d"]) / (p["t"] + k * p["s"] + p["d"])
            share = Ratio([v / ideal for v in speedup.values])
            mem = {side: peak_memory(side, size, args.limit, args.threads) for side in ("solo", "fused")}
            print(f"{size}x{size}: t {p['t'] * 1e3:.1f} ms, s {p['s'] * 1e3:.1f} ms, d {p['d'] * 1e3:.2f} ms "
                  f"per batch (t / s = {p['t'] / p['s']:.1f})")
            print(f"  speed-up, training time: {speedup}; ideal {ideal:.2f}x; measured / ideal {share}")
            print(f"  speed-up, whole calls (setup, val, checkpoints, summaries): {whole}; "
                  f"in CPU seconds: {measured.cpu_ratio('solo', 'fused')}")
            print(f"  peak RSS growth: {k} runs one by one {mem['solo'] / 2**20:.1f} MiB, "
                  f"one group {mem['fused'] / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
