import json
from pathlib import Path

import pytest
import torch
from torch import nn

from kdsweep.engine.micronet_ops import micronet_ops
from kdsweep.engine.models import build_model
from kdsweep.engine.profile import format_count, micronet_score, profile_model

# Made once, outside the project, by running torchscope as 001 ran it
# (chrisqqq123/FA-Dist-EfficientNet @ 6364909, torchscope-master/: `ModelSummary(model, [3, 32, 32],
# batch_size=2)` with helper.py's mul_factor 0.5) on the ORIGINAL efficientnet_ex / _exx of
# torchscope-master/efficientnet_ex.py (coslinear head, 100 classes): the total and the split by
# module kind. The totals are the numbers 001 prints.
TORCHSCOPE = json.loads((Path(__file__).parent / "golden" / "counts_001_torchscope.json").read_text())["models"]
COSINE = {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}


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
    # 001 prints 382,885,052 ops -> 0.074762 (0.0747612) and 353,361,693 -> 0.066818
    assert micronet_score(2_793_064, 382_885_052) == pytest.approx(0.0747612, abs=1e-7)
    assert micronet_score(2_418_650, 353_361_693) == pytest.approx(0.066818, abs=1e-6)


@pytest.mark.parametrize("arch", ["efficientnet_ex", "efficientnet_exx"])
def test_001s_count_equals_torchscope_on_the_original_model(arch):
    golden = TORCHSCOPE[arch]
    model = build_model({"arch": arch, "head": COSINE}, 100)
    by_kind = micronet_ops(model, 32)
    assert sum(by_kind.values()) == golden["ops"]  # exact: 382,885,052 (ex), 353,361,693 (exx)
    theirs = golden["by_module"]
    assert by_kind["conv"] == theirs["Conv2d"] and by_kind["batch norm"] == theirs["BatchNorm2d"]
    assert by_kind["swish"] == theirs["Swish"] and by_kind["sigmoid"] == theirs["Sigmoid"]
    assert by_kind["pool"] == theirs["AdaptiveAvgPool2d"] + theirs["AvgPool2d"]  # SE pools + the final pool
    assert by_kind["linear"] == theirs["Linear"] and by_kind["l2 norm"] == theirs["L2norm"]
    assert by_kind["cosine"] == theirs["Arcface"]


def test_efficientnet_ex_profile():
    model = build_model({"arch": "efficientnet_ex", "head": COSINE}, 100)
    out = profile_model(model, 32)
    assert out["params"] == TORCHSCOPE["efficientnet_ex"]["params"] == 2_793_064
    assert out["madds"] == 245_569_280  # torch counts convs / linears only (see profile.py)
    assert out["micronet_ops"] == 382_885_052
    assert round(out["micronet_score"], 6) == 0.074761


def test_001s_rules_by_hand():
    """Each rule once, on a model small enough to price by hand (m = 0.5 per multiply)."""
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU6(), nn.MaxPool2d(2),
                          nn.SiLU(), nn.AvgPool2d(2), nn.Sigmoid(), nn.LeakyReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    got = micronet_ops(model, 8, in_channels=2)
    k = 3 * 3 * 2
    assert got["conv"] == 4 * 8 * 8 * (0.5 * k + k - 1 + 1)  # with bias
    assert got["batch norm"] == 3 * 4 * 64 and got["relu"] == 4 * 64  # LeakyReLU: not counted
    assert got["pool"] == 3 * 4 * 16 + 4 * 4 * 4 + 4 * 4  # max 2x2, avg 2x2, global (input H*W per output)
    assert got["swish"] == 2.5 * 4 * 16 and got["sigmoid"] == 2 * 4 * 4
    assert got["linear"] == 3 * (0.5 * 4 + 3)
    # element-wise adds / multiplies and work on parameters alone are not counted
    assert sum(micronet_ops(_Residual(), 4, in_channels=5).values()) == 0


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, 3))

    def forward(self, x):
        return x + x * torch.nn.functional.normalize(self.scale, dim=1).sum()


def test_format_count():
    assert format_count(4_137_456) == "4.1M"
    assert format_count(373_554_688) == "0.37G"
    assert format_count(954_846_272) == "0.95G"
    assert format_count(59_723) == "59.7k"
    assert format_count(512) == "512"
    assert format_count(10_853_540) == "10.9M"


def test_print_profile(capsys):
    from kdsweep.engine.profile_print import print_profile
    from kdsweep.errors import UserError

    assert print_profile("food11_student", num_classes=11, input_size=32) == 0
    out = capsys.readouterr().out
    assert "food11_student, 11 classes, input 3x32x32" in out
    assert "59,723" in out and "59.7k" in out and "MicroNet score" in out
    with pytest.raises(UserError, match="--head: unknown head 'arc'"):
        print_profile("resnet18", head="arc")
