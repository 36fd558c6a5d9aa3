"""One student of a group: its model, loss terms, optimiser, schedule, scaler and RNG stream.

A group trains K students on the same batches; each `Student` owns everything that makes
its run differ from its neighbours, so the group loop (train.py) only hands batches and
teacher outputs around. Its training step is mdistiller's: the forward gives logits, the
loss set gives a dict of named weighted terms, the total is their sum.

Every step and every evaluation runs inside `self.rng.active()`: the student draws its
dropout masks and random vectors from its own stream, never from a neighbour's, which is
why a group reproduces each of its runs trained alone bit for bit (on the CPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.engine import runtime
from kdsweep.engine.data import Batch
from kdsweep.engine.divergence import DivergenceWatch
from kdsweep.engine.features import FeatureHooks
from kdsweep.engine.logger import RunLogger
from kdsweep.engine.losses import LossContext
from kdsweep.engine.models import apply_freeze_mode, build_model
from kdsweep.engine.models.heads import apply_margin, cosine_head_of
from kdsweep.engine.optim import build_optimizer, clip_gradients
from kdsweep.engine.schedules import build_schedule
from kdsweep.metric_names import loss_metric


@dataclass
class TeacherOutput:
    """The teacher's answer to one batch, shared by every student of the group."""

    logits: torch.Tensor | None = None
    feats: dict[str, torch.Tensor] = field(default_factory=dict)


class EpochMeter:
    """Running sums for one epoch, kept on the device so adding a batch costs no sync."""

    def __init__(self, device: torch.device):
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.n = 0

    def add(self, name: str, value: torch.Tensor) -> None:
        value = value.detach().float()
        self.sums[name] = self.sums[name] + value if name in self.sums else value

    def mean(self) -> dict[str, float]:
        """Each sum divided by the sample count: one device sync for the whole epoch."""
        if not self.sums or self.n == 0:
            return {}
        names = list(self.sums)
        values = torch.stack([self.sums[k] for k in names]).cpu().tolist()
        return {k: v / self.n for k, v in zip(names, values, strict=True)}


class Student:
    """A run's trainable state; built by `build_student`, stepped by the group loop."""

    def __init__(self, config: dict[str, Any], workdir: Path, logger: RunLogger, device: torch.device):
        self.config = config
        self.workdir = Path(workdir)
        self.logger = logger
        self.device = device
        self.amp = runtime.amp_dtype(config["train"], device)
        self.channels_last = bool(config["train"].get("channels_last"))
        self.grad_clip = config["optim"].get("grad_clip")
        self.patience = config["train"].get("patience")
        # Filled by build_student / load_state:
        self.model: nn.Module
        self.forward: Any
        self.losses: Any
        self.hooks: FeatureHooks | None = None
        self.train_labels: torch.Tensor | None = None  # the train split's labels, for the losses
        self.optimizer: torch.optim.Optimizer
        self.schedule: torch.optim.lr_scheduler.LambdaLR
        self.scaler: torch.amp.GradScaler
        self.rng: runtime.RngStream
        self.trainable: list[torch.Tensor] = []
        # Progress, saved in last.pt:
        self.epoch = 0  # last finished epoch (1-based); 0 before the first
        self.best_val_acc1 = -math.inf
        self.best_epoch = 0
        self.history: list[dict[str, float]] = []
        self.stop_reason: str | None = None  # early stop: the run is done before `epochs`
        # This session only:
        self.train_meter = EpochMeter(device)
        self.val_meter = EpochMeter(device)
        self.epoch_lr: float | None = None
        self.watch = DivergenceWatch()

    # Training ------------------------------------------------------------------------

    def start_epoch(self) -> None:
        self.model.train()
        apply_freeze_mode(self.model)
        self.train_meter = EpochMeter(self.device)
        self.val_meter = EpochMeter(self.device)
        self.epoch_lr = float(self.optimizer.param_groups[0]["lr"])
        self.watch.reset()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def margin_logits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """AM-softmax logits for the hard-label loss when the cosine head has a margin m > 0."""
        if y.is_floating_point():
            return None
        marked = apply_margin(self.margin_head, logits, y)
        return None if marked is logits else marked

    def train_step(self, batch: Batch, teacher: TeacherOutput, *, epoch: int, step: int) -> torch.Tensor:
        """One optimiser step on the batch; returns its total loss (on the device, not read back).

        `epoch` (1-based, as mdistiller counts it) and `step` (1-based within the epoch) go
        to the losses with the batch's sample indices and the train split's labels (DKD's warm-up,
        CRD's bank): the whole `LossContext` contract.
        A non-finite loss is noted on the device, not read back (`divergence`): the group
        asks `diverged()` once, at the epoch's end.
        """
        x, y = batch.x, batch.y
        with self.rng.active():
            with runtime.autocast(self.device, self.amp):
                logits = self.forward(self._input(x))
                ctx = LossContext(
                    student_logits=logits,
                    labels=y,
                    teacher_logits=teacher.logits,
                    student_feats=self.hooks.features if self.hooks else {},
                    teacher_feats=teacher.feats,
                    margin_logits=self.margin_logits(logits, y),
                    epoch=epoch,
                    step=step,
                    indices=batch.indices,
                    train_labels=self.train_labels,
                )
                terms = self.losses(ctx)
            total = sum(terms.values())
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(total).backward()
            if self.grad_clip:
                self.scaler.unscale_(self.optimizer)
                clip_gradients(self.trainable, self.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.schedule.step()
            if self.hooks:
                self.hooks.clear()
        self.record_step(terms, total, logits, y)
        return total.detach()

    def record_step(self, terms: dict[str, torch.Tensor], total: torch.Tensor, logits: torch.Tensor,
                    y: torch.Tensor) -> None:
        """A step's losses and top-1 into the epoch's meters and the divergence watch (no host sync);
        a batched block (student_block.py) calls it with its slice of the logits."""
        self.watch.add(terms, total)
        n = y.shape[0]
        meter = self.train_meter
        meter.n += n
        meter.add("train_loss", total * n)
        for name, term in terms.items():
            meter.add(loss_metric(name), term * n)
        meter.add("train_acc1", (logits.detach().argmax(1) == y).sum() * 100.0)

    def diverged(self) -> tuple[int, str] | None:
        """(step, which term) when a loss of this epoch was not finite, else None: one device sync."""
        return self.watch.reason()

    @torch.no_grad()
    def eval_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Accumulate val loss (plain cross-entropy, comparable across loss recipes), top-1, top-5."""
        with self.rng.active(), runtime.autocast(self.device, self.amp):
            logits = self.forward(self._input(x)).float()
        if self.hooks:
            self.hooks.clear()
        meter = self.val_meter
        meter.n += y.shape[0]
        meter.add("val_loss", F.cross_entropy(logits, y, reduction="sum"))
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hit = top == y[:, None]
        meter.add("val_acc1", hit[:, 0].sum() * 100.0)
        meter.add("val_acc5", hit.any(1).sum() * 100.0)

    def end_epoch(self, epoch: int, *, epoch_s: float, train_s: float) -> dict[str, float]:
        """The epoch's metrics; updates best / patience bookkeeping (best.pt is the caller's)."""
        metrics = {**self.train_meter.mean(), **self.val_meter.mean()}
        metrics["lr"] = self.epoch_lr if self.epoch_lr is not None else float("nan")
        metrics["epoch_s"] = float(epoch_s)
        metrics["images_per_s"] = self.train_meter.n / train_s if train_s > 0 else 0.0
        self.epoch = epoch
        self.history.append({"epoch": epoch, **metrics})
        improved = metrics["val_acc1"] > self.best_val_acc1
        if improved:
            self.best_val_acc1, self.best_epoch = metrics["val_acc1"], epoch
        elif self.patience and epoch - self.best_epoch >= self.patience:
            self.stop_reason = f"early stop at epoch {epoch}"
        return metrics

    def improved_at(self, epoch: int) -> bool:
        return self.best_epoch == epoch

    # Summary -------------------------------------------------------------------------

    def summary(self) -> dict[str, float]:
        """best_val_acc1, best_epoch, final_val_acc1, train_val_gap (at the best epoch)."""
        if not self.history:
            return {}
        best = next(row for row in self.history if row["epoch"] == self.best_epoch)
        return {
            "best_val_acc1": float(self.best_val_acc1),
            "best_epoch": float(self.best_epoch),
            "final_val_acc1": float(self.history[-1]["val_acc1"]),
            "train_val_gap": float(best.get("train_acc1", float("nan")) - best["val_acc1"]),
        }

    # Checkpoint state ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        from kdsweep.engine.checkpoint import cpu_state_dict

        return {
            "epoch": self.epoch,
            "model": cpu_state_dict(self.model),
            "losses": cpu_state_dict(self.losses),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": self.rng.state_dict(),
            "best_val_acc1": float(self.best_val_acc1),
            "best_epoch": self.best_epoch,
            "history": [dict(row) for row in self.history],
            "stop_reason": self.stop_reason,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.losses.load_state_dict(state["losses"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.rng.load_state_dict(state["rng"])
        self.epoch = int(state["epoch"])
        self.best_val_acc1 = float(state["best_val_acc1"])
        self.best_epoch = int(state["best_epoch"])
        self.history = [dict(row) for row in state["history"]]
        self.stop_reason = state.get("stop_reason")


def build_student(
    config: dict[str, Any],
    *,
    workdir: Path,
    logger: RunLogger,
    device: torch.device,
    num_classes: int,
    losses: Any,
    iters_per_epoch: int,
    probe: torch.Tensor,
    teacher_probe: dict[str, torch.Tensor],
    train_labels: torch.Tensor | None = None,
) -> Student:
    """Build a run's student as it would be built alone; `losses` is its built LossSet.

    The global RNG is seeded with the run's seed right before the model is built, so its
    initial weights equal a solo run's; loss-set parameters and buffers (hint adapters, CRD's
    heads and memory bank, sized by `train_labels`) are created from one eval-mode, no-grad
    probe forward (no RNG drawn, no BN statistics touched) in the same seeded stream, and
    that stream then becomes the student's own.
    """
    s = Student(config, workdir, logger, device)
    torch.manual_seed(int(config["seed"]))
    model = build_model(config["student"], num_classes, where="student").to(device)
    if s.channels_last:
        model = model.to(memory_format=torch.channels_last)
    hooks = FeatureHooks(model, losses.student_layers, where="loss") if losses.student_layers else None
    model.eval()
    with torch.no_grad(), runtime.autocast(device, s.amp):
        probe_logits = model(s._input(probe))
    probe_labels = torch.zeros(probe.shape[0], dtype=torch.long, device=device)  # no term reads them here
    losses.materialize(LossContext(student_logits=probe_logits, labels=probe_labels,
                                   student_feats=hooks.features if hooks else {}, teacher_feats=teacher_probe,
                                   train_labels=train_labels))
    if hooks:
        hooks.clear()
    losses.to(device)
    s.rng = runtime.RngStream(device)
    s.train_labels = train_labels
    s.model, s.losses, s.hooks = model, losses, hooks
    head = cosine_head_of(model)
    s.margin_head = head if head is not None and head.margin != 0.0 else None
    s.forward = torch.compile(model) if config["train"].get("compile") else model
    s.trainable = [p for p in [*model.parameters(), *losses.parameters()] if p.requires_grad]
    s.optimizer = build_optimizer(config["optim"], s.trainable, where="optim")
    s.schedule = build_schedule(config["schedule"], s.optimizer, epochs=int(config["epochs"]),
                                iters_per_epoch=iters_per_epoch)
    s.scaler = runtime.grad_scaler(device, s.amp)
    return s
