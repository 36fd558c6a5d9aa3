import pytest
from torch import nn

from kdsweep.engine.models import build_model
from kdsweep.engine.profile import format_count, micronet_score, profile_model


def test_counts_on_a_model_we_can_do_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 8 * 8, 5))
    model[0].weight.requires_grad_(False)
    model.train()
    out = profile_model(model, 8)
    macs = 4 * 3 * 9 * 8 * 8 + 256 * 5
    assert out["madds"] == macs and out["flops"] == 2 * macs
    assert out["params"] == 108 + 8 + 256 * 5 + 5 and out["trainable_params"] == out["params"] - 108
    assert model.training  # mode restored
    assert model[1].num_batches_tracked.item() == 0  # profiled in eval mode: BN statistics untouched


def test_in_channels_and_input_size():
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False))
    assert profile_model(model, 5, in_channels=1)["madds"] == 2 * 25


def test_micronet_score_reproduces_001():
    # 001 prints ops (= 1.5 x multiply-adds) 382,885,052 -> 0.074762 and 353,361,693 -> 0.066818
    assert micronet_score(2_793_064, 382_885_052 / 1.5) == pytest.approx(0.074762, abs=2e-6)
    assert micronet_score(2_418_650, 353_361_693 / 1.5) == pytest.approx(0.066818, abs=1e-6)


def test_efficientnet_ex_profile():
    model = build_model({"arch": "efficientnet_ex", "head": {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}},
                        100)
    out = profile_model(model, 32)
    assert out["params"] == 2_793_064
    assert out["madds"] == 245_569_280  # torch counts convs / linears only (see profile.py)
    assert out["micronet_score"] == pytest.approx(0.073376, abs=1e-6)
    assert 0.95 < (1.5 * out["madds"]) / 382_885_052 < 0.97  # 001's torchscope also counts BN, Swish, SE gates


def test_format_count():
    assert format_count(4_137_456) == "4.1M"
    assert format_count(373_554_688) == "0.37G"
    assert format_count(954_846_272) == "0.95G"
    assert format_count(59_723) == "59.7k"
    assert format_count(512) == "512"
    assert format_count(10_853_540) == "10.9M"


def test_print_profile(capsys):
    from kdsweep.engine.profile import print_profile
    from kdsweep.errors import UserError

    assert print_profile("food11_student", num_classes=11, input_size=32) == 0
    out = capsys.readouterr().out
    assert "food11_student, 11 classes, input 3x32x32" in out
    assert "59,723" in out and "59.7k" in out and "MicroNet score" in out
    with pytest.raises(UserError, match="--head: unknown head 'arc'"):
        print_profile("resnet18", head="arc")
