"""Parameter and operation counts, and the MicroNet score of write-up 001.

Two operation counts, side by side:
- torch's (`torch.utils.flop_counter.FlopCounterMode`, one forward of a single image): the
  matrix work only (convolutions, linear layers, matmuls), FLOPs = 2 x multiply-accumulates;
  so flops = torch's count, madds = torch's count / 2.
- 001's (`micronet_ops.py`): the rules of torchscope, the counter 001 ran, which also prices
  batch norm, Swish, sigmoid, pooling and the cosine head, a multiply being half an
  operation. It gives 001's numbers exactly: efficientnet_ex with the cosine head (100
  classes, 32x32) 382,885,052 ops, exx 353,361,693.

MicroNet score (001): (0.5 * params) / 36.5e6 + ops / 10.49e9, parameters counted as 16-bit
(hence 0.5), ops by 001's rules: ex 0.0747612 (printed 0.074761; 001 printed 0.074762), exx
0.066818. The score from torch's matrix-only count (1.5 ops per multiply-add, so 368,353,920
ops for ex: 3.8% fewer) would be 0.073376. Parameters: ex 2,793,064, exx 2,418,650, exact.
(000's "FLOPs" column is MACs: B0 0.37G here vs "0.38G", B3 0.95G vs "0.97G".)
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from kdsweep.engine.micronet_ops import micronet_ops
from kdsweep.metric_names import PROFILE_METRICS

log = logging.getLogger(__name__)

MICRONET_PARAMS = 36.5e6  # WideResNet-28-10, the challenge's CIFAR-100 baseline
MICRONET_OPS = 10.49e9


def count_params(model: nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def count_flops(model: nn.Module, input_size: int, in_channels: int = 3) -> int:
    """torch's FLOPs (2 x MACs) for one forward of a 1 x C x S x S input, in eval mode."""
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), counter:
            model(torch.zeros(1, in_channels, input_size, input_size, device=device, dtype=dtype))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def micronet_score(params: int, ops: float) -> float:
    """001's score: 16-bit parameters, and `ops` counted by 001's rules (a multiply is half)."""
    return (0.5 * params) / MICRONET_PARAMS + ops / MICRONET_OPS


def profile_model(model: nn.Module, input_size: int, in_channels: int = 3) -> dict[str, float | int]:
    """params, trainable_params, flops and madds (torch, matrix work only), micronet_ops (001's
    rules) and micronet_score of `model` at this input size."""
    params, trainable = count_params(model)
    flops = count_flops(model, input_size, in_channels)
    ops = sum(micronet_ops(model, input_size, in_channels).values())
    return {
        "params": params,
        "trainable_params": trainable,
        "flops": flops,
        "madds": flops // 2,
        "micronet_ops": ops,
        "micronet_score": micronet_score(params, ops),
    }


def summary_profile(model: nn.Module, probe: torch.Tensor, *, where: str) -> dict[str, float]:
    """A trained run's summary extras: parameter count, and FLOPs from the profiler run on a copy
    of the student (a profiler may add hooks or buffers) at the probe's size. A profiler failure
    costs only the flops entries (logged, naming `where`): it must not fail a trained run."""
    out = {"params": float(sum(p.numel() for p in model.parameters()))}
    try:
        with torch.random.fork_rng(devices=[]):
            prof = profile_model(copy.deepcopy(model).eval(), int(probe.shape[-1]), in_channels=int(probe.shape[1]))
        out.update({name: float(prof[name]) for name in PROFILE_METRICS if name != "params"})
    except Exception as e:  # noqa: BLE001 - a summary extra must not fail a trained run
        log.warning("%s: could not profile the student (%s)", where, e)
    return out


def format_count(n: float) -> str:
    """Short form as papers print it: 4137456 -> "4.1M", 382885052 -> "0.38G", 59723 -> "59.7k".

    Counts of a billion or more, and of 100M or more, read in G ("0.38G", as 000 prints FLOPs);
    below that in M, then k.
    """
    n = float(n)
    sign = "-" if n < 0 else ""
    n = abs(n)
    if n >= 1e8:
        return f"{sign}{n / 1e9:.2f}G"
    if n >= 1e6:
        return f"{sign}{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{sign}{n / 1e3:.1f}k"
    return f"{sign}{n:.0f}"
