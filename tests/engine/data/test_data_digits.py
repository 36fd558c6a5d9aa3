import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from kdsweep.engine.data import build_data
from kdsweep.engine.data.digits import load_digits as load
from kdsweep.engine.data.digits import render
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def test_render_scales_upsamples_and_replicates():
    images = load_digits().images[:5]
    x = render(images, 32)
    assert x.shape == (5, 3, 32, 32) and x.dtype == torch.uint8
    assert int(x.max()) == 255 and int(x.min()) == 0
    assert torch.equal(x[:, 0], x[:, 2])
    flat = render(np.full((1, 8, 8), 8.0), 32)
    assert set(flat.unique().tolist()) == {128}  # 8 / 16 of the range everywhere
    dot = np.zeros((1, 8, 8))
    dot[0, 3, 5] = 16
    bright = render(dot, 32)[0, 0]
    assert int(bright[12:16, 20:24].min()) >= 100 and int(bright[13:15, 21:23].max()) == int(bright.max())
    assert int(bright[:10].max()) == 0 and int(bright[:, :18].max()) == 0  # bilinear: within a block's reach


def test_split_is_stratified_fixed_and_sized_by_val_split():
    a = load({"val_split": 0.2}, seed=0)
    b = load({"val_split": 0.2}, seed=5)
    assert len(a.train_y) + len(a.val_y) == 1797 and len(a.val_y) == 360
    assert torch.equal(a.val_x, b.val_x)  # the run seed does not move the hold-out
    counts = torch.bincount(a.val_y, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37
    assert len(load({"val_split": 0.5}, seed=0).val_y) == 899
    with pytest.raises(UserError, match="data.val_split: expected a fraction"):
        load({"val_split": 1.5}, seed=0)


def test_bundle_normalises_with_train_statistics_and_never_flips():
    bundle = build_data({"name": "digits", "batch_size": 100}, seed=0, device=CPU)
    assert (bundle.num_classes, bundle.input_size, bundle.n_train, bundle.n_val) == (10, 32, 1437, 360)
    assert bundle.classes == [str(i) for i in range(10)]
    assert bundle.transforms["train[0]"] == ["RandomCrop:batched", "Normalize:batched"]
    raw = load({"val_split": 0.2}, seed=0)
    pixels = raw.train_x.float() / 255
    assert bundle.mean == pytest.approx([float(pixels.mean())] * 3, abs=1e-5)
    xs = torch.cat([b.x for b in bundle.val.batches(0)])
    assert abs(float(xs.mean())) < 0.1 and 0.9 < float(xs.std()) < 1.1


def test_input_size_renders_at_that_size():
    bundle = build_data({"name": "digits", "input_size": 16, "limit": 50}, seed=0, device=CPU)
    x = next(iter(bundle.train.batches(0))).x
    assert x.shape == (50, 3, 16, 16) and bundle.input_size == 16
