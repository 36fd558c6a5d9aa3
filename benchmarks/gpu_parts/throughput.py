"""Part c: images/s of one KD student, of fused groups of K students and of the teacher alone;
peak device memory per student (the data path is part c2, data_path.py).

The pair is the CIFAR zoo's resnet32x4 -> resnet8x4 (mdistiller's headline pair) where it is
registered, else the largest CIFAR pair kdsweep has: picked at run time from `PAIRS`. CIFAR-100's
shape (100 classes, 32 px) on `fake` data, random weights (speed does not depend on them).
The groups train through `train_group` for two epochs; the second (warm) epoch's
`images_per_s` is read, the engine's own figure (its epoch timer ends after the epoch's one
device read, so the queued work is counted). K students' runs are bench_fused.py's T x alpha grid.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from bench_fused import K_GRID

from gpu_parts.common import MEASURED, Context, PartResult

TITLE = "c. throughput: one KD student, fused groups of K, the teacher alone; peak memory"
CORRECTNESS = False
PAIRS = [("cifar_resnet32x4", "cifar_resnet8x4"), ("efficientnet_cifar_b3", "efficientnet_cifar_b0")]
CLASSES, SIZE = 100, 32  # CIFAR-100


def pick_pair() -> tuple[str, str]:
    from kdsweep.engine.models import MODELS

    return next((t, s) for t, s in PAIRS if t in MODELS and s in MODELS)


def group_configs(
    k: int, teacher: str, student: str, ckpt: Path, ctx: Context, amp: str
) -> list[dict[str, Any]]:
    from kdsweep.spec.resolve import resolve_run_config

    b, steps = ctx.sizes.throughput_batch, ctx.sizes.throughput_steps
    return [
        resolve_run_config(
            {
                "seed": 0,
                "epochs": 2,
                "device": str(ctx.device),
                "data": {
                    "name": "fake",
                    "num_classes": CLASSES,
                    "input_size": SIZE,
                    "batch_size": b,
                    "workers": 0,
                    "limit": steps * b,
                    "val_limit": b,
                },
                "student": {"arch": student},
                "teacher": {"arch": teacher, "checkpoint": str(ckpt)},
                "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4},
                "schedule": {"name": "cosine", "per": "iter"},
                "loss": {"kd": {"T": T, "alpha": alpha}},
                "train": {"amp": amp},
            }
        )
        for T, alpha in K_GRID[:k]
    ]


def train_row(k: int, configs: list[dict[str, Any]], ctx: Context, folder: Path) -> dict[str, Any]:
    from kdsweep.engine import train_group
    from kdsweep.engine.logger import NullLogger

    if ctx.cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(ctx.device)
    results = train_group(
        configs,
        workdirs=[folder / f"k{k}_{i}" for i in range(k)],
        loggers=[NullLogger() for _ in configs],
        device=str(ctx.device),
    )
    bad = [f"{r.status}: {r.reason}" for r in results if r.status != "FINISHED"]
    if bad:
        raise RuntimeError(f"K = {k}: {bad[0]}")
    per_run = results[0].history[-1]["images_per_s"]  # each run's images over the group's train time
    row = {
        "what": f"KD student{'s' if k > 1 else ''} x {k}, AMP {configs[0]['train']['amp']}",
        "images/s per student": round(per_run, 1),
        "student images/s": round(k * per_run, 1),
    }
    row["peak MiB"] = (
        round(torch.cuda.max_memory_allocated(ctx.device) / 2**20, 1) if ctx.cuda else "not measured"
    )
    return row


def run(ctx: Context, result: PartResult) -> None:
    from kdsweep.engine.models import build_model
    from kdsweep.engine.timing import model_timings

    sizes = ctx.sizes
    teacher, student = sizes.throughput_pair or pick_pair()
    result.status = MEASURED
    result.reason = (
        f"{teacher} -> {student}, {CLASSES} classes, {SIZE} px, batch {sizes.throughput_batch}, "
        f"batches per epoch: {sizes.throughput_steps}, on {ctx.device.type}"
    )
    folder = ctx.work / "throughput"
    folder.mkdir(parents=True, exist_ok=True)
    ckpt = folder / "teacher.pt"
    torch.manual_seed(0)
    torch.save(build_model({"arch": teacher}, CLASSES, where="teacher").state_dict(), ckpt)

    b = sizes.throughput_batch
    t = model_timings(
        build_model({"arch": teacher}, CLASSES),
        batch_size=b,
        input_size=SIZE,
        num_classes=CLASSES,
        device=ctx.device,
        steps=sizes.teacher_steps,
    )
    s = model_timings(
        build_model({"arch": student}, CLASSES),
        batch_size=b,
        input_size=SIZE,
        num_classes=CLASSES,
        device=ctx.device,
        steps=sizes.teacher_steps,
    )
    result.rows.append(
        {
            "what": f"teacher {teacher} forward alone (no grad, fp32)",
            "student images/s": "",
            "images/s per student": round(b / t["forward"], 1),
            "peak MiB": "",
        }
    )
    result.rows.append(
        {
            "what": f"student {student} training step alone (CE, SGD, fp32, no engine)",
            "student images/s": "",
            "images/s per student": round(b / s["train_step"], 1),
            "peak MiB": "",
        }
    )

    runs = [(1, "off"), *((k, "off") for k in sizes.ks)] + ([(max(sizes.ks), "bf16")] if ctx.cuda else [])
    solo = None
    for k, amp in runs:
        t0 = time.perf_counter()
        row = train_row(k, group_configs(k, teacher, student, ckpt, ctx, amp), ctx, folder)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        if k == 1 and amp == "off":
            solo = row
        elif solo is not None:
            row["speed-up vs K solo runs"] = round(row["student images/s"] / solo["images/s per student"], 2)
            ideal = k * (t["forward"] + s["train_step"]) / (t["forward"] + k * s["train_step"])
            row["ideal"] = round(ideal, 2)
        result.rows.append(row)
    _memory_note(ctx, result)
    result.notes.append(
        "Ideal speed-up of a fused group (teacher forward t, student step s, data not counted): "
        "K (t + s) / (t + K s)."
    )


def _memory_note(ctx: Context, result: PartResult) -> None:
    if not ctx.cuda:
        result.notes.append(
            "Peak device memory: not measured on the CPU (torch.cuda.max_memory_allocated only)."
        )
        return
    peaks = {r["what"]: r["peak MiB"] for r in result.rows if isinstance(r.get("peak MiB"), float)}
    ks = sorted(ctx.sizes.ks)
    lo = next(v for w, v in peaks.items() if w.endswith(f"x {ks[0]}, AMP off"))
    hi = next(v for w, v in peaks.items() if w.endswith(f"x {ks[-1]}, AMP off"))
    result.notes.append(
        f"Peak device memory per added student (K = {ks[0]} -> {ks[-1]}, AMP off): "
        f"{(hi - lo) / (ks[-1] - ks[0]):.1f} MiB; the whole group's peak is in the table."
    )
