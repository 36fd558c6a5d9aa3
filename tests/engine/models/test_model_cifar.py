import pytest
import torch

from kdsweep.engine.models import MODELS
from kdsweep.engine.models.cifar import adapt_for_32
from kdsweep.errors import UserError


def _stem_output(arch, stem):
    model = adapt_for_32(MODELS.get(arch)(num_classes=10), arch, where="student.cifar").eval()
    with torch.no_grad():
        return model, stem(model)(torch.zeros(1, 3, 32, 32))


def test_resnet_gets_3x3_stride1_stem_and_no_maxpool():
    model, out = _stem_output("resnet18", lambda m: torch.nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool))
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, torch.nn.Identity)
    assert out.shape == (1, 64, 32, 32)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_shufflenet_keeps_resolution_at_stem():
    model, out = _stem_output("shufflenet_v2_x0_5", lambda m: torch.nn.Sequential(m.conv1, m.maxpool))
    assert out.shape[-2:] == (32, 32)


@pytest.mark.parametrize("arch", ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "mobilenets_m"])
def test_features0_stem_stride_1(arch):
    model, out = _stem_output(arch, lambda m: m.features[0])
    assert out.shape[-2:] == (32, 32)


def test_native_models_untouched_and_unknown_families_refused():
    model = MODELS.get("efficientnet_ex")(num_classes=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert adapt_for_32(model, "efficientnet_ex", where="w") is model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(UserError, match=r"student.cifar: cifar: true is not supported for 'vgg11'"):
        adapt_for_32(MODELS.get("vgg11")(num_classes=10), "vgg11", where="student.cifar")
