import pytest
import torch
from torch import nn

from kdsweep.engine.models import MODELS, all_model_names
from kdsweep.engine.models.zoo import is_torchvision, torchvision_names
from kdsweep.errors import UserError

OWN = ["digits_teacher", "digits_student", "efficientnet_cifar_b0", "efficientnet_cifar_b3", "efficientnet_ex",
       "efficientnet_exx", "mobilenets_m", "food11_student", "dwpw_student"]


def test_own_models_are_registered():
    assert set(OWN) <= set(MODELS.known())
    assert not any(is_torchvision(name) for name in OWN)


def test_torchvision_fallback_builds_from_scratch_with_num_classes():
    assert "resnet18" in torchvision_names() and "fasterrcnn_resnet50_fpn" not in torchvision_names()
    model = MODELS.get("resnet18")(num_classes=7)
    assert isinstance(model, nn.Module) and model.fc.out_features == 7
    assert "resnet18" in MODELS and is_torchvision("resnet18")
    # weights=None: two builds start from different random weights, nothing was downloaded
    other = MODELS.get("resnet18")(num_classes=7)
    assert not torch.equal(model.conv1.weight, other.conv1.weight)


def test_unknown_name_is_a_user_error():
    assert "resnet18x" not in MODELS
    with pytest.raises(UserError, match="unknown model 'digit_student'"):
        MODELS.get("digit_student")


def test_all_names_cover_both_sources():
    names = all_model_names()
    assert "mobilenets_m" in names and "shufflenet_v2_x1_0" in names
    assert names == sorted(names)
