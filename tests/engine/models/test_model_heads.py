import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.engine.models import CosineHead, apply_margin, cosine_head_of


def test_logits_are_s_times_cosine():
    torch.manual_seed(0)
    head = CosineHead(6, 4, s=5.0, m=0.35, hidden=3)
    x = torch.randn(5, 6)
    h = head.hidden(x)
    expected = 5.0 * (h / h.norm(dim=1, keepdim=True)) @ (head.weight / head.weight.norm(dim=0, keepdim=True))
    out = head(x)
    torch.testing.assert_close(out, expected)
    assert out.abs().max() <= 5.0 + 1e-5
    assert head.weight.shape == (3, 4) and head.hidden.bias is not None


def test_no_hidden_layer():
    head = CosineHead(6, 4, s=2.0)
    assert isinstance(head.hidden, nn.Identity) and head.weight.shape == (6, 4)
    x = torch.randn(2, 6)
    torch.testing.assert_close(head(x), 2.0 * F.normalize(x, dim=1) @ F.normalize(head.weight, dim=0))
    torch.testing.assert_close(head(3.0 * x), head(x))  # a cosine: the feature scale does not matter


def test_margin_only_on_target_class():
    model = nn.Sequential(nn.Flatten(), CosineHead(4, 3, s=5.0, m=0.2))
    assert cosine_head_of(model) is model[1]
    logits = torch.zeros(2, 3)
    out = apply_margin(model, logits, torch.tensor([2, 0]))
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]))


def test_margin_is_noop_without_head_or_with_zero_m():
    logits = torch.randn(2, 3)
    target = torch.tensor([0, 1])
    assert apply_margin(nn.Linear(4, 3), logits, target) is logits
    assert apply_margin(CosineHead(4, 3, m=0.0), logits, target) is logits
