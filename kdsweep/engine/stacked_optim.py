"""SGD, Adam and AdamW over stacked parameters: one slice per student, each with its own hyperparameters.

A batched block (student_block.py) holds each parameter of K students as one tensor of shape
[K, ...]. This optimiser steps all K at once with each student's lr, momentum, weight decay
and betas as [K] tensors broadcast over its slice (HFTA had no fused SGD). Its arithmetic is
torch.optim's, step for step (torch 2.x `_multi_tensor_sgd` / `_multi_tensor_adam`, dampening
0, no amsgrad), so a student steps as its own optimiser would step it, up to rounding.

Each student keeps its torch optimiser as the owner of its hyperparameters and its state: the
schedule still sets its lr (read here every step), its state is read from it when the block is
built and written back into it (`write_back`), so its `last.pt` is the file a lone run writes.
"""

from __future__ import annotations

import torch
from torch.optim import SGD, Adam, AdamW, Optimizer

KINDS = (SGD, Adam, AdamW)  # what build_optimizer makes (optim.py)
_HYPER = ("lr", "momentum", "nesterov", "weight_decay", "betas", "eps", "amsgrad", "maximize", "dampening")


def unsupported(optimizer: Optimizer, n_params: int) -> str | None:
    """Why this student's optimiser cannot be stacked, else None."""
    if type(optimizer) not in KINDS:
        return f"optimiser {type(optimizer).__name__}"
    if len(optimizer.param_groups) != 1 or len(optimizer.param_groups[0]["params"]) != n_params:
        return "parameters outside the model, or several parameter groups"
    group = optimizer.param_groups[0]
    if group.get("amsgrad") or group.get("maximize") or group.get("dampening"):
        return "amsgrad, maximize or dampening"
    return None


class StackedOptimizer:
    """Steps stacked leaf tensors `params[i]` ([K, ...]) whose slice k is `optimizers[k]`'s i-th parameter."""

    def __init__(self, params: list[torch.Tensor], optimizers: list[Optimizer]):
        self.params, self.optimizers = params, optimizers
        self.kind = type(optimizers[0])
        if any(type(o) is not self.kind for o in optimizers):
            raise ValueError("a stacked optimiser needs one optimiser class for every student")
        self.own = [o.param_groups[0]["params"] for o in optimizers]  # each student's own tensors
        device = params[0].device
        groups = [o.param_groups[0] for o in optimizers]
        self._lr_values: list[float] = []
        self._lr_tensor = torch.zeros(0)

        def per_student(get) -> torch.Tensor:
            return torch.tensor([float(get(g)) for g in groups], device=device)

        self.weight_decay = per_student(lambda g: g["weight_decay"])
        self.decays = bool((self.weight_decay != 0).any())
        if self.kind is SGD:
            self.momentum = per_student(lambda g: g["momentum"])
            self.nesterov = per_student(lambda g: g["nesterov"])
            self.moment = bool((self.momentum != 0).any())
            # A student without a buffer yet starts from zeros: with dampening 0, 0 * m + g is
            # torch's first step (the buffer is a copy of the gradient).
            self.bufs = [self._gather(i, "momentum_buffer") for i in range(len(params))] if self.moment else []
        else:
            self.beta1 = per_student(lambda g: g["betas"][0])
            self.beta2 = per_student(lambda g: g["betas"][1])
            self.eps = per_student(lambda g: g["eps"])
            first = [o.state.get(own[0], {}).get("step") for o, own in zip(optimizers, self.own, strict=True)]
            self.step_count = torch.tensor([float(s) if s is not None else 0.0 for s in first], device=device)
            self.exp_avg = [self._gather(i, "exp_avg") for i in range(len(params))]
            self.exp_avg_sq = [self._gather(i, "exp_avg_sq") for i in range(len(params))]

    def _gather(self, i: int, name: str) -> torch.Tensor:
        """Parameter i's state `name` stacked over the students (zeros where a student has none)."""
        rows = []
        for o, own in zip(self.optimizers, self.own, strict=True):
            value = o.state.get(own[i], {}).get(name)
            rows.append(torch.zeros_like(own[i]) if value is None else value.detach())
        return torch.stack(rows).to(self.params[i].device)

    @staticmethod
    def _view(per: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return per.view(-1, *([1] * (like.dim() - 1)))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def clip_(self, max_norm: float) -> None:
        """Each student's global gradient norm clipped to `max_norm`, as clip_grad_norm_ does alone."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return
        norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads]).norm(dim=0)  # [K]
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(self._view(coef, g))

    def _lrs(self) -> torch.Tensor:
        """Each student's lr as its schedule left it, as a [K] tensor on the device. Copied only when
        it changed, and on CUDA from pinned memory without blocking, so a step costs no host sync."""
        lrs = [float(o.param_groups[0]["lr"]) for o in self.optimizers]
        if lrs != self._lr_values:
            device = self.params[0].device
            values = torch.tensor(lrs)
            self._lr_tensor = (values.pin_memory().to(device, non_blocking=True) if device.type == "cuda"
                               else values.to(device))
            self._lr_values = lrs
        return self._lr_tensor

    @torch.no_grad()
    def step(self) -> None:
        lrs = self._lrs()
        if self.kind is SGD:
            self._sgd(lrs)
        else:
            self._adam(lrs)

    def _sgd(self, lrs: torch.Tensor) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.decays:
                g = g + self._view(self.weight_decay, p) * p
            if self.moment:
                mom = self._view(self.momentum, p)
                buf = self.bufs[i].mul_(mom).add_(g)
                g = torch.where(self._view(self.nesterov, p) != 0, g + mom * buf, buf)
            p.sub_(self._view(lrs, p) * g)

    def _adam(self, lrs: torch.Tensor) -> None:
        self.step_count += 1
        bias1 = 1 - self.beta1 ** self.step_count
        bias2_sqrt = (1 - self.beta2 ** self.step_count).sqrt()
        step_size = lrs / bias1
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.decays:
                if self.kind is AdamW:
                    p.mul_(1 - self._view(lrs * self.weight_decay, p))
                else:
                    g = g + self._view(self.weight_decay, p) * p
            self.exp_avg[i].lerp_(g, self._view(1 - self.beta1, p))
            self.exp_avg_sq[i].mul_(self._view(self.beta2, p)).addcmul_(g, g * self._view(1 - self.beta2, p))
            denom = self.exp_avg_sq[i].sqrt().div_(self._view(bias2_sqrt, p)).add_(self._view(self.eps, p))
            p.sub_(self._view(step_size, p) * self.exp_avg[i] / denom)

    @torch.no_grad()
    def write_back(self) -> None:
        """Each student's slice of the state into its own optimiser, in torch's own format."""
        for k, (o, own) in enumerate(zip(self.optimizers, self.own, strict=True)):
            group = o.param_groups[0]
            for i, p in enumerate(own):
                state = o.state[p]
                if self.kind is SGD:
                    if group["momentum"] != 0:
                        state["momentum_buffer"] = self.bufs[i][k].to(p.device, copy=True)
                    continue
                state["step"] = torch.tensor(float(self.step_count[k]))
                state["exp_avg"] = self.exp_avg[i][k].to(p.device, copy=True)
                state["exp_avg_sq"] = self.exp_avg_sq[i][k].to(p.device, copy=True)
