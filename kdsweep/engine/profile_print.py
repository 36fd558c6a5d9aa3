"""`kdsweep profile ARCH [--list] [--bench]`: the printed counts and timings of one model.

The counting lives in `profile.py` (the trainer logs it for every run); the printing is here, apart,
because it builds models and times them (`timing` -> `train`), and the trainer must not import that.
"""

from __future__ import annotations

import torch
from torch import nn

from kdsweep.engine.profile import format_count, profile_model

HEAD_PRESETS = {"cosine": {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}}  # 000 / 001's coslinear


def print_profile(arch: str, *, num_classes: int = 100, input_size: int = 32, head: str | None = None,
                  cifar: bool = False, in_channels: int = 3, bench_batch: int | None = None,
                  device: str = "auto") -> int:
    """`kdsweep profile ARCH [--bench]`: print the counts (and timings) of one model; returns the exit code."""
    from kdsweep.engine.models import build_model
    from kdsweep.errors import UserError, did_you_mean

    if head is not None and head not in HEAD_PRESETS:
        raise UserError(f"unknown head {head!r}; {did_you_mean(head, HEAD_PRESETS)}", where="--head")
    cfg = {"arch": arch, "cifar": cifar, "head": HEAD_PRESETS.get(head) if head else None}
    try:
        model = build_model(cfg, num_classes, where="profile")
    except UserError as exc:
        raise UserError(f"{exc} (kdsweep profile --list shows every model)") from None
    out = profile_model(model, input_size, in_channels)
    shown = f"{arch}" + (f" + {head} head" if head else "") + (" (cifar)" if cifar else "")
    print(f"{shown}, {num_classes} classes, input {in_channels}x{input_size}x{input_size}")
    rows = [
        ("params", out["params"]),
        ("trainable params", out["trainable_params"]),
        ("FLOPs (torch, 2 x MACs)", out["flops"]),
        ("MAdds (torch)", out["madds"]),
        ("ops, torch matrix-only", 1.5 * out["madds"]),
        ("ops, 001's rules", out["micronet_ops"]),
    ]
    print("  torch counts convolutions, linears and matmuls; 001's rules (torchscope, a multiply = 1/2)")
    print("  also count batch norm, activations, pooling and the cosine head")
    for label, value in rows:
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        print(f"  {label:<26}{shown:>16}  {format_count(value):>7}")
    print(f"  {'MicroNet score (001)':<26}{out['micronet_score']:>16.6f}")
    if bench_batch is not None:
        print_timings(model, batch_size=bench_batch, input_size=input_size, in_channels=in_channels,
                      num_classes=num_classes, device=device)
    return 0


def print_model_names() -> int:
    """`kdsweep profile --list`: every model name a sweep's `arch:` may use, one per line."""
    from kdsweep.engine.models.zoo import all_model_names

    for name in sorted(all_model_names()):
        print(name)
    return 0


def print_timings(model: nn.Module, *, batch_size: int, input_size: int, in_channels: int, num_classes: int,
                  device: str) -> None:
    """The per-model timings `kdsweep plan --estimate` builds on, at one batch size."""
    from kdsweep.engine import runtime
    from kdsweep.engine.timing import model_timings
    from kdsweep.errors import UserError

    if batch_size < 1:
        raise UserError(f"expected at least 1, got {batch_size}", where="--batch-size")
    dev = runtime.select_device(device)
    t = model_timings(model, batch_size=batch_size, input_size=input_size, in_channels=in_channels,
                      num_classes=num_classes, device=dev)
    threads = f", {torch.get_num_threads()} thread(s)" if dev.type == "cpu" else ""
    print(f"  timed on {dev}{threads}, batch {batch_size} (median of 5 after a warm-up):")
    for label, seconds in (("forward (eval, no grad)", t["forward"]), ("train step (fwd+bwd+SGD)", t["train_step"])):
        print(f"  {label:<26}{seconds * 1e3:>13.1f} ms  {batch_size / seconds:>8.0f} images/s")
