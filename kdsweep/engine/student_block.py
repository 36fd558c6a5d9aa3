"""Students of one architecture trained as one batched model (`train.fuse: batched`, spec/fuse.py).

The group loop (train.py) steps K students one after another: K small forwards, backwards and
optimiser steps per batch. A block stacks their parameters and buffers along a new first
dimension (`torch.func.stack_module_state`) and runs the K forwards as one, `vmap` over
`functional_call` of a weightless copy of the model; vmap turns each convolution into one
grouped convolution and keeps every student's BatchNorm statistics in its own slice of the
stacked buffers (their in-place running-stat updates batch: checked in
tests/engine/test_student_block.py). Each student's loss terms run on its slice of the logits
with its own options (T, alpha), the K totals are summed for one backward (the students share
no weight, so each one's gradient is its own loss's), and one StackedOptimizer step applies
each student's lr, momentum and weight decay.

The block exists for one epoch: it is built from the students at the epoch's start and
written back into them (`write_back`: weights, BatchNorm statistics, optimiser state) before
the group evaluates and saves, so a student's `last.pt` is the file a lone run writes, and a
run that diverged, stopped early or was pruned is simply not in the next epoch's block. Within
an epoch a diverging student trains on in its slice, as it would in the loop (divergence.py);
its NaNs stay there: grouped convolutions, per-student BatchNorm and the optimiser never mix
slices.

Exact enough: the K forwards are the same arithmetic in another kernel (a grouped convolution
sums in another order), so the losses match the loop's to about 1e-6 per step on the CPU, not
bit for bit (figures in the test's docstrings).
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from kdsweep.engine import runtime
from kdsweep.engine.data import Batch
from kdsweep.engine.losses import LossContext
from kdsweep.engine.stacked_optim import StackedOptimizer, unsupported
from kdsweep.engine.student import Student, TeacherOutput
from kdsweep.spec import fuse

log = logging.getLogger(__name__)


def engine_reason(student: Student) -> str | None:
    """Why this student cannot join a block though its config may (what only the built model
    and optimiser tell), else None."""
    if student.hooks is not None or student.margin_head is not None or student.forward is not student.model:
        return "feature hooks, a margin head or torch.compile"
    if student.scaler.is_enabled():
        return "fp16 loss scaling"
    if any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in student.model.modules()):
        return "dropout (its random masks come from the student's own stream, which a block cannot keep)"
    params = list(student.model.parameters())
    if not all(p.requires_grad for p in params):
        return "frozen parameters"
    return unsupported(student.optimizer, len(params))


def build_block(students: list[Student], device: torch.device) -> StudentBlock | None:
    """The block of this epoch's students that train batched (spec/fuse.py chooses), or None."""
    joins = fuse.choose([s.config for s in students], device.type)
    members = []
    for student, joining in zip(students, joins, strict=True):
        why = engine_reason(student) if joining else None
        if why:
            log.info("%s: trains in the loop beside the batched block: %s", student.workdir, why)
        elif joining:
            members.append(student)
    return StudentBlock(members) if len(members) >= 2 else None


class StudentBlock:
    """K students' weights stacked for one epoch; `train_step` is K `Student.train_step`s in one."""

    def __init__(self, students: list[Student]):
        self.students = students
        first = students[0]
        self.device, self.amp, self.grad_clip = first.device, first.amp, first.grad_clip
        models = [s.model for s in students]
        self.params, self.buffers = stack_module_state(models)  # new leaf tensors, [K, ...] each
        self.base = copy.deepcopy(first.model).to("meta")  # the architecture without weights
        self.base.train()

        def one(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
            return functional_call(self.base, (params, buffers), (x,))

        self.forward = vmap(one, in_dims=(0, 0, None))
        names = [name for name, _ in first.model.named_parameters()]
        self.optimizer = StackedOptimizer([self.params[n] for n in names], [s.optimizer for s in students])
        for s in students:
            # Its schedule steps an optimiser that never steps itself: tell torch that is meant,
            # or LambdaLR warns that the schedule stepped before the optimiser.
            s.optimizer._opt_called = True  # type: ignore[attr-defined]

    def __contains__(self, student: Student) -> bool:
        return any(student is s for s in self.students)

    def train_step(self, batch: Batch, teacher: TeacherOutput, *, epoch: int, step: int) -> torch.Tensor:
        """One optimiser step of every student on the batch; their K total losses (on the device).

        As in the loop, each student's losses see its own logits, the shared labels and teacher
        outputs, and `record_step` fills its meters and divergence watch; no host sync."""
        y = batch.y
        totals = []
        with runtime.autocast(self.device, self.amp):
            logits = self.forward(self.params, self.buffers, batch.x)  # [K, batch, classes]
            for k, s in enumerate(self.students):
                ctx = LossContext(student_logits=logits[k], labels=y, teacher_logits=teacher.logits,
                                  teacher_feats=teacher.feats, epoch=epoch, step=step,
                                  indices=batch.indices, train_labels=s.train_labels)
                terms = s.losses(ctx)
                total = sum(terms.values())
                s.record_step(terms, total, logits[k], y)
                totals.append(total)
        stacked = torch.stack(totals)
        self.optimizer.zero_grad()
        stacked.sum().backward()
        if self.grad_clip:
            self.optimizer.clip_(float(self.grad_clip))
        self.optimizer.step()
        for s in self.students:
            s.schedule.step()
        return stacked.detach()

    @torch.no_grad()
    def write_back(self) -> None:
        """Each student's slice into its own model and optimiser: what it evaluates and saves."""
        for k, s in enumerate(self.students):
            for name, p in s.model.named_parameters():
                p.copy_(self.params[name][k])
            for name, b in s.model.named_buffers():
                b.copy_(self.buffers[name][k])
        self.optimizer.write_back()
