"""Train a group of runs in one process: one data pipeline and one teacher forward per batch.

The executor groups runs that share a teacher, data, seed, epoch count and batch size and
differ only in what each student does with a batch (loss weights, temperature, lr). Per
batch this loop loads and augments the data once, runs the teacher once, then steps each
student in turn (student.py), or those that can as one batched model (`train.fuse`,
student_block.py: exact to ~1e-6, not bit for bit). In the loop the result is exactly what
each run gives alone:

- the data order and augmentation depend only on (seed, epoch), and the global RNG the data
  pipeline may draw from is reseeded at every epoch start (`runtime.epoch_seed`);
- the teacher draws (train mode only) from its own stream, reseeded per epoch;
- each student is initialised right after seeding with its run's seed, and draws from its
  own stream, swapped in around its steps.

Each run writes `last.pt` after every epoch and resumes from it (checkpoint.py), logs
through its `RunLogger`, and ends FINISHED (also after an early stop, with the reason),
FAILED (diverged, or a teacher / config the engine cannot use), KILLED (`should_stop`, or
its logger raised `StopRun`: fenced by another driver, or the store gone too long) or
PRUNED (`prune`, asked once per run after each epoch: a search's pruner stopped it; the others
in the group go on).

Exactly once: last.pt is written before the epoch is logged, and a resumed run replays its
checkpoint's history through the logger (which keeps what it lacks): one point per epoch.

Per-epoch metrics (step = epoch, 1-based; accuracies in percent): train_loss and
train_loss_<term> (weighted terms, sample means over the epoch, as trained: train mode,
augmented), train_acc1, val_loss (plain cross-entropy, so it compares across loss recipes),
val_acc1, val_acc5, lr (at the epoch's first step), epoch_s (the group's wall time for the
epoch, train + val) and images_per_s (this run's train images over the group's train time).
"""

from __future__ import annotations

import logging
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdsweep.engine import checkpoint, runtime
from kdsweep.engine.curves import plot_curves
from kdsweep.engine.data import build_data
from kdsweep.engine.features import FeatureHooks
from kdsweep.engine.logger import RunLogger
from kdsweep.engine.losses import build_losses
from kdsweep.engine.models import build_model, load_weights
from kdsweep.engine.student import Student, TeacherOutput, build_student
from kdsweep.engine.student_block import build_block
from kdsweep.errors import StopRun, UserError
from kdsweep.spec.groups import first_difference
from kdsweep.status import RunStatus

log = logging.getLogger(__name__)

# Fault injection (tests/execute/test_faults.py): SIGKILL after epoch N's last.pt, before its log.
FAULT_KILL_AFTER_SAVE = "KDSWEEP_FAULT_KILL_AFTER_SAVE"


@dataclass
class RunResult:
    """What a run ended with. `metrics` is the summary the logger received."""

    status: RunStatus  # FINISHED | FAILED | KILLED | PRUNED
    reason: str | None = None
    best_val_acc1: float | None = None
    best_epoch: int | None = None
    best_checkpoint: Path | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)


class _Run:
    """A run's identity and fate while the group trains."""

    def __init__(self, config: dict[str, Any], workdir: Path, logger: RunLogger, index: int = 0):
        self.config, self.workdir, self.logger, self.index = config, Path(workdir), logger, index
        self.student: Student | None = None
        self.result: RunResult | None = None  # set once the run has ended

    @property
    def active(self) -> bool:
        return self.result is None and self.student is not None


def check_group(configs: Sequence[dict[str, Any]]) -> None:
    """ValueError unless the runs can share one data pipeline and one teacher forward."""
    if not configs:
        raise ValueError("train_group needs at least one run config")
    for i, cfg in enumerate(configs[1:], start=1):
        key = first_difference(cfg, configs[0])
        if key is not None:
            raise ValueError(f"run {i} differs from run 0 in {key!r}: a group may differ only in loss terms, "
                             "learning rate and patience (kdsweep.spec.groups)")


def train_group(
    configs: list[dict[str, Any]],
    *,
    workdirs: list[Path],
    loggers: list[RunLogger],
    device: str = "auto",
    should_stop: Callable[[], bool] | None = None,
    prune: Callable[[int, int, dict[str, float]], str | None] | None = None,
) -> list[RunResult]:
    """Train resolved run configs that share teacher, data, seed, epochs and batch size.

    `prune(run index, epoch, epoch metrics)` is called between epochs, never inside one; a
    returned reason ends that run as PRUNED with the epochs it has.
    """
    check_group(configs)
    if not len(configs) == len(workdirs) == len(loggers):
        raise ValueError("train_group needs one workdir and one logger per config")
    runs = [_Run(c, Path(w), lg, i) for i, (c, w, lg) in enumerate(zip(configs, workdirs, loggers, strict=True))]
    for run in runs:
        run.workdir.mkdir(parents=True, exist_ok=True)
        run.logger.set_status(RunStatus.RUNNING)
    try:
        _Group(runs, device, should_stop, prune).train()
    except StopRun as e:  # fenced, or the store gone: write nothing more (no status); last.pt resumes
        for run in (r for r in runs if r.result is None):
            run.result = _result(run, RunStatus.KILLED, str(e).splitlines()[0][:300], {})
    except Exception as e:
        # A bug, not a user error: every run still open records why, then the traceback goes on.
        reason = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        for run in runs:
            if run.result is None:
                run.logger.set_status(RunStatus.FAILED, reason)
        log.error("group failed:\n%s", traceback.format_exc())
        raise
    return [run.result for run in runs]  # type: ignore[misc]


class _Group:
    def __init__(self, runs: list[_Run], device: str, should_stop: Callable[[], bool] | None,
                 prune: Callable[[int, int, dict[str, float]], str | None] | None = None):
        self.runs = runs
        self.prune = prune
        self.first = runs[0].config
        self.device_name = device if device != "auto" else self.first.get("device", "auto")
        self.should_stop = should_stop or (lambda: False)
        self.epochs = int(self.first["epochs"])
        self.seed = int(self.first["seed"])
        self.teacher: nn.Module | None = None
        self.teacher_hooks: FeatureHooks | None = None
        self.teacher_train_mode = False

    # Setup ---------------------------------------------------------------------------

    def train(self) -> None:
        try:
            self.device = runtime.select_device(self.device_name)
            runtime.configure(self.first["train"], self.device)
            self.amp = runtime.amp_dtype(self.first["train"], self.device)
            self.channels_last = bool(self.first["train"].get("channels_last"))
            self.data = build_data(self.first["data"], seed=self.seed, device=self.device)
            self.probe = self._probe_input()
        except UserError as e:
            return self._fail_all(str(e))
        loss_sets: dict[int, Any] = {}
        for run in self.runs:
            try:
                loss_sets[id(run)] = build_losses(run.config["loss"], where="loss")
            except UserError as e:
                self._finish(run, RunStatus.FAILED, str(e))
        needing = [ls for ls in loss_sets.values() if ls.needs_teacher]
        teacher_probe: dict[str, torch.Tensor] = {}
        if needing:
            modes = {ls.teacher_mode for ls in needing}
            if len(modes) > 1:
                raise ValueError("a group's loss terms disagree on the teacher's mode (eval / train)")
            self.teacher_train_mode = modes == {"train"}
            layers = sorted({name for ls in needing for name in ls.teacher_layers})
            try:
                teacher_probe = self._load_teacher(layers)
            except UserError as e:
                return self._fail_all(str(e))
        for run in self.runs:
            if run.result is None:
                self._build_student(run, loss_sets[id(run)], teacher_probe)
        for run in self.runs:
            if run.active and (run.student.stop_reason or run.student.epoch >= self.epochs):
                self._finish(run, RunStatus.FINISHED, run.student.stop_reason)  # ended in an earlier session
        self._loop()

    def _probe_input(self) -> torch.Tensor:
        """A two-image batch of zeros with the data's shape, for shape-only forwards."""
        size = self.data.input_size
        h, w = (size, size) if isinstance(size, int) else tuple(size)[-2:]
        channels = int(getattr(self.data, "in_channels", 3))
        return torch.zeros(2, channels, h, w, device=self.device)

    def _num_classes(self, model_cfg: dict[str, Any]) -> int:
        return int(model_cfg.get("num_classes") or self.data.num_classes)

    def _load_teacher(self, layers: list[str]) -> dict[str, torch.Tensor]:
        """Build the teacher, load its weights strictly, hook its layers; returns its probe
        features, which loss terms with adapters (hint) need to size them."""
        cfg = self.first.get("teacher")
        if not cfg:
            raise UserError("a loss term needs a teacher but the run has none; add `teacher:`", where="teacher")
        if not cfg.get("checkpoint"):
            raise UserError("the teacher has no checkpoint (a stage teacher's is filled by the executor)",
                            where="teacher.checkpoint")
        teacher = build_model(cfg, self._num_classes(cfg), where="teacher")
        load_weights(teacher, cfg["checkpoint"], strict=True, where="teacher.checkpoint")
        teacher.to(self.device).requires_grad_(False)
        if self.channels_last:
            teacher.to(memory_format=torch.channels_last)
        self.teacher_hooks = FeatureHooks(teacher, layers, where="loss") if layers else None
        self.teacher = teacher.eval()
        self.teacher_forward = torch.compile(teacher) if self.first["train"].get("compile") else teacher
        with torch.no_grad(), runtime.autocast(self.device, self.amp):
            teacher(self._input(self.probe))
        feats = self.teacher_hooks.features if self.teacher_hooks else {}
        if self.teacher_hooks:
            self.teacher_hooks.clear()
        return feats

    def _build_student(self, run: _Run, losses: Any, teacher_probe: dict[str, torch.Tensor]) -> None:
        """Build the run's student and resume it from last.pt when there is one."""
        try:
            run.student = build_student(
                run.config, workdir=run.workdir, logger=run.logger, device=self.device,
                num_classes=self._num_classes(run.config["student"]), losses=losses,
                iters_per_epoch=len(self.data.train), probe=self.probe, teacher_probe=teacher_probe,
                train_labels=self.data.train.labels,
            )
            state = checkpoint.load_last(run.workdir)
            if state is not None:
                run.student.load_state_dict(state)
                log.info("%s: resuming after epoch %d", run.workdir, run.student.epoch)
        except UserError as e:
            self._finish(run, RunStatus.FAILED, str(e))
            return
        for row in run.student.history:  # what an earlier process saved but may not have logged
            run.logger.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # The loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        open_runs = [r for r in self.runs if r.active]
        if not open_runs:
            return
        start = min(r.student.epoch for r in open_runs) + 1
        for epoch in range(start, self.epochs + 1):
            stepping = [r for r in self.runs if r.active and r.student.epoch < epoch]
            if not stepping:
                break
            if not self._train_epoch(epoch, stepping):
                return
        for run in self.runs:
            if run.active:
                self._finish(run, RunStatus.FINISHED, None)

    def _train_epoch(self, epoch: int, runs: list[_Run]) -> bool:
        """One epoch for `runs`; False when the group was asked to stop."""
        t0 = time.perf_counter()
        torch.manual_seed(runtime.epoch_seed(self.seed, epoch))
        teacher_rng = runtime.RngStream.seeded(runtime.epoch_seed(self.seed + 1, epoch), self.device)
        for run in runs:
            run.student.start_epoch()
        if self.teacher is not None:
            self.teacher.train(self.teacher_train_mode)
        block = build_block([r.student for r in runs], self.device)  # train.fuse: None when all loop
        for step, batch in enumerate(self.data.train.batches(epoch - 1), start=1):
            if self.should_stop():
                self._kill(epoch, step)
                return False
            stepping = [r for r in runs if r.active]
            if not stepping:
                break
            teacher_out = self._teach(batch.x, stepping, teacher_rng)
            if block is not None:
                block.train_step(batch, teacher_out, epoch=epoch, step=step)
            for run in (r for r in stepping if block is None or r.student not in block):
                run.student.train_step(batch, teacher_out, epoch=epoch, step=step)
            teacher_out = None
        if block is not None:  # before the students evaluate and save
            block.write_back()
        for run in runs:  # no host sync inside the epoch: a diverged run is failed here (divergence.py)
            bad = run.student.diverged() if run.active else None
            if bad is not None:
                self._finish(run, RunStatus.FAILED, f"diverged at epoch {epoch} step {bad[0]}: {bad[1]}")
        train_s = time.perf_counter() - t0
        evaluating = [r for r in runs if r.active]
        if not evaluating:
            return True
        for run in evaluating:
            run.student.model.eval()
        for batch in self.data.val.batches(epoch - 1):
            for run in evaluating:
                run.student.eval_step(batch.x, batch.y)
        epoch_s = time.perf_counter() - t0
        for run in evaluating:
            self._end_epoch(run, epoch, epoch_s=epoch_s, train_s=train_s)
        return True

    def _teach(self, x: torch.Tensor, runs: list[_Run], rng: runtime.RngStream) -> TeacherOutput:
        if self.teacher is None or not any(r.student.losses.needs_teacher for r in runs):
            return TeacherOutput()
        with rng.active(), torch.no_grad(), runtime.autocast(self.device, self.amp):
            logits = self.teacher_forward(self._input(x))
        feats = self.teacher_hooks.features if self.teacher_hooks else {}
        if self.teacher_hooks:
            self.teacher_hooks.clear()
        return TeacherOutput(logits=logits, feats=feats)

    def _end_epoch(self, run: _Run, epoch: int, *, epoch_s: float, train_s: float) -> None:
        """Metrics to the logger, best.pt when improved, last.pt always; an early stop ends the run."""
        s = run.student
        metrics = s.end_epoch(epoch, epoch_s=epoch_s, train_s=train_s)
        run.logger.guard()  # a fenced job (another driver took over) must not write this epoch
        if s.improved_at(epoch):
            checkpoint.save_best(run.workdir, checkpoint.cpu_state_dict(s.model))
        # Save before logging: a process killed in between logs this epoch from last.pt's
        # history on resume (see _build_student), so it is logged exactly once.
        checkpoint.save_last(run.workdir, s.state_dict())
        if os.environ.get(FAULT_KILL_AFTER_SAVE) == str(epoch):
            os.kill(os.getpid(), signal.SIGKILL)
        run.logger.log_metrics(metrics, step=epoch)
        if s.stop_reason:
            self._finish(run, RunStatus.FINISHED, s.stop_reason)
        elif self.prune is not None:
            why = self.prune(run.index, epoch, metrics)
            if why:
                self._finish(run, RunStatus.PRUNED, why)

    # Endings -------------------------------------------------------------------------

    def _finish(self, run: _Run, status: RunStatus, reason: str | None) -> None:
        """Summary, artifacts and final status for a run that has ended (not for KILLED)."""
        s = run.student
        summary: dict[str, float] = {}
        if s is not None:
            if s.hooks:
                s.hooks.remove()
            if s.history and status == RunStatus.PRUNED:  # its curve, but no summary: its "best" was cut short
                run.logger.log_artifact(plot_curves(s.history, run.workdir / "curves.png", title=run.workdir.name),
                                        "plots")
            elif s.history:
                summary = {**s.summary(), **self._profile(run)}
                run.logger.log_metrics(summary, step=None)
                if (run.workdir / checkpoint.BEST).is_file():
                    run.logger.log_artifact(run.workdir / checkpoint.BEST, "checkpoints")
                # Titled with the run's name when the logger knows it (the executor's does), else its key.
                title = getattr(run.logger, "name", "") or run.workdir.name
                curve = plot_curves(s.history, run.workdir / "curves.png", title=title)
                run.logger.log_artifact(curve, "plots")
        run.logger.set_status(status, reason)
        run.result = _result(run, status, reason, summary)

    def _profile(self, run: _Run) -> dict[str, float]:
        from kdsweep.engine.profile import summary_profile  # the FLOP counters, only when a run ends

        return summary_profile(run.student.model, self.probe, where=str(run.workdir))

    def _fail_all(self, reason: str) -> None:
        for run in self.runs:
            if run.result is None:
                self._finish(run, RunStatus.FAILED, reason)

    def _kill(self, epoch: int, step: int) -> None:
        """Stop now: last.pt already holds each run's last finished epoch, so nothing is written."""
        for run in self.runs:
            if run.result is None:
                done = run.student.epoch if run.student else 0
                reason = f"stopped at epoch {epoch} step {step}; resumes after epoch {done}"
                run.logger.set_status(RunStatus.KILLED, reason)
                run.result = _result(run, RunStatus.KILLED, reason, {})


def _result(run: _Run, status: RunStatus, reason: str | None, summary: dict[str, float]) -> RunResult:
    s, best = run.student, run.workdir / checkpoint.BEST
    seen = s is not None and bool(s.history)
    return RunResult(
        status=status,
        reason=reason,
        best_val_acc1=float(s.best_val_acc1) if seen else None,
        best_epoch=int(s.best_epoch) if seen else None,
        best_checkpoint=best if best.is_file() else None,
        metrics=summary,
        history=[dict(row) for row in s.history] if s is not None else [],
    )
