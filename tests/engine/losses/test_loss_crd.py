"""CRD: mdistiller's values, gradients and bank updates with a fixed bank and fixed negatives;
the bank's setup, negatives, checkpoint state and config checks.

Golden: golden/crd.json, made by golden/make_dkd_dist_crd.py from megvii-research/mdistiller at
a08d46f10d6102bd6e3f258ca5ac880b020ea259, mdistiller/distillers/CRD.py (`Embed`,
`ContrastMemory` with the contrast indices given, `ContrastLoss`), two steps on the seeded
heads, banks, features and indices of golden_inputs.crd_inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from golden_inputs import crd_inputs

from kdsweep.engine.features import CLASSIFIER_INPUT
from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.crd import CRD
from kdsweep.errors import UserError

GOLDEN = json.loads((Path(__file__).parent / "golden" / "crd.json").read_text())["cases"]


def _close(got: torch.Tensor, want: list[float]) -> None:
    torch.testing.assert_close(got.detach().reshape(-1), torch.tensor(want), atol=1e-5, rtol=1e-5)


def probe(sf: dict, tf: dict, train_labels: torch.Tensor) -> LossContext:
    """A first batch's context, as the trainer hands it to `materialize`."""
    b = next(iter(sf.values())).shape[0]
    return LossContext(torch.zeros(b, 2), torch.zeros(b, dtype=torch.long), None, sf, tf, train_labels=train_labels)


def _term_with(x: dict) -> CRD:
    n, d = x["memory_s"].shape
    term = CRD(feat_dim=d, nce_k=10, nce_t=GOLDEN["nce_t"], nce_momentum=GOLDEN["nce_momentum"])
    feats = {CLASSIFIER_INPUT: torch.zeros(2, 12)}
    term.materialize(probe(feats, {CLASSIFIER_INPUT: torch.zeros(2, 16)}, torch.arange(n) % 4))
    with torch.no_grad():
        term.embed_s.weight.copy_(x["w_s"])
        term.embed_s.bias.copy_(x["b_s"])
        term.embed_t.weight.copy_(x["w_t"])
        term.embed_t.bias.copy_(x["b_t"])
        term.memory_s.copy_(x["memory_s"])
        term.memory_t.copy_(x["memory_t"])
    return term


def test_matches_mdistiller_over_two_steps():
    x = crd_inputs(GOLDEN["seed"])
    term = _term_with(x)
    for step, want in zip(x["steps"], GOLDEN["steps"], strict=True):
        f_s = step["f_s"].clone().requires_grad_(True)
        term.zero_grad()
        ctx = LossContext(torch.zeros(6, 4), torch.zeros(6, dtype=torch.long), torch.zeros(6, 4),
                          {CLASSIFIER_INPUT: f_s}, {CLASSIFIER_INPUT: step["f_t"]})
        loss = term.nce(ctx, step["idx"], step["contrast"])
        loss.backward()
        assert abs(float(loss.detach()) - want["loss"]) <= 1e-5 * max(1.0, abs(want["loss"]))
        _close(f_s.grad, want["grad_f_s"])
        _close(term.embed_s.weight.grad, want["grad_w_s"])
        _close(term.embed_t.weight.grad, want["grad_w_t"])
        _close(term.memory_s[step["idx"]], want["memory_s_rows"])
        _close(term.memory_t[step["idx"]], want["memory_t_rows"])
        torch.testing.assert_close(term.z, torch.tensor(want["z"]), rtol=1e-5, atol=0)  # set at step 1, kept


def test_negatives_come_from_other_classes_and_nce_k_is_clamped(caplog):
    labels = torch.tensor([0] * 5 + [1] * 3 + [2] * 4)
    term = CRD(nce_k=100)
    with caplog.at_level("WARNING"):
        term.materialize(probe({CLASSIFIER_INPUT: torch.zeros(2, 3)}, {CLASSIFIER_INPUT: torch.zeros(2, 3)}, labels))
    assert term.k == 7 and "nce_k 100" in caplog.text  # 12 samples, the largest class has 5
    assert "7 samples of other classes beside the train split's largest class (5 of its 12 samples)" in caplog.text
    torch.manual_seed(0)
    rows = torch.tensor([0, 5, 8, 11])
    neg = term.negatives(labels[rows])
    assert neg.shape == (4, 7)
    assert (labels[neg] != labels[rows][:, None]).all()
    drawn = term.negatives(torch.zeros(2000, dtype=torch.long)).flatten()
    assert set(drawn.tolist()) == set(range(5, 12))  # every other-class sample can be drawn


def test_value_uses_the_batch_indices_and_updates_only_their_bank_rows():
    torch.manual_seed(0)
    term = CRD(feat_dim=4, nce_k=5)
    term.materialize(probe({CLASSIFIER_INPUT: torch.zeros(2, 3)}, {CLASSIFIER_INPUT: torch.zeros(2, 6)}, torch.arange(20) % 2))
    before = term.memory_s.clone()
    idx = torch.tensor([3, 7, 11])
    ctx = LossContext(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, 2),
                      {CLASSIFIER_INPUT: torch.randn(3, 3)}, {CLASSIFIER_INPUT: torch.randn(3, 6)}, indices=idx)
    assert torch.isfinite(term.value(ctx))
    changed = (term.memory_s != before).any(1).nonzero().flatten()
    assert changed.tolist() == idx.tolist()
    with pytest.raises(ValueError, match="sample indices"):
        term.value(LossContext(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, 2),
                               ctx.student_feats, ctx.teacher_feats))


def test_bank_heads_and_z_are_in_the_state_dict():
    losses = build_losses({"ce": {"weight": 1.0}, "crd": {"feat_dim": 4, "nce_k": 3}})
    feats = {CLASSIFIER_INPUT: torch.zeros(2, 3)}
    losses.materialize(probe(feats, feats, torch.arange(10) % 2))
    keys = set(losses.state_dict())
    assert {"terms.crd.memory_s", "terms.crd.memory_t", "terms.crd.z", "terms.crd.embed_s.weight"} <= keys
    assert "terms.crd.labels" not in keys  # rebuilt from the data, not saved
    assert len(list(losses.parameters())) == 4  # both heads' weight and bias train with the student


def test_config_defaults_and_errors():
    term = build_losses({"crd": {}}).terms["crd"]
    assert (term.weight, term.feat_dim, term.nce_k, term.nce_t, term.nce_momentum) == (0.8, 128, 16384, 0.07, 0.5)
    assert term.student_layers == [CLASSIFIER_INPUT] and term.needs_teacher
    with pytest.raises(UserError, match=r"loss\.crd\.nce_k: expected an integer >= 1"):
        build_losses({"crd": {"nce_k": 0}})
    with pytest.raises(UserError, match=r"loss\.crd\.nce_momentum"):
        build_losses({"crd": {"nce_momentum": 1.0}})
    with pytest.raises(UserError, match=r"loss\.crd\.student_layer"):
        build_losses({"crd": {"student_layer": 3}})
