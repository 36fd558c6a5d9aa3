"""An mdistiller model key given as an arch (`resnet8x4`, `ShuffleV1`) is told kdsweep's name at plan
time (issue 19); names torchvision also has (`resnet18`, `resnet50`, `vgg13`) keep meaning torchvision's."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.spec import names

SWEEP = """\
name: zoo
base:
  epochs: 1
  data: {{name: fake}}
  student: {{arch: {student}}}
{teacher}"""


@pytest.mark.parametrize(("student", "teacher", "where", "hint"), [
    ("resnet8x4", "", "student.arch", "did you mean 'cifar_resnet8x4' (mdistiller's resnet8x4)?"),
    ("cifar_resnet8x4", "  teacher: {arch: resnet32x4, checkpoint: t.pth}\n  loss: {kd: {T: 4}}\n",
     "teacher.arch", "did you mean 'cifar_resnet32x4' (mdistiller's resnet32x4)?"),
])
def test_plan_names_kdsweeps_model_for_an_mdistiller_key(cli, write_yaml, student, teacher, where, hint):
    path = write_yaml(SWEEP.format(student=student, teacher=teacher))
    rc, out, err = cli("plan", path)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert str(path) in err and where in err and hint in err


@pytest.mark.parametrize(("given", "ours"), [
    ("ShuffleV1", "cifar_shufflev1"), ("shufflev2", "cifar_shufflev2"), ("MobileNetV2", "cifar_mobilenetv2"),
    ("wrn_40_2", "cifar_wrn_40_2"), ("ResNet50", "cifar_resnet50"), ("VGG13", "cifar_vgg13"),
    ("vgg8", "cifar_vgg8"),
])
def test_every_spelling_of_an_mdistiller_key_gets_the_hint(given, ours):
    with pytest.raises(UserError, match=f"unknown model '{given}'; did you mean '{ours}'"):
        names.check_arch(given, "student.arch")


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg13", "vgg19_bn"])
def test_torchvision_names_keep_meaning_torchvision(name):
    if not names.torchvision_models():
        pytest.skip("torchvision is not installed")
    names.check_arch(name, "student.arch")


def test_other_unknown_names_get_the_closest_names():
    with pytest.raises(UserError, match="unknown model 'cifar_resnet9'; did you mean 'cifar_resnet8'"):
        names.check_arch("cifar_resnet9", "student.arch")
