import pytest
import torch

from kdsweep.engine.data import build_data
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_fake_honours_size_classes_and_limits_and_ignores_the_rest():
    cfg = {
        "name": "fake",
        "input_size": 24,
        "num_classes": 7,
        "limit": 40,
        "val_limit": 14,
        "batch_size": 16,
        "root": "/does/not/exist",
        "train_transforms": [{"name": "RandomResizedCrop", "size": 224}],
        "val_transforms": [{"name": "Resize", "size": 256}],
        "copies": None,
    }
    bundle = build_data(cfg, seed=0, device=CPU)
    assert (bundle.num_classes, bundle.input_size, bundle.n_train, bundle.n_val) == (7, 24, 40, 14)
    assert len(bundle.train) == 3 and len(bundle.val) == 1
    batch = next(iter(bundle.val.batches(0)))
    x, y = batch.x, batch.y
    assert x.shape == (14, 3, 24, 24) and int(y.max()) < 7 and bundle.classes is None
    copies = build_data(
        {**cfg, "train_transforms": None, "copies": [["RandAugment"], ["RandAugment"]]}, seed=0, device=CPU
    )
    assert copies.n_train == 40


def test_fake_defaults_and_determinism():
    a = build_data({"name": "fake"}, seed=1, device=CPU)
    assert (a.num_classes, a.input_size, a.n_train, a.n_val) == (10, 32, 256, 64)
    b = build_data({"name": "fake"}, seed=1, device=CPU)
    c = build_data({"name": "fake"}, seed=2, device=CPU)
    first = [b.x for b in a.val.batches(0)][0]
    assert torch.equal(first, [v.x for v in b.val.batches(0)][0])
    assert not torch.equal(first, [v.x for v in c.val.batches(0)][0])


def test_fake_classes_are_learnable():
    bundle = build_data(
        {"name": "fake", "limit": 200, "val_limit": 100, "batch_size": 200}, seed=0, device=CPU
    )
    batch = next(iter(bundle.train.batches(0)))
    x, y = batch.x, batch.y
    means = torch.stack([x[y == k].mean(0) for k in range(10)])
    batch = next(iter(bundle.val.batches(0)))
    vx, vy = batch.x, batch.y
    nearest = torch.cdist(vx.flatten(1), means.flatten(1)).argmin(1)
    assert float((nearest == vy).float().mean()) > 0.6


def test_data_fake_is_shaped_like_the_real_set_and_goes_through_the_runs_transforms():
    """--smoke's data: CIFAR-100's 100 classes at 32 px; mini-ImageNet's at the resize size its val
    transforms crop from; the run's own transforms applied, so one the real data would fail on fails."""
    c100 = build_data({"name": "cifar100", "fake": True, "limit": 48, "val_limit": 32}, seed=0, device=CPU)
    assert (c100.num_classes, c100.input_size, c100.n_train, c100.n_val) == (100, 32, 48, 32)
    assert c100.transforms["train[0]"][:2] == ["RandomCrop:batched", "RandomHorizontalFlip:batched"]
    mini = build_data({"name": "mini_imagenet", "fake": True, "input_size": 64, "limit": 8, "val_limit": 8},
                      seed=0, device=CPU)
    assert (mini.num_classes, mini.input_size) == (100, 64)
    assert mini.transforms["val"][:2] == ["Resize:whole-batch", "CenterCrop:whole-batch"]
    with pytest.raises(UserError, match="data.input_size"):  # a 40 px crop of 32 px CIFAR images
        build_data({"name": "cifar100", "fake": True, "limit": 8, "input_size": 32,
                    "train_transforms": [{"name": "RandomCrop", "size": 40, "pad_if_needed": True}]},
                   seed=0, device=CPU)
