"""DKD: mdistiller's values and gradients, the warm-up ramp, the config checks.

Golden: golden/dkd.json, made by golden/make_dkd_dist_crd.py from megvii-research/mdistiller at
a08d46f10d6102bd6e3f258ca5ac880b020ea259, mdistiller/distillers/DKD.py `dkd_loss`, on the
seeded logits of golden_inputs.logits_case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from golden_inputs import logits_case

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.dkd import DKD
from kdsweep.errors import UserError

GOLDEN = json.loads((Path(__file__).parent / "golden" / "dkd.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"seed{c['seed']}")
def test_matches_mdistiller_loss_and_gradient(case):
    s, t, y = logits_case(case["seed"], scale=case["scale"])
    s.requires_grad_(True)
    term = DKD(alpha=case["alpha"], beta=case["beta"], T=case["T"])
    loss = term.value(LossContext(s, y, t))
    (grad,) = torch.autograd.grad(loss, s)
    assert abs(float(loss.detach()) - case["loss"]) <= 1e-5 * max(1.0, abs(case["loss"]))
    torch.testing.assert_close(grad.reshape(-1), torch.tensor(case["grad_student_logits"]), atol=1e-5, rtol=1e-5)


def test_warmup_ramps_linearly_with_the_1_based_epoch():
    s, t, y = logits_case(0)
    term = DKD(warmup_epochs=20)
    full = term.value(LossContext(s, y, t))
    for epoch, factor in ((1, 1 / 20), (10, 0.5), (20, 1.0), (35, 1.0)):
        got = term(LossContext(s, y, t, epoch=epoch))
        torch.testing.assert_close(got, full * factor)
    assert float(DKD(warmup_epochs=0)(LossContext(s, y, t, epoch=1))) == pytest.approx(float(full))


def test_zero_when_the_student_matches_the_teacher_and_finite_when_confident():
    s, _, y = logits_case(2)
    assert float(DKD().value(LossContext(s, y, s.clone()))) == pytest.approx(0.0, abs=1e-6)
    confident = torch.full((2, 10), -50.0)
    confident[torch.arange(2), torch.tensor([3, 4])] = 50.0  # p_target = 1 in float32
    value = DKD(T=1.0).value(LossContext(confident, torch.tensor([3, 4]), confident.flip(0)))
    assert torch.isfinite(value)


def test_config_defaults_and_errors():
    terms = build_losses({"ce": {"weight": 1.0}, "dkd": {}}).terms
    assert (terms["dkd"].alpha, terms["dkd"].beta, terms["dkd"].T, terms["dkd"].warmup_epochs) == (1.0, 8.0, 4.0, 20.0)
    assert terms["dkd"].needs_teacher
    with pytest.raises(UserError, match=r"loss\.dkd\.T: expected a temperature > 0"):
        build_losses({"dkd": {"T": 0}})
    with pytest.raises(UserError, match="unknown key 'gamma'"):
        build_losses({"dkd": {"gamma": 1}})
