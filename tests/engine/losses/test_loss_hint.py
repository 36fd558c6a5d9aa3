"""Hint alignment (003): weighted smooth-L1 / MSE between hooked maps, adapters where channels differ."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.hint import Hint
from kdsweep.errors import UserError


def ctx_of(sf: dict, tf: dict) -> LossContext:
    b = next(iter(sf.values())).shape[0]
    return LossContext(torch.zeros(b, 3), torch.zeros(b, dtype=torch.long), torch.zeros(b, 3),
                       student_feats=sf, teacher_feats=tf)


def test_smooth_l1_and_mse_by_hand():
    fs = torch.zeros(2, 3, 2, 2)
    small = ctx_of({"a": fs}, {"x": torch.full((2, 3, 2, 2), 0.5)})
    big = ctx_of({"a": fs}, {"x": torch.full((2, 3, 2, 2), 2.0)})
    pair = [("a", "x", 1.0)]
    assert float(Hint(pair).value(small)) == pytest.approx(0.5 * 0.5**2)  # quadratic below beta 1
    assert float(Hint(pair).value(big)) == pytest.approx(2.0 - 0.5)  # linear above
    assert float(Hint(pair, kind="mse").value(big)) == pytest.approx(4.0)


def test_003_weights_three_two_one_and_total_weight():
    sf = {n: torch.zeros(1, 2, 3, 3) for n in ("l1", "l2", "l3")}
    tf = {"t1": torch.full((1, 2, 3, 3), 0.2), "t2": torch.full((1, 2, 3, 3), 0.4),
          "t3": torch.full((1, 2, 3, 3), 3.0)}
    losses = build_losses({"hint": {"weight": 0.5, "kind": "smooth_l1", "layers": [
        {"student": "l1", "teacher": "t1", "weight": 3}, {"student": "l2", "teacher": "t2", "weight": 2},
        {"student": "l3", "teacher": "t3", "weight": 1}]}})
    got = losses(ctx_of(sf, tf))["hint"]
    assert float(got) == pytest.approx(0.5 * (3 * 0.5 * 0.04 + 2 * 0.5 * 0.16 + 1 * 2.5))
    assert losses.student_layers == ["l1", "l2", "l3"] and losses.teacher_layers == ["t1", "t2", "t3"]
    assert list(losses.parameters()) == []  # channels agree: no adapters


def test_teacher_map_resized_to_student_size():
    torch.manual_seed(0)
    fs, ft = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 8, 8)
    want = F.smooth_l1_loss(fs, F.interpolate(ft, size=(4, 4), mode="bilinear", align_corners=False))
    assert float(Hint([("a", "x", 1.0)]).value(ctx_of({"a": fs}, {"x": ft}))) == pytest.approx(float(want))


def test_adapter_created_by_materialize_only_where_channels_differ():
    torch.manual_seed(1)
    sf = {"a": torch.randn(2, 4, 3, 3), "b": torch.randn(2, 6, 3, 3)}
    tf = {"x": torch.randn(2, 8, 3, 3), "y": torch.randn(2, 6, 3, 3)}
    term = Hint([("a", "x", 1.0), ("b", "y", 2.0)])
    with pytest.raises(RuntimeError, match="materialize"):
        term.value(ctx_of(sf, tf))
    term.materialize(ctx_of(sf, tf))
    adapter = term.adapters["0"]
    assert isinstance(adapter, torch.nn.Conv2d) and (adapter.in_channels, adapter.out_channels) == (4, 8)
    assert "1" not in term.adapters
    term.materialize(ctx_of(sf, tf))
    assert term.adapters["0"] is adapter  # idempotent
    mapped = torch.einsum("oc,bchw->bohw", adapter.weight[:, :, 0, 0], sf["a"]) + adapter.bias.view(1, 8, 1, 1)
    want = F.smooth_l1_loss(mapped, tf["x"]) + 2 * F.smooth_l1_loss(sf["b"], tf["y"])
    got = term.value(ctx_of(sf, tf))
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-5)
    got.backward()
    assert adapter.weight.grad is not None and adapter.weight.grad.abs().sum() > 0


def test_vector_features_get_a_linear_adapter():
    sf, tf = {"a": torch.randn(3, 5)}, {"x": torch.randn(3, 7)}
    term = Hint([("a", "x", 1.0)], kind="mse")
    term.materialize(ctx_of(sf, tf))
    lin = term.adapters["0"]
    assert isinstance(lin, torch.nn.Linear) and (lin.in_features, lin.out_features) == (5, 7)
    want = F.mse_loss(sf["a"] @ lin.weight.T + lin.bias, tf["x"])
    assert float(term.value(ctx_of(sf, tf)).detach()) == pytest.approx(float(want.detach()), rel=1e-5)


def test_rank_mismatch_and_config_mistakes():
    term = Hint([("a", "x", 1.0)], where="loss.hint")
    with pytest.raises(UserError, match="cannot be aligned") as err:
        term.materialize(ctx_of({"a": torch.randn(2, 4)}, {"x": torch.randn(2, 4, 2, 2)}))
    assert err.value.where == "loss.hint.layers[0]"
    cases = [
        ({"layers": []}, "loss.hint.layers"),
        ({"layers": [{"student": "a"}]}, "loss.hint.layers[0]"),
        ({"layers": [{"student": "a", "teacher": "x", "wieght": 2}]}, "loss.hint.layers[0].wieght"),
        ({"layers": [{"student": "a", "teacher": "x", "weight": -1}]}, "loss.hint.layers[0].weight"),
        ({"layers": [{"student": "a", "teacher": "x"}], "kind": "l2"}, "loss.hint.kind"),
    ]
    for cfg, where in cases:
        with pytest.raises(UserError) as err:
            build_losses({"hint": cfg})
        assert err.value.where == where
