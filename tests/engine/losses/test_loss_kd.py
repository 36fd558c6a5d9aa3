"""Hinton KD: KL at temperature T, weighted alpha * T^2, with 004's soft-CE gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.kd import HintonKD


def kl(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True))


def test_kl_by_hand_at_temperature_one_and_two():
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0]])
    ctx = LossContext(s, torch.tensor([0]), t)
    # T = 1: p_t = (.75, .25), p_s = (.5, .5): .75 ln 1.5 + .25 ln .5 = 0.1308...
    assert float(HintonKD(T=1.0).value(ctx)) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert float(HintonKD(T=1.0).value(ctx)) == pytest.approx(0.130812, abs=1e-6)
    # T = 2: p_t = (sqrt 3, 1) / (1 + sqrt 3)
    r3 = math.sqrt(3.0)
    assert float(HintonKD(T=2.0).value(ctx)) == pytest.approx(kl([r3 / (1 + r3), 1 / (1 + r3)], [0.5, 0.5]))


def test_batch_mean():
    s = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [1.0, 0.0]])  # second sample matches: KL 0
    ctx = LossContext(s, torch.tensor([0, 0]), t)
    assert float(HintonKD(T=1.0).value(ctx)) == pytest.approx(kl([0.75, 0.25], [0.5, 0.5]) / 2)


def test_weight_is_alpha_t_squared_or_alpha():
    assert HintonKD(T=3.0, alpha=0.9).weight == pytest.approx(8.1)
    assert HintonKD(T=5.0, alpha=0.7, t2_scale=False).weight == pytest.approx(0.7)  # 002
    torch.manual_seed(0)
    s, t, y = torch.randn(8, 10), torch.randn(8, 10), torch.randint(0, 10, (8,))
    ctx = LossContext(s, y, t)
    terms = build_losses({"ce": {"weight": 0.1}, "kd": {"T": 3.0, "alpha": 0.9, "t2_scale": True}})(ctx)
    assert float(terms["kd"]) == pytest.approx(8.1 * float(HintonKD(T=3.0).value(ctx)))
    # 004's total: alpha * T^2 * soft + (1 - alpha) * CE
    assert float(sum(terms.values())) == pytest.approx(
        8.1 * float(HintonKD(T=3.0).value(ctx)) + 0.1 * float(F.cross_entropy(s, y)), rel=1e-6)


def test_gradient_equals_004_soft_target_cross_entropy():
    """KL and 004's -sum(p_t log p_s) differ by the teacher's entropy: same student gradient."""
    torch.manual_seed(1)
    s = torch.randn(6, 7, requires_grad=True)
    t = torch.randn(6, 7)
    T = 3.0
    (g_kl,) = torch.autograd.grad(HintonKD(T=T).value(LossContext(s, torch.zeros(6, dtype=torch.long), t)), s)
    soft_ce = -(F.softmax(t / T, 1) * F.log_softmax(s / T, 1)).sum(1).mean()
    (g_ce,) = torch.autograd.grad(soft_ce, s)
    torch.testing.assert_close(g_kl, g_ce)
    entropy = -(F.softmax(t / T, 1) * F.log_softmax(t / T, 1)).sum(1).mean()
    value = HintonKD(T=T).value(LossContext(s, torch.zeros(6, dtype=torch.long), t))
    assert float(value.detach()) == pytest.approx(float(soft_ce.detach() - entropy), abs=1e-6)


def test_no_gradient_reaches_the_teacher_and_extreme_logits_stay_finite():
    s = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    t = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    value = HintonKD(T=1.0).value(LossContext(s, torch.tensor([0]), t))
    assert torch.isfinite(value) and float(value.detach()) == pytest.approx(2e4, rel=1e-4)
    value.backward()
    assert t.grad is None and torch.isfinite(s.grad).all()


def test_missing_teacher_logits_is_a_clear_error():
    with pytest.raises(ValueError, match="teacher's logits"):
        HintonKD().value(LossContext(torch.zeros(1, 2), torch.tensor([0])))
