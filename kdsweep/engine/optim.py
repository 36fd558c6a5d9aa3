"""Optimisers by name, and gradient clipping.

The write-ups use three optimisers: SGD with momentum (004, 000), AdamW (002) and Adam
with L2 weight decay (003). They are looked up in a registry so a sweep names them as it
names models; each reads only the `optim` keys that mean something to it (an Adam run
keeps the unused `momentum` default in its resolved config without harm).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch.optim import Optimizer

from kdsweep.errors import UserError
from kdsweep.registry import Registry
from kdsweep.spec.defaults import RUN_DEFAULTS

OPTIMIZERS = Registry("optimizer")


def build_optimizer(cfg: Mapping[str, Any], params: Iterable[Any], *, where: str = "optim") -> Optimizer:
    """The optimiser named by `cfg["name"]` over `params` (tensors or param-group dicts).

    Tensors that do not require grad (frozen modules) are left out, so weight decay and
    momentum buffers are never spent on them.
    """
    if not isinstance(cfg, Mapping) or "name" not in cfg:
        raise UserError(f"expected a mapping with a 'name' ({', '.join(OPTIMIZERS.known())})", where=where)
    factory: Callable[..., Optimizer] = OPTIMIZERS.get(cfg["name"], where=f"{where}.name")
    cfg = {**RUN_DEFAULTS["optim"], **cfg}
    groups = _trainable(params)
    if not groups:
        raise UserError(
            "no trainable parameters: the student's parameters are all frozen (check student.freeze)",
            where=where,
        )
    return factory(groups, cfg, where)


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


def _get(cfg: Any, key: str | int, where: str, *, low: float = 0.0, low_open: bool = False,
         below: float | None = None) -> float:
    value = cfg[key]
    where = f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}"
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (below is None or value < below)
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low:g}" + (f" and < {below:g}" if below is not None else "")
        raise UserError(f"expected a number {bounds}, got {value!r}", where=where)
    return float(value)


def _betas(cfg: Mapping[str, Any], where: str) -> tuple[float, float]:
    betas = cfg.get("betas")
    if not isinstance(betas, list | tuple) or len(betas) != 2:
        raise UserError(f"expected two numbers [beta1, beta2], got {betas!r}", where=f"{where}.betas")
    return _get(betas, 0, f"{where}.betas", below=1.0), _get(betas, 1, f"{where}.betas", below=1.0)


@OPTIMIZERS.register("sgd")
def _sgd(params: list[Any], cfg: Mapping[str, Any], where: str) -> Optimizer:
    momentum = _get(cfg, "momentum", where, below=1.0)
    nesterov = cfg["nesterov"]
    if not isinstance(nesterov, bool):
        raise UserError(f"expected true or false, got {nesterov!r}", where=f"{where}.nesterov")
    if nesterov and momentum == 0:
        raise UserError("Nesterov momentum needs momentum > 0; set optim.momentum or nesterov: false",
                        where=f"{where}.nesterov")
    return torch.optim.SGD(
        params,
        lr=_get(cfg, "lr", where, low_open=True),
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=_get(cfg, "weight_decay", where),
    )


@OPTIMIZERS.register("adam")
def _adam(params: list[Any], cfg: Mapping[str, Any], where: str) -> Optimizer:
    """Adam with L2 weight decay added to the gradient, as 003 used it (Adam, wd 1e-5)."""
    return torch.optim.Adam(
        params,
        lr=_get(cfg, "lr", where, low_open=True),
        betas=_betas(cfg, where),
        weight_decay=_get(cfg, "weight_decay", where),
    )


@OPTIMIZERS.register("adamw")
def _adamw(params: list[Any], cfg: Mapping[str, Any], where: str) -> Optimizer:
    """AdamW (decoupled decay). 002 used torch's default decay 0.01: a sweep must say so,
    since kdsweep's resolved default weight_decay is 0 for every optimiser."""
    return torch.optim.AdamW(
        params,
        lr=_get(cfg, "lr", where, low_open=True),
        betas=_betas(cfg, where),
        weight_decay=_get(cfg, "weight_decay", where),
    )
