import pytest
import torch

from kdsweep.engine.models import build_model
from kdsweep.errors import UserError


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_food11_student_is_exactly_003s_size():
    model = build_model({"arch": "food11_student"}, 11)
    assert _params(model) == 59_723
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)] == [4, 16, 64, 84]
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 11)
        assert model.features[:3](torch.randn(1, 3, 64, 64)).shape == (1, 64, 8, 8)


def test_dwpw_student_default_under_budget_and_configurable():
    model = build_model({"arch": "dwpw_student"}, 11)
    assert _params(model) == 50_827 and _params(model) < 60_000
    assert isinstance(model.features[1][2], torch.nn.LeakyReLU) and model.features[1][2].negative_slope == 0.01
    assert model.features[1][0].groups == 32  # depthwise
    model.eval()
    with torch.no_grad():
        assert model.features(torch.randn(1, 3, 224, 224)).shape == (1, 256, 14, 14)
    small = build_model({"arch": "dwpw_student", "kwargs": {"channels": [8, 16, 32], "strides": [1, 2]}}, 11)
    with torch.no_grad():
        assert small.eval().features(torch.randn(1, 3, 32, 32)).shape == (1, 32, 8, 8)
    with pytest.raises(UserError, match="student.kwargs: dwpw_student does not accept these kwargs .*strides"):
        build_model({"arch": "dwpw_student", "kwargs": {"channels": [8, 16, 32], "strides": [1]}}, 11)
