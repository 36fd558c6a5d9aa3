"""Label refinery: soft-target cross-entropy on the teacher's labels, no temperature."""

from __future__ import annotations

import math

import pytest
import torch

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.refinery import Refinery
from kdsweep.errors import UserError


def test_value_by_hand():
    s = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    t = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]])
    ctx = LossContext(s, torch.tensor([1, 1]), t)
    # sample 1: -(.75 ln .5 + .25 ln .5) = ln 2; sample 2: -(.5 ln .75 + .5 ln .25)
    want = (math.log(2) - 0.5 * math.log(0.75) - 0.5 * math.log(0.25)) / 2
    assert float(Refinery().value(ctx)) == pytest.approx(want)


def test_no_temperature_and_labels_unused():
    torch.manual_seed(0)
    s, t = torch.randn(4, 5) * 5, torch.randn(4, 5) * 5  # 001: logits are 5 * cos
    a = Refinery().value(LossContext(s, torch.tensor([0, 0, 0, 0]), t))
    b = Refinery().value(LossContext(s, torch.tensor([1, 2, 3, 4]), t))
    want = -(torch.softmax(t, 1) * torch.log_softmax(s, 1)).sum(1).mean()
    assert float(a) == float(b) == pytest.approx(float(want))


def test_refinery_set_trains_on_teacher_labels_alone():
    losses = build_losses({"ce": {"weight": 0.0}, "refinery": {"weight": 1.0, "teacher_mode": "eval"}})
    s = torch.randn(3, 4, requires_grad=True)
    t = torch.randn(3, 4, requires_grad=True)
    terms = losses(LossContext(s, torch.tensor([0, 1, 2]), t))
    assert list(terms) == ["refinery"]  # ce with weight 0 is left out
    assert losses.needs_teacher and losses.teacher_mode == "eval"
    terms["refinery"].backward()
    assert t.grad is None and s.grad is not None


def test_teacher_mode_train_reaches_the_set():
    assert build_losses({"refinery": {"teacher_mode": "train"}}).teacher_mode == "train"
    with pytest.raises(UserError, match="'eval' or 'train'") as err:
        build_losses({"refinery": {"teacher_mode": "frozen"}})
    assert err.value.where == "loss.refinery.teacher_mode"
