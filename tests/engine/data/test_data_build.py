import pytest
import torch

from kdsweep.engine.data import DATASETS, build_data, dataset_info
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_every_write_up_data_set_is_registered():
    assert set(DATASETS.known()) == {
        "digits",
        "cifar100",
        "mini_imagenet",
        "imagefolder",
        "caltech101",
        "caltech256",
        "food11",
        "fake",
    }
    assert dataset_info("cifar100") == {"num_classes": 100, "input_size": 32}
    assert dataset_info("mini_imagenet") == {"num_classes": 100, "input_size": 224}
    assert dataset_info("digits") == {"num_classes": 10, "input_size": 32}
    assert dataset_info("imagefolder")["num_classes"] is None
    # data.num_classes sets the class count of data made in code only; the others' is fixed
    assert dataset_info("fake", configured_classes=5)["num_classes"] == 5
    assert dataset_info("digits", configured_classes=5)["num_classes"] == 10


@pytest.mark.parametrize(
    "over,message",
    [
        ({"name": "cifar10"}, "data.name: unknown data set 'cifar10'; did you mean 'cifar100'"),
        ({"batch_size": 0}, "data.batch_size: expected an integer >= 1, got 0"),
        ({"workers": -1}, "data.workers: expected an integer >= 0"),
        ({"limit": True}, "data.limit: expected an integer >= 1 or null, got True"),
        ({"on_device": "maybe"}, "data.on_device: expected true, false or auto, got 'maybe'"),
        ({"copies": [["RandomHorizontalFlip"]], "train_transforms": []}, "data.copies: set data.copies or"),
        ({"copies": ["RandomHorizontalFlip"]}, "data.copies: expected a non-empty list of transform lists"),
        (
            {"train_transforms": [{"name": "RandomCrop"}]},
            r"data.train_transforms\[0\]: RandomCrop needs size",
        ),
        ({"val_transforms": ["Normalise"]}, r"data.val_transforms\[0\].name: unknown transform 'Normalise'"),
    ],
)
def test_config_mistakes_are_one_line_user_errors(over, message):
    with pytest.raises(UserError, match=message) as err:
        build_data({"name": "digits", "limit": 20, "val_limit": 10, **over}, seed=0, device=CPU)
    assert "\n" not in str(err.value)


def test_sizes_must_agree(cifar_root):
    base = {"name": "cifar100", "root": str(cifar_root)}
    with pytest.raises(
        UserError,
        match=r"data.copies: every copy must give images of one size "
        r"\(copy 0: 3x32x32, copy 1: 3x24x24\)",
    ):
        build_data({**base, "copies": [[], [{"name": "RandomResizedCrop", "size": 24}]]}, seed=0, device=CPU)
    with pytest.raises(UserError, match="data.input_size: 40, but the train transforms give 24x24 images"):
        build_data(
            {**base, "input_size": 40, "train_transforms": [{"name": "CenterCrop", "size": 24}]},
            seed=0,
            device=CPU,
        )
    small = build_data({**base, "train_transforms": [{"name": "CenterCrop", "size": 24}]}, seed=0, device=CPU)
    assert small.input_size == 24


def test_on_device_decodes_file_data_sets_once(tree_root):
    cfg = {"name": "imagefolder", "root": str(tree_root), "batch_size": 4, "workers": 0, "input_size": 16}
    tensor = build_data({**cfg, "on_device": True}, seed=0, device=CPU)
    files = build_data({**cfg, "on_device": "auto"}, seed=0, device=CPU)  # auto on the CPU: the files
    assert tensor.on_device and not files.on_device
    assert (
        tensor.train.x.shape == (9, 3, 18, 18) and tensor.train.x.dtype == torch.uint8
    )  # resize size 16*256/224
    assert tensor.transforms["train[0]"] == [
        "RandomResizedCrop:batched",
        "RandomHorizontalFlip:batched",
        "Normalize:batched",
    ]
    assert tensor.input_size == files.input_size == 16
    bt, bf = next(iter(tensor.val.batches(0))), next(iter(files.val.batches(0)))
    xt, yt, xf, yf = bt.x, bt.y, bf.x, bf.y
    assert torch.equal(yt, yf) and xt.shape == xf.shape == (3, 3, 16, 16)
    # Val Resize(18) + CenterCrop(16): the decoded 18x18 centre square gives what the file gives.
    assert torch.allclose(xt, xf, atol=1e-5)


def test_limits_on_file_data_sets(tree_root):
    bundle = build_data(
        {
            "name": "imagefolder",
            "root": str(tree_root),
            "limit": 5,
            "val_limit": 2,
            "input_size": 16,
            "workers": 0,
        },
        seed=0,
        device=CPU,
    )
    assert bundle.n_train == 5 and bundle.n_val == 2


def test_tensor_path_reports_where_it_runs(cifar_root):
    bundle = build_data(
        {"name": "cifar100", "root": str(cifar_root), "on_device": "auto"}, seed=0, device=CPU
    )
    assert bundle.on_device and tuple(bundle.std) == (0.2675, 0.2565, 0.2761)
