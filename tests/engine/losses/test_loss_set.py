"""LossSet: built from the resolved loss section, it tells the trainer what to hook and run."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from kdsweep.engine.features import FeatureHooks
from kdsweep.engine.losses import LossContext, LossSet, build_losses, first_nonfinite
from kdsweep.engine.optim import build_optimizer
from kdsweep.errors import UserError


def test_zero_weight_terms_are_left_out_and_need_no_teacher():
    losses = build_losses({"ce": {"weight": 1.0}, "kd": {"T": 4.0, "alpha": 0.0, "t2_scale": True}})
    assert list(losses.terms) == ["ce"] and not losses.needs_teacher
    out = losses(LossContext(torch.zeros(2, 3), torch.tensor([0, 1])))  # no teacher logits needed
    assert list(out) == ["ce"] and float(out["ce"]) == pytest.approx(math.log(3))


def test_all_zero_weights_is_a_user_error():
    with pytest.raises(UserError, match="weight 0") as err:
        build_losses({"ce": {"weight": 0.0}, "kd": {"alpha": 0.0}})
    assert err.value.where == "loss"


def test_layers_are_the_union_in_order_without_repeats():
    losses = build_losses({
        "fa": {"student_layer": "s2", "teacher_layer": "t2"},
        "hint": {"layers": [{"student": "s1", "teacher": "t1"}, {"student": "s2", "teacher": "t2", "weight": 2}]},
    })
    assert losses.student_layers == ["s2", "s1"] and losses.teacher_layers == ["t2", "t1"]
    assert losses.needs_teacher and losses.teacher_mode == "eval"


@pytest.mark.parametrize(
    ("cfg", "where", "text"),
    [
        ({"kdd": {}}, "loss", "did you mean 'kd'"),
        ({"kd": {"alhpa": 0.5}}, "loss.kd.alhpa", "did you mean 'alpha'"),
        ({"kd": {"alpha": 1.5}}, "loss.kd.alpha", "<= 1"),
        ({"kd": {"T": 0}}, "loss.kd.T", "> 0"),
        ({"kd": {"t2_scale": "yes"}}, "loss.kd.t2_scale", "true or false"),
        ({"ce": {"label_smoothing": 1.0}}, "loss.ce.label_smoothing", "< 1"),
        ({"ce": {"weight": -0.1}}, "loss.ce.weight", ">= 0"),
        ({"ce": [1]}, "loss.ce", "mapping"),
        ({}, "loss", "mapping of loss terms"),
    ],
)
def test_config_mistakes_name_the_key(cfg, where, text):
    with pytest.raises(UserError, match=text) as err:
        build_losses(cfg)
    assert err.value.where == where


def test_first_nonfinite():
    assert first_nonfinite({}) is None
    assert first_nonfinite({"ce": torch.tensor(1.0), "kd": torch.tensor(2.0)}) is None
    terms = {"ce": torch.tensor(1.0), "kd": torch.tensor(float("nan")), "fa": torch.tensor(float("inf"))}
    assert first_nonfinite(terms) == "kd"
    assert first_nonfinite({"ce": torch.tensor(1.0), "fa": torch.tensor(-float("inf"))}) == "fa"


class Tiny(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.fc = nn.Linear(2 * width, 5)

    def forward(self, x):
        return self.fc(self.conv2(torch.relu(self.conv1(x))).mean((2, 3)))


def test_a_training_step_with_every_term_through_hooks():
    """The trainer's sequence: hook, probe batch, materialize, optimiser over student + adapters, step."""
    torch.manual_seed(0)
    student, teacher = Tiny(4), Tiny(6).eval()
    losses = build_losses({
        "ce": {"weight": 0.1, "label_smoothing": 0.0},
        "kd": {"T": 3.0, "alpha": 0.9, "t2_scale": True},
        "fa": {"student_layer": "conv2", "teacher_layer": "conv2", "fast": False},
        "hint": {"layers": [{"student": "conv1", "teacher": "conv1", "weight": 3.0}]},
    })
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 5, (4,))
    with FeatureHooks(student, losses.student_layers, where="loss") as sh, \
            FeatureHooks(teacher, losses.teacher_layers, where="loss") as th:
        with torch.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        losses.materialize(LossContext(s_logits, y, t_logits, sh.features, th.features))
        assert [tuple(p.shape) for p in losses.parameters()] == [(6, 4, 1, 1), (6,)]
        opt = build_optimizer({"name": "sgd", "lr": 0.1}, [*student.parameters(), *losses.parameters()])
        terms = losses(LossContext(s_logits, y, t_logits, sh.features, th.features))
        assert list(terms) == ["ce", "kd", "fa", "hint"] and first_nonfinite(terms) is None
        assert all(v.dtype == torch.float32 and v.dim() == 0 for v in terms.values())
        sum(terms.values()).backward()
        adapter = losses.terms["hint"].adapters["0"]
        assert adapter.weight.grad is not None and student.conv1.weight.grad is not None
        assert all(p.grad is None for p in teacher.parameters())
        before = adapter.weight.detach().clone()
        opt.step()
        assert not torch.equal(before, adapter.weight)  # the adapter trains with the student


def test_state_dict_round_trip_after_materialize():
    cfg = {"hint": {"layers": [{"student": "a", "teacher": "x"}]}}
    sf, tf = {"a": torch.randn(1, 2, 2, 2)}, {"x": torch.randn(1, 3, 2, 2)}
    ctx = LossContext(torch.zeros(1, 2), torch.tensor([0]), torch.zeros(1, 2), sf, tf)
    first = build_losses(cfg)
    first.materialize(ctx)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    second: LossSet = build_losses(cfg)
    second.materialize(ctx)
    second.load_state_dict(torch.load(buf, weights_only=True))
    with torch.no_grad():
        assert float(first(ctx)["hint"]) == float(second(ctx)["hint"])
