import pytest
import torch

from kdsweep.engine.models import build_model
from kdsweep.engine.models.efficientnet_cifar import MBConv, SameConv2d, drop_connect

COSINE = {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}


def _params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("arch", "count"), [("efficientnet_ex", 2_793_064), ("efficientnet_exx", 2_418_650)])
def test_001_parameter_counts_are_exact(arch, count):
    model = build_model({"arch": arch, "head": COSINE}, 100)
    assert _params(model) == count
    assert model.classifier.weight.numel() == 20_000  # 001's "non-trainable 20,000": the cosine W


def test_b0_b3_sizes():
    assert _params(build_model({"arch": "efficientnet_cifar_b0"}, 100)) == 4_137_456  # 000: "4.1M"
    assert _params(build_model({"arch": "efficientnet_cifar_b3"}, 100)) == 10_853_540


@pytest.mark.parametrize(("arch", "channels"), [("efficientnet_cifar_b0", 80), ("efficientnet_cifar_b3", 96)])
def test_fa_layer_is_the_16x16_stage(arch, channels):
    model = build_model({"arch": arch, "head": COSINE}, 100).eval()
    seen = {}
    layer = model.get_submodule("features.4")
    layer.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32))
    assert seen["out"].shape == (2, channels, 16, 16)
    assert logits.shape == (2, 100)
    # the next stage (112 / 136 channels) still runs at 16x16, the one after at 8x8
    assert model.features[5][0].project[0].out_channels in (112, 136)
    assert model.features[6][0].depthwise[0].stride == (2, 2)


def test_block_layout():
    block = MBConv(16, 24, 5, 2, 6)
    assert block.se.reduce.out_channels == 4  # a quarter of the block input, not of 96
    assert block.project[0].bias is not None and block.expand[0].bias is None
    assert not block.residual and MBConv(16, 16, 3, 1, 1).residual
    assert isinstance(MBConv(16, 16, 3, 1, 1).expand, torch.nn.Identity)



@pytest.mark.parametrize(("arch", "drop_connect", "dropout"), [
    ("efficientnet_cifar_b0", 0.2, 0.2), ("efficientnet_cifar_b3", 0.2, 0.3),
    ("efficientnet_ex", 0.0, 0.0), ("efficientnet_exx", 0.0, 0.0)])
def test_regularisers_are_the_originals(arch, drop_connect, dropout):
    """B0 / B3: drop-connect 0.2 on every residual block (not depth-scaled); ex / exx: none."""
    model = build_model({"arch": arch}, 10)
    rates = {b.drop_rate for stage in model.features[1:-1] for b in stage}
    assert rates == {drop_connect}
    assert model.dropout.p == dropout


def test_no_dropout_before_the_cosine_head():
    """The originals' coslinear classifier has no dropout; their plain Linear one keeps it."""
    kwargs = {"dropout": 0.5}
    ran = []
    for head in (COSINE, None):
        model = build_model({"arch": "efficientnet_ex", "kwargs": kwargs, "head": head}, 10)
        model.dropout.register_forward_hook(lambda m, i, o, linear=head is None: ran.append(linear))
        model.train()(torch.randn(2, 3, 8, 8))
    assert ran == [True]


def test_depthwise_padding_is_tf_same():
    """p = k - stride zeros, [p // 2, p - p // 2]: asymmetric at stride 2, as the originals' ZeroPad2d."""
    conv = SameConv2d(1, 1, 5, 2)
    assert conv.same_pad == (1, 2, 1, 2)
    assert SameConv2d(1, 1, 5, 1).same_pad == (2, 2, 2, 2) and SameConv2d(1, 1, 3, 1).same_pad == (1, 1, 1, 1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 0, 0] = 1.0  # picks the top-left tap of each window
        x = torch.arange(1.0, 1.0 + 32 * 32).view(1, 1, 32, 32)
        out = conv(x)
    assert out.shape == (1, 1, 16, 16)
    assert out[0, 0, 0, 0] == 0.0 and out[0, 0, 1, 1] == x[0, 0, 1, 1]  # one zero row / column before


def test_initialisation_is_the_originals():
    torch.manual_seed(0)
    model = build_model({"arch": "efficientnet_cifar_b0", "head": COSINE}, 100)
    stem = model.features[0][0].weight
    assert stem.std().item() == pytest.approx((2.0 / (3 * 3 * 32)) ** 0.5, rel=0.1)  # fan-out normal
    head_conv = model.features[8][0].weight
    assert head_conv.std().item() == pytest.approx((2.0 / 1280) ** 0.5, rel=0.05)
    assert model.features[1][0].project[0].bias.abs().max() == 0.0
    hidden = model.classifier.hidden
    assert hidden.weight.abs().max() <= 200 ** -0.5 and hidden.bias.abs().max() == 0.0  # uniform +-1/sqrt(out)
    torch.testing.assert_close(model.classifier.weight.norm(dim=0), torch.ones(100))  # unit columns


def test_drop_connect_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    x = torch.ones(4000, 2, 1, 1)
    y = drop_connect(x, 0.25, training=True)
    per_sample = y.flatten(1)
    assert per_sample.unique().tolist() == pytest.approx([0.0, 4.0 / 3.0])
    assert (per_sample[:, 0] == per_sample[:, 1]).all()
    assert y.mean().item() == pytest.approx(1.0, abs=0.05)
    assert drop_connect(x, 0.25, training=False) is x
