import pytest
import torch

from kdsweep.engine.data import build_data, dataset_info
from kdsweep.engine.data.imagefolder import load_caltech101, load_imagefolder
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_classes_are_the_sorted_train_folders(tree_root):
    raw = load_imagefolder({"root": str(tree_root)}, seed=0)
    assert raw.classes == ["ant", "bee", "cat"] and raw.num_classes == 3
    assert [label for _, label in raw.val] == [0, 1, 2] and len(raw.train) == 9


def test_the_data_set_may_sit_in_a_named_subfolder(tmp_path, writers):
    writers.tree(tmp_path / "data" / "Caltech-101", classes=("a", "b"))
    writers.tree(tmp_path / "data" / "caltech256", classes=("x", "y", "z", "w"))
    raw = load_caltech101({"root": str(tmp_path / "data")}, seed=0)
    assert raw.classes == ["a", "b"] and raw.mean == (0.5, 0.5, 0.5)
    assert dataset_info("caltech256", root=str(tmp_path / "data"))["num_classes"] == 4
    assert dataset_info("caltech101") == {"num_classes": 102, "input_size": 224}


def test_caltech_defaults_are_002s_recipe(tmp_path, writers):
    writers.tree(tmp_path / "c", classes=("a", "b"), n_train=3)
    bundle = build_data(
        {"name": "caltech101", "root": str(tmp_path / "c"), "batch_size": 4, "workers": 0, "input_size": 32},
        seed=0,
        device=CPU,
    )
    steps = bundle.transforms["train[0]"]
    assert steps[:3] == ["RandomResizedCrop:per-sample", "RandomHorizontalFlip:per-sample", "RandAugment:per-sample"]
    assert steps[-2:] == ["Normalize:batched", "RandomErasing:batched"]  # the workers path's batched tail
    assert bundle.transforms["val"][:2] == ["Resize:per-sample", "CenterCrop:per-sample"]
    batches = list(bundle.train.batches(0))
    assert [tuple(b.x.shape) for b in batches] == [(4, 3, 32, 32), (2, 3, 32, 32)]


def test_val_classes_must_exist_in_train(tree_root):
    (tree_root / "val" / "dog").mkdir()
    with pytest.raises(UserError, match="dog is a class the train split does not have"):
        load_imagefolder({"root": str(tree_root)}, seed=0)


def test_missing_split_is_one_line_with_a_source(tmp_path):
    (tmp_path / "x" / "train").mkdir(parents=True)
    with pytest.raises(UserError) as err:
        load_caltech101({"root": str(tmp_path / "x")}, seed=0)
    assert str(err.value).startswith(
        f"data.root: {tmp_path / 'x' / 'val'} does not exist; caltech101 expects"
    )
    assert "data.caltech.edu" in str(err.value)
