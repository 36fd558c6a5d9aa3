import pytest
import torch

from kdsweep.engine.data import build_data
from kdsweep.engine.data.mini_imagenet import load_mini_imagenet as load
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_class_index_comes_from_classes_name_json(mini_root, writers):
    raw = load({"root": str(mini_root)}, seed=0)
    assert len(raw.train) == 9 and len(raw.val) == 3 and raw.num_classes == 3
    # The json indexes the wnids in reverse sorted order: index 0 is the last wnid.
    assert raw.classes == [f"name of {w}" for w in reversed(writers.wnids)]
    assert [(p.name[:9], label) for p, label in raw.val] == [(w, 2 - k) for k, w in enumerate(writers.wnids)]
    assert all(p.parent == mini_root / "images" and p.is_file() for p, _ in raw.train)
    # what the trainer will see, known without loading (preflight, plan --estimate)
    from kdsweep.engine.data.build import dataset_info

    assert dataset_info("mini_imagenet", str(mini_root))["num_classes"] == 3


def test_default_transforms_give_224_and_imagenet_statistics(mini_root):
    bundle = build_data(
        {"name": "mini_imagenet", "root": str(mini_root), "batch_size": 4, "workers": 0}, seed=0, device=CPU
    )
    assert (bundle.input_size, bundle.n_train, bundle.n_val, len(bundle.train)) == (224, 9, 3, 2)
    assert bundle.transforms["train[0]"] == ["RandomResizedCrop:per-sample", "ToImage:per-sample",
                                             "ToPureTensor:per-sample", "RandomHorizontalFlip:batched",
                                             "Normalize:batched"]
    assert bundle.transforms["val"][:2] == ["Resize:per-sample", "CenterCrop:per-sample"]
    assert bundle.path == "workers"
    assert bundle.mean == (0.485, 0.456, 0.406) and not bundle.on_device
    batch = next(iter(bundle.val.batches(0)))
    x, y = batch.x, batch.y
    assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32 and y.tolist() == [2, 1, 0]


def test_input_size_scales_the_default_crops(mini_root):
    bundle = build_data(
        {"name": "mini_imagenet", "root": str(mini_root), "batch_size": 5, "workers": 0, "input_size": 32},
        seed=0,
        device=CPU,
    )
    sizes = [tuple(b.x.shape) for b in bundle.train.batches(0)]
    assert sizes == [(5, 3, 32, 32), (4, 3, 32, 32)]


def test_layout_errors_name_the_missing_piece(mini_root, tmp_path):
    (mini_root / "new_val.csv").unlink()
    with pytest.raises(UserError, match=r"^data.root: .*new_val.csv does not exist; mini_imagenet expects "):
        load({"root": str(mini_root)}, seed=0)
    (mini_root / "new_val.csv").write_text(",filename,label\n0,x.jpg,n99999999\n")
    with pytest.raises(UserError, match="label 'n99999999' is not in classes_name.json"):
        load({"root": str(mini_root)}, seed=0)
    (mini_root / "new_val.csv").write_text(",file,class\n0,x.jpg,n01532829\n")
    with pytest.raises(UserError, match="needs the columns filename,label"):
        load({"root": str(mini_root)}, seed=0)
    with pytest.raises(UserError, match="data.root: not set; mini_imagenet expects <root>/images"):
        load({"root": None}, seed=0)
