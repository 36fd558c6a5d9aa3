"""The hard-label term against hand-computed cross-entropy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.ce import CrossEntropy


def test_value_is_minus_log_prob_of_the_label_batch_mean():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])  # p = (.5, .5) and (.75, .25)
    labels = torch.tensor([0, 1])
    got = CrossEntropy().value(LossContext(logits, labels))
    assert float(got) == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_label_smoothing_mixes_in_the_uniform_target():
    logits = torch.tensor([[math.log(3.0), 0.0]])
    labels = torch.tensor([1])
    eps = 0.2
    # target = (1 - eps) * onehot + eps / K: -(0.1 * log .75 + 0.9 * log .25)
    want = -(0.1 * math.log(0.75) + 0.9 * math.log(0.25))
    got = CrossEntropy(label_smoothing=eps).value(LossContext(logits, labels))
    assert float(got) == pytest.approx(want)


def test_weight_scales_and_none_means_one():
    logits, labels = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([2])
    plain = float(CrossEntropy().value(LossContext(logits, labels)))
    terms = build_losses({"ce": {"weight": None, "label_smoothing": 0.0}})(LossContext(logits, labels))
    assert float(terms["ce"]) == pytest.approx(plain)
    terms = build_losses({"ce": {"weight": 0.1}})(LossContext(logits, labels))
    assert float(terms["ce"]) == pytest.approx(0.1 * plain)


def test_half_precision_logits_give_a_float32_loss():
    logits = torch.randn(4, 5).to(torch.bfloat16)
    labels = torch.tensor([0, 1, 2, 3])
    got = CrossEntropy().value(LossContext(logits, labels))
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(float(torch.nn.functional.cross_entropy(logits.float(), labels)))


def test_ce_uses_the_margin_logits_when_the_head_has_a_margin():
    """AM-softmax: the hard-label term sees s * (cos - m) on the target class; other terms do not."""
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    labels = torch.tensor([0])
    margin = logits - torch.tensor([[1.5, 0.0, 0.0]])
    plain = CrossEntropy().value(LossContext(student_logits=logits, labels=labels))
    with_margin = CrossEntropy().value(LossContext(student_logits=logits, labels=labels, margin_logits=margin))
    assert with_margin.item() == pytest.approx(F.cross_entropy(margin, labels).item())
    assert with_margin.item() > plain.item()
