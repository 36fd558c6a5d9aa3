"""Spotting a diverged run without making the host wait for the device at every step.

Reading one scalar back per step (to stop a run the moment its loss turns NaN) is a host
sync per student per step: K per batch in a group of K, each one draining the device's
queue. Here a step only adds a few tiny device ops that remember the first step of the epoch
whose total loss was not finite and every term's value there; the epoch's end reads that once.
A run that diverged trains on to the end of that epoch (its weights are NaN by then; nothing
of that epoch is logged or saved) and fails there, naming the step and the term.
"""

from __future__ import annotations

import math

import torch


class DivergenceWatch:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """At an epoch's start: steps count from 1 again."""
        self.step = 0
        self.names: list[str] = []
        self.first: torch.Tensor | None = None  # first non-finite step, 0 while there is none
        self.values: torch.Tensor | None = None  # each term's value (and the total's) at that step

    def add(self, terms: dict[str, torch.Tensor], total: torch.Tensor) -> None:
        self.step += 1
        values = torch.stack([t.detach().float().reshape(()) for t in (*terms.values(), total)])
        if self.first is None:
            self.names = [*terms, "total"]
            self.first = torch.zeros((), dtype=torch.int64, device=values.device)
            self.values = torch.zeros_like(values)
        new = ~torch.isfinite(values[-1]) & (self.first == 0)
        self.first = torch.where(new, self.step, self.first)
        self.values = torch.where(new, values, self.values)

    def reason(self) -> tuple[int, str] | None:
        """(step, 'term <name> is nan|inf') for the epoch's first non-finite step, else None (one sync)."""
        if self.first is None:
            return None
        step = int(self.first)
        if step == 0:
            return None
        for name, value in zip(self.names, self.values.tolist(), strict=True):
            if not math.isfinite(value):
                return step, f"term {name} is {'nan' if math.isnan(value) else 'inf'}"
        return step, "total is not finite"
