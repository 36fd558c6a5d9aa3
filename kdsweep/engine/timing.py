"""Measured costs: what a model step, and an epoch of a group, take on this machine.

`model_timings` times one model alone (a no-grad forward, as a teacher runs, and a training
step: forward, cross-entropy, backward, SGD step) on random inputs: `kdsweep profile ARCH
--bench`. `group_epoch` trains a real group (`train_group`: its data pipeline, teacher,
students, losses and val pass) for two epochs on a few batches and scales the second,
warm epoch to the full data set: what `kdsweep plan --estimate` sums.

The weights are random (a teacher stage has not trained yet when a sweep is estimated):
speed does not depend on them. Timings are medians of a few steps after a warm-up step.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kdsweep.engine import runtime
from kdsweep.engine.data.bundle import batch_spans
from kdsweep.engine.logger import NullLogger


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # CUDA only: a timer must wait for the queued kernels


def _median_seconds(fn: Callable[[], Any], steps: int, device: torch.device) -> float:
    fn()  # warm-up: allocator, lazy init, cuDNN autotuning
    times = []
    for _ in range(steps):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def model_timings(model: torch.nn.Module, *, batch_size: int, input_size: int, in_channels: int = 3,
                  num_classes: int = 10, device: str | torch.device = "auto", steps: int = 5) -> dict[str, float]:
    """Seconds per batch: `forward` (eval, no grad) and `train_step` (fwd + CE + bwd + SGD step)."""
    dev = runtime.select_device(str(device)) if not isinstance(device, torch.device) else device
    with torch.random.fork_rng(devices=[]):  # random inputs must not move the caller's stream
        model = model.to(dev)
        x = torch.randn(batch_size, in_channels, input_size, input_size, device=dev)
        y = torch.randint(0, num_classes, (batch_size,), device=dev)
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)

        @torch.no_grad()
        def forward() -> None:
            model(x)

        def step() -> None:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        model.eval()
        fwd = _median_seconds(forward, steps, dev)
        model.train()
        train = _median_seconds(step, steps, dev)
    return {"forward": fwd, "train_step": train}


@dataclass
class GroupCost:
    """A group's measured cost at full size: seconds per epoch, plus once-per-job seconds."""

    epoch_s: float  # a warm epoch: train + val, every student of the group
    setup_s: float  # once per job: data loading, model building, first-epoch warm-up, summaries
    train_batches: int
    val_batches: int




def _full_sizes(data_cfg: dict[str, Any], seed: int) -> tuple[int, int]:
    """Train and val samples of the data set as configured (limits applied), without decoding."""
    from kdsweep.engine.data.build import apply_limits, resolve_config
    from kdsweep.engine.data.raw import TensorData
    from kdsweep.engine.data.registry import DATASETS

    c = resolve_config(data_cfg)
    entry = DATASETS.get(c["name"], where="data.name")
    root = c.get("root")
    if not c["fake"]:
        raw = entry(c, seed)
    elif root and Path(root).expanduser().exists():  # fake images of a real set that is here: its size
        raw = entry({**c, "fake": False}, seed)
    elif entry.samples is not None:  # its published size
        train, val = entry.samples
        return min(train, c["limit"] or train), min(val, c["val_limit"] or val)
    else:
        from kdsweep.engine.data.fake import shaped_like

        raw = shaped_like(entry, c, seed)
    apply_limits(raw, c["limit"], c["val_limit"])
    if isinstance(raw, TensorData):
        return len(raw.train_y), len(raw.val_y)
    return len(raw.train), len(raw.val)


class _RandomWeights:
    """One saved state dict of random weights per distinct model section."""

    def __init__(self, root: Path):
        self.root, self.saved = root, {}

    def __call__(self, model_cfg: dict[str, Any], data_cfg: dict[str, Any]) -> str:
        from kdsweep.engine.data.build import dataset_info
        from kdsweep.engine.models import build_model

        plain = {k: v for k, v in model_cfg.items() if k not in ("checkpoint", "init", "freeze", "run", "key")}
        name = repr(sorted((k, repr(v)) for k, v in plain.items()))
        if name not in self.saved:
            classes = plain.get("num_classes") or \
                dataset_info(data_cfg["name"], data_cfg.get("root"), data_cfg.get("num_classes"))["num_classes"] or 10
            model = build_model({**plain, "init": None, "freeze": []}, int(classes), where="estimate")
            self.saved[name] = str(self.root / f"weights{len(self.saved)}.pt")
            torch.save(model.state_dict(), self.saved[name])
        return self.saved[name]


def short_configs(configs: list[dict[str, Any]], root: Path, steps: int, n_train: int,
                  n_val: int) -> list[dict[str, Any]]:
    """The group's configs for a short measuring run: `steps` batches, two epochs, random
    teacher / init weights (saved under `root`), no early stop. Also benchmarks/gpu_check.py's:
    every shipped sweep's groups on the device."""
    weights = _RandomWeights(root)
    out = []
    for cfg in configs:
        cfg = copy.deepcopy(cfg)
        data = cfg["data"]
        val_batch = data.get("val_batch_size") or data["batch_size"]
        data["limit"] = min(n_train, steps * data["batch_size"])
        data["val_limit"] = min(n_val, max(1, steps // 2) * val_batch)
        cfg["epochs"] = 2
        cfg["train"]["patience"] = None
        if cfg.get("teacher"):
            cfg["teacher"]["checkpoint"] = weights(cfg["teacher"], data)
        if cfg["student"].get("init"):
            cfg["student"]["init"] = {**cfg["student"]["init"], "checkpoint": weights(cfg["student"], data)}
        out.append(cfg)
    return out


def group_epoch(configs: list[dict[str, Any]], *, steps: int = 4, device: str = "auto") -> GroupCost:
    """Train the group for 2 short epochs of `steps` batches and scale to its full data set."""
    from kdsweep.engine.train import train_group

    first = configs[0]
    dev = runtime.select_device(device if device != "auto" else first.get("device", "auto"))
    runtime.configure(first["train"], dev)
    t0 = time.perf_counter()
    n_train, n_val = _full_sizes(first["data"], int(first["seed"]))
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="kdsweep-estimate-") as tmp, torch.random.fork_rng(devices=[]):
        root = Path(tmp)
        short = short_configs(configs, root, steps, n_train, n_val)
        t0 = time.perf_counter()
        results = train_group(short, workdirs=[root / f"run{i}" for i in range(len(short))],
                              loggers=[NullLogger() for _ in short], device=str(dev))
        wall = time.perf_counter() - t0
    rows = next((r.history for r in results if len(r.history) == 2), None)
    if rows is None:
        reasons = "; ".join(sorted({r.reason or r.status for r in results}))
        raise RuntimeError(f"the measuring run did not train two epochs ({reasons})")
    data = short[0]["data"]
    batch, val_batch = data["batch_size"], data.get("val_batch_size") or data["batch_size"]
    n_limited = data["limit"] * _copies(data)
    train_s = [n_limited / r["images_per_s"] for r in rows]
    val_s = [r["epoch_s"] - t for r, t in zip(rows, train_s, strict=True)]
    spans = (len(batch_spans(n_limited, batch)), len(batch_spans(data["val_limit"], val_batch)))
    full = (len(batch_spans(n_train * _copies(data), batch)), len(batch_spans(n_val, val_batch)))
    epoch = train_s[1] / spans[0] * full[0] + val_s[1] / spans[1] * full[1]
    # Once per job: what the short run spent outside its epochs, the first epoch's extra time
    # (warm-up), and loading the full data set (the short run loaded a subset).
    setup = max(0.0, wall - sum(r["epoch_s"] for r in rows)) + max(0.0, rows[0]["epoch_s"] - rows[1]["epoch_s"])
    return GroupCost(epoch_s=epoch, setup_s=setup + load_s, train_batches=full[0], val_batches=full[1])


def _copies(data_cfg: dict[str, Any]) -> int:
    copies = data_cfg.get("copies")
    return len(copies) if isinstance(copies, list) and copies else 1
