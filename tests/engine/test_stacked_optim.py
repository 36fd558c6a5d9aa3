"""StackedOptimizer: K students' parameters as [K, ...] tensors, stepped as K torch optimisers would.

Each case steps K torch optimisers with different hyperparameters (lr, momentum, Nesterov,
weight decay, betas) on the same seeded gradients as one StackedOptimizer over the stacked
copies, for 20 steps with the lr changed between steps (as a schedule does), and compares the
parameters and the state written back. Measured max abs difference of the parameters (values
of order 1): SGD 4.8e-7, Adam 3.6e-7, AdamW 1.2e-7 (products and divisions rounded in another
order than torch's fused alpha= forms); asserted below 1e-6.
"""

from __future__ import annotations

import pytest
import torch

from kdsweep.engine.stacked_optim import StackedOptimizer, unsupported

SHAPES = [(4, 3, 3, 3), (4,), (10, 4)]
CASES = {
    "sgd": (torch.optim.SGD, [dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
                              dict(lr=0.05, momentum=0.5, weight_decay=0.0),
                              dict(lr=0.2, momentum=0.0, weight_decay=1e-3)]),
    "adam": (torch.optim.Adam, [dict(lr=1e-3, weight_decay=1e-5), dict(lr=3e-3, betas=(0.8, 0.99)),
                                dict(lr=1e-2, weight_decay=0.0)]),
    "adamw": (torch.optim.AdamW, [dict(lr=1e-3, weight_decay=0.01), dict(lr=2e-3, betas=(0.85, 0.995)),
                                  dict(lr=5e-4, weight_decay=0.1)]),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_stacked_steps_equal_each_students_own_optimiser(kind):
    cls, hypers = CASES[kind]
    gen = torch.Generator().manual_seed(0)
    own = [[torch.randn(s, generator=gen).requires_grad_() for s in SHAPES] for _ in hypers]
    optimizers = [cls(params, **h) for params, h in zip(own, hypers, strict=True)]
    stacked = [torch.stack([p[i].detach() for p in own]).requires_grad_() for i in range(len(SHAPES))]
    for step in range(20):
        grads = [torch.randn((len(hypers), *s), generator=gen) for s in SHAPES]
        if step == 1:  # a block is built from optimisers that have state: start from it
            with torch.no_grad():
                for i, s in enumerate(stacked):
                    s.copy_(torch.stack([p[i] for p in own]))
            fused = StackedOptimizer(stacked, optimizers)
        if step >= 1:  # it reads each student's lr as the schedule left it, before that student steps
            fused.zero_grad()
            for s, g in zip(stacked, grads, strict=True):
                s.grad = g.clone()
            fused.step()
        for k, (params, opt) in enumerate(zip(own, optimizers, strict=True)):
            for p, g in zip(params, grads, strict=True):
                p.grad = g[k].clone()
            opt.step()
            opt.param_groups[0]["lr"] *= 0.9
    pairs = [(opt, p) for opt, params in zip(optimizers, own, strict=True) for p in params]
    before = [{k: v.clone() for k, v in opt.state[p].items()} for opt, p in pairs]
    fused.write_back()
    after = [opt.state[p] for opt, p in pairs]
    for k, params in enumerate(own):
        for i, p in enumerate(params):
            assert torch.allclose(stacked[i][k], p, atol=1e-6, rtol=0)
    for b, a in zip(before, after, strict=True):
        assert set(b) == set(a)  # the format torch writes (no buffer where momentum is 0)
        for name in b:
            assert torch.allclose(a[name].float(), b[name].float(), atol=1e-6, rtol=0), name


def test_per_student_gradient_clipping_is_clip_grad_norm_of_each():
    gen = torch.Generator().manual_seed(1)
    stacked = [torch.randn((3, *s), generator=gen).requires_grad_() for s in SHAPES]
    grads = [torch.randn((3, *s), generator=gen) * torch.tensor([0.01, 1.0, 100.0]).view(-1, *[1] * len(s))
             for s in SHAPES]
    own = [[g[k].clone().requires_grad_() for g in grads] for k in range(3)]
    for params in own:
        for p in params:
            p.grad = p.detach().clone()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
    opts = [torch.optim.SGD([torch.zeros(s, requires_grad=True) for s in SHAPES], lr=0.1) for _ in range(3)]
    fused = StackedOptimizer(stacked, opts)
    for s, g in zip(stacked, grads, strict=True):
        s.grad = g.clone()
    fused.clip_(1.0)
    for k in range(3):
        for s, p in zip(stacked, own[k], strict=True):
            assert torch.allclose(s.grad[k], p.grad, rtol=1e-6, atol=1e-7)


def test_what_cannot_be_stacked_says_why():
    p = torch.zeros(3, requires_grad=True)
    assert unsupported(torch.optim.RMSprop([p]), 1) == "optimiser RMSprop"
    assert "amsgrad" in unsupported(torch.optim.Adam([p], amsgrad=True), 1)
    assert "outside the model" in unsupported(torch.optim.SGD([p], lr=0.1), 2)
    assert unsupported(torch.optim.SGD([p], lr=0.1), 1) is None
