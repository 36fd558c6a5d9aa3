"""Optimisers by name, and gradient clipping.

The write-ups use three optimisers: SGD with momentum (004, 000), AdamW (002) and Adam
with L2 weight decay (003). They are looked up in a registry so a sweep names them as it
names models; each reads only the `optim` keys that mean something to it (an Adam run
keeps the unused `momentum` default in its resolved config without harm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim import Optimizer

from kdsweep.errors import UserError
from kdsweep.spec.entries import OPTIMIZERS, OptimizerEntry
from kdsweep.spec.options import Options, check_number, option

# --- the optimisers' options and entries (the spec block: read by `kdsweep plan` without torch) ---


@dataclass
class OptimOptions(Options):
    """The `optim:` keys. Every optimiser has them all (so a sweep can switch optimisers on a
    grid axis); each reads the ones that mean something to it."""

    lr: float = option(0.1, low=0, low_open=True, noun="a learning rate")
    momentum: float = option(0.9, low=0, high=1, high_open=True)
    nesterov: bool = False
    weight_decay: float = option(0.0, low=0)
    betas: list = option([0.9, 0.999])
    grad_clip: float | None = option(None, types=(int, float))  # max global grad norm


@dataclass
class SGDOptions(OptimOptions):
    def check(self, where: str) -> None:
        if self.nesterov and self.momentum == 0:
            raise UserError("Nesterov momentum needs momentum > 0; set optim.momentum or nesterov: false",
                            where=f"{where}.nesterov")


@dataclass
class AdamOptions(OptimOptions):
    def check(self, where: str) -> None:
        betas = self.betas
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise UserError(f"expected two numbers [beta1, beta2], got {betas!r}", where=f"{where}.betas")
        for i, beta in enumerate(betas):
            check_number(beta, f"{where}.betas[{i}]", low=0, high=1, high_open=True)


# Each student of a fused group has its own optimiser, so its learning rate may differ.
ENTRIES = [
    OptimizerEntry("sgd", SGDOptions, impl="_sgd", fusable=("lr",)),
    OptimizerEntry("adam", AdamOptions, impl="_adam", fusable=("lr",)),
    OptimizerEntry("adamw", AdamOptions, impl="_adamw", fusable=("lr",)),
]

# --- the optimisers ---


def build_optimizer(cfg: Mapping[str, Any], params: Iterable[Any], *, where: str = "optim") -> Optimizer:
    """The optimiser named by `cfg["name"]` over `params` (tensors or param-group dicts).

    Tensors that do not require grad (frozen modules) are left out, so weight decay and
    momentum buffers are never spent on them.
    """
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        raise UserError(f"expected a mapping with a 'name' ({', '.join(OPTIMIZERS.known())})", where=where)
    entry = OPTIMIZERS.get(cfg["name"], where=f"{where}.name")
    opts = entry.parse({k: v for k, v in cfg.items() if k != "name"}, where)
    groups = _trainable(params)
    if not groups:
        raise UserError(
            "no trainable parameters: the student's parameters are all frozen (check student.freeze)",
            where=where,
        )
    return entry.load()(groups, opts)


def clip_gradients(params: Iterable[torch.Tensor], max_norm: float | None) -> float | None:
    """Clip the global gradient norm to `max_norm` (003: 10); None or 0 means no clipping.

    Returns the norm before clipping, for logging. Reading it back is one device sync per
    call. Under fp16 AMP, call `scaler.unscale_(optimizer)` first, or the norm is the scaled one.
    """
    if max_norm is None or max_norm == 0:
        return None
    if isinstance(max_norm, bool) or not isinstance(max_norm, int | float) or not max_norm > 0:
        raise UserError(f"expected a positive number or null, got {max_norm!r}", where="optim.grad_clip")
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return None
    return float(torch.nn.utils.clip_grad_norm_(with_grad, float(max_norm)))


def _trainable(params: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in params:
        if isinstance(item, Mapping):
            kept = [p for p in item["params"] if p.requires_grad]
            if kept:
                out.append({**item, "params": kept})
        elif item.requires_grad:
            out.append(item)
    return out


def _sgd(params: list[Any], opts: SGDOptions) -> Optimizer:
    return torch.optim.SGD(params, lr=opts.lr, momentum=opts.momentum, nesterov=opts.nesterov,
                           weight_decay=opts.weight_decay)


def _adam(params: list[Any], opts: AdamOptions) -> Optimizer:
    """Adam with L2 weight decay added to the gradient, as 003 used it (Adam, wd 1e-5)."""
    return torch.optim.Adam(params, lr=opts.lr, betas=tuple(opts.betas), weight_decay=opts.weight_decay)


def _adamw(params: list[Any], opts: AdamOptions) -> Optimizer:
    """AdamW (decoupled decay). 002 used torch's default decay 0.01: a sweep must say so,
    since kdsweep's resolved default weight_decay is 0 for every optimiser."""
    return torch.optim.AdamW(params, lr=opts.lr, betas=tuple(opts.betas), weight_decay=opts.weight_decay)
