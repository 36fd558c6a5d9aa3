"""A data set's default transforms are declared once, in its `@dataset(..., transforms=)`: the plan reads
them from source (kdsweep.spec.data_defaults) and fills them into every run, so `plan --json` and the
run key say what each run trains on; the engine calls the same declaration."""

from __future__ import annotations

import pytest

from kdsweep.errors import UserError
from kdsweep.spec import data_defaults


def test_every_data_set_declares_its_defaults_and_the_plan_reads_the_engines():
    from kdsweep.engine.data import DATASETS

    declared = data_defaults.declared()
    assert sorted(declared) == DATASETS.known()
    for name, (size, function) in declared.items():
        entry = DATASETS.get(name)
        assert size == entry.input_size
        for at in (entry.input_size, 16, 64):
            assert function(at) == entry.transforms(at), (name, at)


def test_cifar100_default_is_the_standard_recipe(tmp_path):
    """mdistiller / RepDistiller: RandomCrop(32, padding 4) + flip, one pass per epoch; no val augmentation."""
    from kdsweep.plan import plan_sweep

    (tmp_path / "s.yaml").write_text("name: s\nbase:\n  data: {name: cifar100, root: data}\n"
                                     "  student: {arch: digits_student}\n")
    data = plan_sweep(tmp_path / "s.yaml").runs[0].config["data"]
    assert data["train_transforms"] == [{"name": "RandomCrop", "size": 32, "padding": 4},
                                        {"name": "RandomHorizontalFlip"}]
    assert data["val_transforms"] == [] and data["copies"] is None
    sized = plan_sweep(tmp_path / "s.yaml", ["data.input_size=40"]).runs[0].config["data"]
    assert sized["train_transforms"][0]["size"] == 40


def test_written_transforms_win_and_copies_keep_train_transforms_empty(tmp_path):
    from kdsweep.plan import plan_sweep

    (tmp_path / "s.yaml").write_text(
        "name: s\nbase:\n  data: {name: digits, copies: [[], [RandomHorizontalFlip]]}\n"
        "  student: {arch: digits_student}\n")
    data = plan_sweep(tmp_path / "s.yaml").runs[0].config["data"]
    assert data["copies"] == [[], ["RandomHorizontalFlip"]] and data["train_transforms"] is None
    assert data["val_transforms"] == []
    mine = plan_sweep(tmp_path / "s.yaml", ["data.copies=null", "data.train_transforms=[RandomHorizontalFlip]"])
    assert mine.runs[0].config["data"]["train_transforms"] == ["RandomHorizontalFlip"]
    with pytest.raises(UserError, match="data.copies: set data.copies or data.train_transforms, not both"):
        plan_sweep(tmp_path / "s.yaml", ["data.train_transforms=[RandomHorizontalFlip]"])


def test_the_defaults_run_apart_from_their_module():
    """The plan runs the declaration without the module's globals: only plain Python and resize_size."""
    function = data_defaults.declared()["mini_imagenet"][1]
    assert function(224)[1] == [{"name": "Resize", "size": 256}, {"name": "CenterCrop", "size": 224}]
    assert "torch" not in function.__globals__ and set(function.__globals__) >= {"resize_size"}
