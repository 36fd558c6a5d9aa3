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


def test_data_sets_taking_num_classes_match_the_engine_registry():
    from kdsweep.engine.data import DATASETS

    taking = sorted(n for n in DATASETS.known() if DATASETS.get(n).classes_from_config)
    assert sorted(names.datasets_taking_num_classes()) == taking == ["fake"]


def test_data_num_classes_is_refused_where_the_data_decides(tmp_path):
    """It was accepted everywhere and read only by `fake`: on digits it built a 5-class stage teacher
    from a stage that trained 10 classes, which failed at train time."""
    from kdsweep.plan import plan_sweep

    body = ("name: n\nbase:\n  epochs: 1\n  data: {{name: {name}, num_classes: 5}}\n"
            "  student: {{arch: digits_student}}\n")
    (tmp_path / "fake.yaml").write_text(body.format(name="fake"))
    assert plan_sweep(tmp_path / "fake.yaml").runs[0].config["data"]["num_classes"] == 5
    (tmp_path / "digits.yaml").write_text(body.format(name="digits"))
    with pytest.raises(UserError) as exc:
        plan_sweep(tmp_path / "digits.yaml")
    assert "data.num_classes" in str(exc.value) and "digits has the classes of its data" in str(exc.value)
    assert "student.num_classes" in str(exc.value)


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


def test_model_signatures_read_from_source_match_the_factories():
    import inspect

    from kdsweep.engine.models import MODELS

    for name, sig in names.kdsweep_model_signatures().items():
        params = inspect.signature(MODELS.get(name)).parameters
        assert list(sig.params) == [p for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
        assert sig.any_keyword == any(v.kind == v.VAR_KEYWORD for v in params.values()), name


@pytest.mark.parametrize(("kwargs", "where", "message"), [
    ({"widht": [8]}, "student.kwargs.widht", "did you mean 'widths'"),
    ({"num_classes": 5}, "student.kwargs.num_classes", "set student.num_classes"),
])
def test_model_kwargs_are_checked_against_the_factory(kwargs, where, message):
    with pytest.raises(UserError) as err:
        names.check_model_kwargs({"arch": "digits_student", "kwargs": kwargs}, "student.kwargs")
    assert err.value.where == where and message in str(err.value)
    names.check_model_kwargs({"arch": "digits_student", "kwargs": {"widths": [8, 8, 8, 8]}}, "student.kwargs")
    names.check_model_kwargs({"arch": "resnet18", "kwargs": {"zero_init_residual": True}}, "student.kwargs")
