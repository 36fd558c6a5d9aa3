"""Optimisers step as their hand-worked update rules say; clipping returns the pre-clip norm."""

from __future__ import annotations

import pytest
import torch

from kdsweep.engine.optim import build_optimizer, clip_gradients
from kdsweep.errors import UserError


def param(value: float = 1.0) -> torch.nn.Parameter:
    return torch.nn.Parameter(torch.tensor([value]))


def step(opt: torch.optim.Optimizer, p: torch.nn.Parameter, grad: float) -> float:
    """One step with d(loss)/dp = grad (loss = grad * p)."""
    opt.zero_grad()
    (grad * p).sum().backward()
    opt.step()
    return float(p.detach())


def test_sgd_momentum_weight_decay_by_hand():
    p = param(1.0)
    opt = build_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}, [p])
    assert isinstance(opt, torch.optim.SGD)
    # step 1: g = 2 + 0.01 * 1 = 2.01, buf = 2.01, p = 1 - 0.201
    assert step(opt, p, 2.0) == pytest.approx(0.799)
    # step 2: g = 2 + 0.01 * 0.799 = 2.00799, buf = 0.9 * 2.01 + 2.00799 = 3.81699, p = 0.799 - 0.381699
    assert step(opt, p, 2.0) == pytest.approx(0.417301)


def test_sgd_nesterov_by_hand():
    p = param(1.0)
    opt = build_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, [p])
    # buf = 2, update = g + 0.9 * buf = 3.8, p = 1 - 0.38
    assert step(opt, p, 2.0) == pytest.approx(0.62)


def test_adam_couples_weight_decay_and_adamw_decouples_it():
    """First Adam step moves by lr * sign(g'); AdamW also shrinks p by lr * wd first."""
    cfg = {"lr": 0.1, "betas": [0.9, 0.999], "weight_decay": 0.5}
    p = param(1.0)
    adam = build_optimizer({"name": "adam", **cfg}, [p])
    assert type(adam) is torch.optim.Adam
    assert step(adam, p, 2.0) == pytest.approx(0.9, abs=1e-6)  # g' = 2 + 0.5 * 1 > 0
    q = param(1.0)
    adamw = build_optimizer({"name": "adamw", **cfg}, [q])
    assert type(adamw) is torch.optim.AdamW
    assert step(adamw, q, 2.0) == pytest.approx(1.0 * (1 - 0.1 * 0.5) - 0.1, abs=1e-6)
    assert adamw.param_groups[0]["betas"] == (0.9, 0.999)


def test_partial_config_takes_run_defaults():
    opt = build_optimizer({"name": "sgd", "lr": 0.05}, [param()])
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.05, 0.9, 0.0, False)


def test_frozen_parameters_are_left_out():
    a, b = param(), param()
    b.requires_grad_(False)
    opt = build_optimizer({"name": "sgd", "lr": 0.1}, [a, b])
    assert opt.param_groups[0]["params"] == [a]
    groups = build_optimizer({"name": "sgd", "lr": 0.1}, [{"params": [a, b], "lr": 0.2}, {"params": [b]}])
    assert len(groups.param_groups) == 1 and groups.param_groups[0]["lr"] == 0.2


def test_all_frozen_is_a_user_error():
    p = param()
    p.requires_grad_(False)
    with pytest.raises(UserError, match="no trainable parameters"):
        build_optimizer({"name": "sgd", "lr": 0.1}, [p])


@pytest.mark.parametrize(
    ("cfg", "where", "text"),
    [
        ({"name": "adamm", "lr": 0.1}, "optim.name", "did you mean 'adam'"),
        ({"name": "sgd", "lr": 0}, "optim.lr", "> 0"),
        ({"name": "sgd", "lr": "0.1"}, "optim.lr", "expected a number"),
        ({"name": "sgd", "lr": 0.1, "momentum": 1.0}, "optim.momentum", "< 1"),
        ({"name": "sgd", "lr": 0.1, "momentum": 0.0, "nesterov": True}, "optim.nesterov", "momentum > 0"),
        ({"name": "adamw", "lr": 0.1, "betas": [0.9]}, "optim.betas", "two numbers"),
        ({"name": "adam", "lr": 0.1, "betas": [0.9, 1.0]}, "optim.betas[1]", "< 1"),
        ({"name": "adam", "lr": 0.1, "weight_decay": -1}, "optim.weight_decay", ">= 0"),
        ({"lr": 0.1}, "optim", "'name'"),
    ],
)
def test_config_mistakes_name_the_key(cfg, where, text):
    with pytest.raises(UserError, match=text) as err:
        build_optimizer(cfg, [param()])
    assert err.value.where == where


def test_clip_gradients_returns_pre_clip_norm_and_scales():
    p = torch.nn.Parameter(torch.zeros(2))
    q = torch.nn.Parameter(torch.zeros(1))  # no grad: ignored
    p.grad = torch.tensor([3.0, 4.0])
    assert clip_gradients([p, q], 1.0) == pytest.approx(5.0)
    assert p.grad.tolist() == pytest.approx([0.6, 0.8], rel=1e-5)
    assert clip_gradients([p], 10.0) == pytest.approx(1.0, rel=1e-5)  # under the limit: untouched
    assert p.grad.tolist() == pytest.approx([0.6, 0.8], rel=1e-5)


def test_clip_gradients_off():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    assert clip_gradients([p], None) is None
    assert clip_gradients([p], 0) is None
    assert p.grad.tolist() == [3.0, 4.0]
    with pytest.raises(UserError) as err:
        clip_gradients([p], -1.0)
    assert err.value.where == "optim.grad_clip"
