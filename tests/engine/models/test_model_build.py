import pytest
import torch
from torch import nn

from kdsweep.engine.models import CosineHead, build_model, last_linear
from kdsweep.errors import UserError

COSINE = {"name": "cosine", "s": 5.0, "m": 0.1, "hidden": 200}


def test_num_classes_from_argument_or_section():
    assert build_model({"arch": "digits_student"}, 10).classifier.out_features == 10
    assert build_model({"arch": "digits_student", "num_classes": 4}, 10).classifier.out_features == 4


def test_cosine_head_replaces_the_last_linear_of_torchvision_and_own_models():
    resnet = build_model({"arch": "resnet18", "head": COSINE, "cifar": True}, 100)
    assert isinstance(resnet.fc, CosineHead) and resnet.fc.in_features == 512
    assert resnet.fc.hidden.out_features == 200 and resnet.fc.weight.shape == (200, 100)
    assert resnet.fc.s == 5.0 and resnet.fc.margin == 0.1
    mobile = build_model({"arch": "mobilenet_v2", "head": COSINE}, 101)
    assert isinstance(mobile.classifier[1], CosineHead)  # Sequential(Dropout, Linear) -> the Linear
    out = build_model({"arch": "digits_teacher", "head": COSINE}, 10)(torch.randn(3, 3, 32, 32))
    assert out.shape == (3, 10) and out.abs().max() <= 5.0 + 1e-5


def test_last_linear_finds_the_classifier():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Dropout(), nn.Linear(4, 2)))
    assert last_linear(model) == "2.1"


def test_kwargs_reach_the_factory():
    model = build_model({"arch": "dwpw_student", "kwargs": {"channels": [8, 16]}}, 11)
    assert model.classifier.in_features == 16
    wide = build_model({"arch": "mobilenet_v2", "kwargs": {"width_mult": 0.5}}, 10)
    assert wide.features[0][0].out_channels == 16


def test_user_errors_name_the_key():
    with pytest.raises(UserError, match=r"^teacher.arch: unknown model 'resnet181'; did you mean 'resnet18'"):
        build_model({"arch": "resnet181"}, 10, where="teacher")
    with pytest.raises(UserError, match=r"^student.arch: unknown model 'efficientnet_cifar_b1'.*efficientnet_cifar_b0"):
        build_model({"arch": "efficientnet_cifar_b1"}, 10)
    with pytest.raises(UserError, match=r"^student.kwargs: digits_student does not accept"):
        build_model({"arch": "digits_student", "kwargs": {"depth": 3}}, 10)
    with pytest.raises(UserError, match=r"^student.head.name: unknown head 'arcface'"):
        build_model({"arch": "digits_student", "head": {"name": "arcface"}}, 10)
    with pytest.raises(UserError, match=r"^student.arch: arch is required"):
        build_model({"arch": None}, 10)


def test_teacher_keys_are_ignored():
    cfg = {"arch": "digits_student", "run": "t", "key": "abc", "checkpoint": "/nowhere.pt", "cifar": False,
           "head": None, "kwargs": {}, "num_classes": None}
    assert build_model(cfg, 10, where="teacher").classifier.out_features == 10
