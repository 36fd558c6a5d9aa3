import pytest
import torch

from kdsweep.engine.data import build_data
from kdsweep.engine.data.food11 import load_food11 as load
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_labels_come_from_the_file_name_and_evaluation_is_unused(food_root):
    raw = load({"root": str(food_root)}, seed=0)
    assert sorted({label for _, label in raw.train}) == [0, 3, 10]
    assert all(p.name.startswith(f"{label}_") for p, label in raw.train + raw.val)
    assert all(p.parent.name == "validation" for p, _ in raw.val) and len(raw.val) == 6
    assert raw.num_classes == 11 and raw.classes[3] == "Egg"


def test_nested_root_and_default_transforms(tmp_path, writers):
    writers.food11(tmp_path / "data" / "food-11")
    bundle = build_data(
        {"name": "food11", "root": str(tmp_path / "data"), "workers": 0, "input_size": 32, "batch_size": 4},
        seed=0,
        device=CPU,
    )
    assert (bundle.n_train, bundle.n_val, bundle.num_classes, bundle.input_size) == (6, 6, 11, 32)
    assert bundle.transforms["train[0]"][:3] == ["Resize:per-sample", "CenterCrop:per-sample",
                                                 "ToImage:per-sample"]
    assert bundle.transforms["train[0]"][-2:] == ["RandomHorizontalFlip:batched", "Normalize:batched"]
    batch = next(iter(bundle.val.batches(0)))
    x, y = batch.x, batch.y
    assert x.shape == (4, 3, 32, 32) and y.tolist() == [0, 0, 10, 10]


def test_bad_names_and_missing_splits(tmp_path, writers):
    writers.food11(tmp_path / "food")
    writers.jpeg(tmp_path / "food" / "training" / "pizza_1.jpg", None, value=3)
    with pytest.raises(UserError, match=r"pizza_1.jpg: expected <label 0..10>_<n>"):
        load({"root": str(tmp_path / "food")}, seed=0)
    (tmp_path / "only").mkdir()
    with pytest.raises(UserError, match=r"data.root: .*only/training does not exist; food11 expects"):
        load({"root": str(tmp_path / "only")}, seed=0)
