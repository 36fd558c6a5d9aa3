import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from kdsweep.engine.data import transforms as tf
from kdsweep.errors import UserError


def test_parse_accepts_dicts_and_bare_names():
    parsed = tf.parse([{"name": "RandomCrop", "size": 8, "padding": 2}, "RandomHorizontalFlip"], "data.x")
    assert parsed == [("RandomCrop", {"size": 8, "padding": 2}), ("RandomHorizontalFlip", {})]
    assert tf.parse(None, "data.x") == []


def test_unknown_name_suggests_the_v2_name():
    with pytest.raises(
        UserError,
        match=r"data.train_transforms\[1\].name: unknown transform "
        r"'RandomHorizontallFlip'; did you mean 'RandomHorizontalFlip'",
    ):
        tf.parse(["RandAugment", {"name": "RandomHorizontallFlip"}], "data.train_transforms")


def test_bad_items_and_arguments_name_their_place():
    with pytest.raises(UserError, match=r"data.val_transforms\[0\]: expected \{name"):
        tf.parse([{"size": 3}], "data.val_transforms")
    with pytest.raises(UserError, match="data.val_transforms: expected a list"):
        tf.parse({"name": "Resize"}, "data.val_transforms")
    with pytest.raises(UserError, match=r"data.t\[0\]: bad arguments for RandomResizedCrop"):
        tf.build_one("RandomResizedCrop", {"sizee": 3}, "data.t[0]")
    with pytest.raises(UserError, match="MixUp"):
        tf.parse(["MixUp"], "data.t")


def test_to_tensor_means_float_in_unit_range():
    t = tf.build_one("ToTensor", {}, "x")
    out = t(Image.fromarray(np.full((4, 5, 3), 255, np.uint8)))
    assert out.dtype == torch.float32 and out.shape == (3, 4, 5) and float(out.max()) == 1.0


def test_nested_transforms_and_dtype_strings_are_built():
    t = tf.build_one(
        "RandomApply", {"transforms": [{"name": "ColorJitter", "brightness": 0.4}], "p": 0.8}, "x"
    )
    assert isinstance(t, v2.RandomApply) and isinstance(t.transforms[0], v2.ColorJitter)
    assert tf.build_one("ToDtype", {"dtype": "float16"}, "x").dtype == torch.float16
    with pytest.raises(UserError, match="unknown dtype"):
        tf.build_one("ToDtype", {"dtype": "float99"}, "x")


def test_pil_pipeline_appends_the_data_sets_normalisation():
    image = Image.fromarray(np.full((6, 6, 3), 51, np.uint8))  # 0.2 in [0, 1]
    out = tf.pil_pipeline([{"name": "CenterCrop", "size": 4}], (0.1, 0.2, 0.3), (0.5, 0.5, 0.5), "x")(image)
    assert type(out) is torch.Tensor and out.dtype == torch.float32 and out.shape == (3, 4, 4)
    assert torch.allclose(out[:, 0, 0], torch.tensor([0.2, 0.0, -0.2]), atol=1e-6)


def test_pil_pipeline_keeps_an_explicit_normalize_and_converts_before_it():
    image = Image.fromarray(np.full((4, 4, 3), 255, np.uint8))
    pipeline = tf.pil_pipeline(
        [{"name": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}], (0,) * 3, (1,) * 3, "x"
    )
    assert torch.allclose(pipeline(image), torch.ones(3, 4, 4))
