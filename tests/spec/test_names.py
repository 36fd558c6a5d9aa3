"""The names the plan reads from source (kdsweep.spec.names) are the ones the engine registers:
a new model or data set is known to `kdsweep plan` with no second list to keep in step."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.spec import names


def test_model_names_match_the_engine_registry():
    from kdsweep.engine.models import MODELS

    assert sorted(names.kdsweep_models()) == MODELS.known()


def test_dataset_names_match_the_engine_registry():
    from kdsweep.engine.data import DATASETS

    assert sorted(names.datasets()) == DATASETS.known()


def test_torchvision_names_match_its_list_models():
    from kdsweep.engine.models.zoo import torchvision_names

    assert sorted(names.torchvision_models()) == sorted(torchvision_names())


def test_a_registration_without_a_literal_name_is_a_developer_error(tmp_path):
    (tmp_path / "m.py").write_text('NAME = "x"\n\n@MODELS.register(NAME)\ndef build():\n    pass\n')
    with pytest.raises(RuntimeError, match="literal name"):
        names._decorated_names(tmp_path, "MODELS.register")


def test_registration_without_a_name_uses_the_function_name(tmp_path):
    (tmp_path / "m.py").write_text('@MODELS.register(input_size=32)\ndef tiny(num_classes):\n    pass\n')
    assert names._decorated_names(tmp_path, "MODELS.register") == ["tiny"]


def test_without_torchvision_only_kdsweep_names_are_known(monkeypatch):
    monkeypatch.setattr(names, "torchvision_models", lambda: ())
    names.check_arch("digits_student", "student.arch")
    with pytest.raises(UserError, match="unknown model 'resnet18'"):
        names.check_arch("resnet18", "student.arch")
