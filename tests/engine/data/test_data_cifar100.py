from pathlib import Path

import pytest
import torch
import yaml

from kdsweep.engine.data import build_data
from kdsweep.engine.data.cifar100 import MEAN, STD
from kdsweep.engine.data.cifar100 import load_cifar100 as load
from kdsweep.errors import UserError

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[3]


def unnormalise(x: torch.Tensor) -> torch.Tensor:
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return (x * std + mean).mul(255).round().to(torch.uint8)


def test_reads_the_pickles(cifar_root):
    raw = load({"root": str(cifar_root)}, seed=0)
    assert raw.train_x.shape == (30, 3, 32, 32) and raw.val_x.shape == (10, 3, 32, 32)
    assert raw.classes[:2] == ["class_0", "class_1"] and raw.num_classes == 100
    same = load({"root": str(cifar_root / "cifar-100-python")}, seed=0)  # root = the pickles' folder
    assert torch.equal(same.train_x, raw.train_x)


def test_val_is_the_test_set_as_is(cifar_root):
    bundle = build_data(
        {"name": "cifar100", "root": str(cifar_root), "val_batch_size": 4}, seed=0, device=CPU
    )
    raw = load({"root": str(cifar_root)}, seed=0)
    xs, ys = zip(*[(b.x, b.y) for b in bundle.val.batches(0)], strict=True)
    assert [len(y) for y in ys] == [4, 4, 2]
    assert torch.equal(unnormalise(torch.cat(xs)), raw.val_x)
    assert torch.equal(torch.cat(ys), raw.val_y)


def test_default_epoch_is_one_standard_pass(cifar_root):
    """mdistiller's (and RepDistiller's) CIFAR-100 recipe: RandomCrop(32, padding 4) + flip, their mean / std."""
    bundle = build_data({"name": "cifar100", "root": str(cifar_root), "batch_size": 16}, seed=0, device=CPU)
    assert bundle.n_train == 30 and len(bundle.train) == 2 and bundle.input_size == 32
    assert bundle.transforms["train[0]"] == ["RandomCrop:batched", "RandomHorizontalFlip:batched", "Normalize:batched"]
    assert "train[1]" not in bundle.transforms and bundle.transforms["val"] == ["Normalize:batched"]
    assert (tuple(bundle.mean), tuple(bundle.std)) == ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
    labels = torch.cat([b.y for b in bundle.train.batches(0)])
    raw = load({"root": str(cifar_root)}, seed=0)
    assert torch.equal(torch.bincount(labels, minlength=100), torch.bincount(raw.train_y, minlength=100))


def test_write_up_000_recipe_is_its_base_files(cifar_root):
    """000's two copies per epoch live in sweeps/base/cifar100_efficientnet.yaml, with 000's Normalize."""
    base = yaml.safe_load((REPO / "sweeps" / "base" / "cifar100_efficientnet.yaml").read_text())["base"]["data"]
    cfg = {"name": "cifar100", "root": str(cifar_root), "batch_size": 16, "copies": base["copies"],
           "val_transforms": base["val_transforms"]}
    bundle = build_data(cfg, seed=0, device=CPU)
    assert bundle.n_train == 60
    assert bundle.transforms["train[0]"] == ["ColorJitter:batched", "RandomHorizontalFlip:batched",
                                             "Normalize:batched"]
    assert bundle.transforms["train[1]"][:2] == ["ColorJitter:batched", "RandomResizedCrop:batched"]
    x = torch.cat([b.x for b in bundle.val.batches(0)])
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1), torch.tensor([0.2470, 0.2435, 0.2616])
    raw = load({"root": str(cifar_root)}, seed=0)
    assert torch.equal((x * std.view(1, 3, 1, 1) + mean).mul(255).round().to(torch.uint8), raw.val_x)


def test_copies_apply_their_own_transforms_and_are_shuffled_together(cifar_root):
    cfg = {
        "name": "cifar100",
        "root": str(cifar_root),
        "batch_size": 7,
        "copies": [[], [{"name": "RandomHorizontalFlip", "p": 1.0}]],
    }
    bundle = build_data(cfg, seed=0, device=CPU)
    raw = load({"root": str(cifar_root)}, seed=0)
    batches = list(bundle.train.batches(0))
    seen = unnormalise(torch.cat([b.x for b in batches]))
    plain = {bytes(img.numpy()) for img in raw.train_x}
    flipped = {bytes(img.flip(-1).numpy()) for img in raw.train_x}
    kinds = ["plain" if bytes(img.numpy()) in plain else "flip" for img in seen]
    assert all(bytes(img.numpy()) in plain | flipped for img in seen)
    assert kinds.count("plain") == 30 and kinds.count("flip") == 30
    assert "flip" in kinds[:20] and "plain" in kinds[-20:]  # mixed, not one copy after the other


def test_input_size_resizes_once(cifar_root):
    bundle = build_data({"name": "cifar100", "root": str(cifar_root), "input_size": 40}, seed=0, device=CPU)
    x = next(iter(bundle.train.batches(0))).x
    assert x.shape[1:] == (3, 40, 40) and bundle.input_size == 40


def test_missing_root_says_what_to_get(tmp_path):
    with pytest.raises(UserError) as err:
        load({"root": str(tmp_path / "nope")}, seed=0)
    message = str(err.value)
    assert message.startswith(f"data.root: {tmp_path / 'nope'} does not exist; cifar100 expects")
    assert "cifar-100-python.tar.gz" in message and "\n" not in message
    with pytest.raises(UserError, match="data.root: not set; cifar100 expects"):
        load({"root": None}, seed=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="cifar-100-python does not exist"):
        load({"root": str(tmp_path / "empty")}, seed=0)
