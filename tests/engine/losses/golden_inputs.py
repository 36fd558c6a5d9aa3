"""The seeded tensors the golden files were made from (golden/make_dkd_dist_crd.py) and the tests rebuild.

Drawn in float64 from a seeded CPU generator, then cast to float32, so they do not depend on
the float32 sampling kernels of a torch version.
"""

from __future__ import annotations

import torch


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def logits_case(seed: int, b: int = 8, c: int = 10, scale: float = 3.0):
    """(student logits, teacher logits, labels)."""
    g = _gen(seed)
    s = torch.randn(b, c, generator=g, dtype=torch.float64).float() * scale
    t = torch.randn(b, c, generator=g, dtype=torch.float64).float() * scale
    y = torch.randint(0, c, (b,), generator=g)
    return s, t, y


def crd_inputs(seed: int, b: int = 6, ds: int = 12, dt: int = 16, d: int = 8, n: int = 40, k: int = 10) -> dict:
    """Heads, banks, and two steps of (features, sample indices, positive + negative bank rows)."""
    g = _gen(seed)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).float()

    def bank() -> torch.Tensor:
        stdv = 1.0 / (d / 3) ** 0.5
        return (torch.rand(n, d, generator=g, dtype=torch.float64).float() * 2 - 1) * stdv

    out = {"w_s": r(d, ds) * 0.3, "b_s": r(d) * 0.1, "w_t": r(d, dt) * 0.3, "b_t": r(d) * 0.1,
           "memory_s": bank(), "memory_t": bank(), "steps": []}
    for _ in range(2):
        idx = torch.randperm(n, generator=g)[:b]
        neg = torch.randint(0, n, (b, k), generator=g)
        out["steps"].append({"f_s": r(b, ds), "f_t": r(b, dt), "idx": idx, "contrast": torch.cat([idx[:, None], neg], 1)})
    return out
