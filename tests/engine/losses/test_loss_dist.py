"""DIST: the authors' values and gradients, and the config checks.

Golden: golden/dist.json, made by golden/make_dkd_dist_crd.py from hunto/image_classification_sota
at 6f7a70a1dd57fd88413d83909d3d53243068f701 (the classification code of hunto/DIST_KD),
lib/models/losses/dist_kd.py `DIST`, on the seeded logits of golden_inputs.logits_case.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from golden_inputs import logits_case

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.dist import DIST
from kdsweep.errors import UserError

GOLDEN = json.loads((Path(__file__).parent / "golden" / "dist.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: f"seed{c['seed']}")
def test_matches_the_authors_loss_and_gradient(case):
    s, t, y = logits_case(case["seed"], scale=case["scale"])
    s.requires_grad_(True)
    loss = DIST(beta=case["beta"], gamma=case["gamma"], tau=case["tau"]).value(LossContext(s, y, t))
    (grad,) = torch.autograd.grad(loss, s)
    assert abs(float(loss.detach()) - case["loss"]) <= 1e-5 * max(1.0, abs(case["loss"]))
    torch.testing.assert_close(grad.reshape(-1), torch.tensor(case["grad_student_logits"]), atol=1e-5, rtol=1e-5)


def test_zero_for_a_student_equal_to_its_teacher_up_to_a_shift():
    s, _, y = logits_case(3)
    assert float(DIST().value(LossContext(s, y, s + 2.0))) == pytest.approx(0.0, abs=1e-5)


def test_config_defaults_and_errors():
    term = build_losses({"dist": {}}).terms["dist"]
    assert (term.beta, term.gamma, term.tau, term.weight) == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(UserError, match=r"loss\.dist\.tau: expected a temperature > 0"):
        build_losses({"dist": {"tau": -1}})
