"""The workers path: where a transform list is split, and that the split gives what the whole list
gives per sample (`transforms.pil_pipeline`, the path it replaces) on real JPEG files."""

import pytest
import torch
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from kdsweep.engine.data import build_data
from kdsweep.engine.data import transforms as tf
from kdsweep.engine.data.loader_source import EpochBatchSampler, open_rgb, open_uint8
from kdsweep.engine.data.seeding import isolated_rng, reseed
from kdsweep.engine.data.worker_split import tail_start

CPU = torch.device("cpu")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # imagefolder's


@pytest.mark.parametrize(("specs", "start"), [
    ([{"name": "RandomResizedCrop", "size": 8}, "RandomHorizontalFlip"], 1),
    ([{"name": "Resize", "size": 8}, {"name": "CenterCrop", "size": 8}], 2),  # only Normalize is batched
    ([{"name": "RandomResizedCrop", "size": 8}, "RandAugment", "ToTensor",
      {"name": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}, "RandomErasing"], 2),
    ([{"name": "RandomResizedCrop", "size": 8}, {"name": "ColorJitter", "hue": 0.1}], 2),  # hue: per sample
    ([{"name": "RandomResizedCrop", "size": 8}, {"name": "ColorJitter", "brightness": 0.3}], 1),
    ([{"name": "RandomResizedCrop", "size": 8}, "ToTensor", "RandAugment"], None),  # float before a per-sample op
    ([{"name": "Normalize", "mean": [0.5] * 3, "std": [0.5] * 3}, {"name": "CenterCrop", "size": 8}], None),
])
def test_the_batched_tail_is_the_size_keeping_end_of_the_list(specs, start):
    assert tail_start(tf.parse(specs, "t"), "t") == start


def _build(root, train, val, **over):
    cfg = {"name": "imagefolder", "root": str(root), "batch_size": 4, "workers": 0, "train_transforms": train,
           "val_transforms": val, **over}
    return build_data(cfg, seed=3, device=CPU)


def _per_sample(specs, path, seed=None, opener=open_rgb):
    """The path it replaces: the whole list per sample on the PIL image, under the sample's seed
    (on the decoded uint8 tensor with `opener=open_uint8`)."""
    with isolated_rng():
        if seed is not None:
            reseed(seed)
        return tf.pil_pipeline(specs, MEAN, STD, "t")(opener(path))


def test_workers_decode_jpegs_to_the_pixels_pil_decodes(tree_root, tmp_path):
    for path in sorted(tree_root.rglob("*.jpg")):
        assert torch.equal(open_uint8(path), pil_to_tensor(open_rgb(path)))
    for suffix in ("png", "bmp", "tif"):  # torchvision decodes the first; PIL the others
        path = tmp_path / f"image.{suffix}"
        Image.open(next(tree_root.rglob("*.jpg"))).convert("L").save(path)
        assert torch.equal(open_uint8(path), pil_to_tensor(open_rgb(path)))
        assert open_uint8(path).shape[0] == 3


def test_deterministic_lists_give_the_per_sample_values(tree_root):
    val = [{"name": "Resize", "size": 12}, {"name": "CenterCrop", "size": 10}]
    bundle = _build(tree_root, val, val)
    assert bundle.path == "workers" and bundle.transforms["val"][-1] == "Normalize:batched"
    items = bundle.val.loader.dataset.items
    got = torch.cat([b.x for b in bundle.val.batches(0)])
    assert got.dtype == torch.float32 and got.is_contiguous()
    expected = torch.stack([_per_sample(val, path) for path, _ in items])
    assert torch.allclose(got, expected, atol=1e-5)


def test_random_crops_match_per_sample_and_flips_are_fair_coins(tree_root):
    """The crop is drawn per sample from the sample's seed, as before, and resized by torch on the
    decoded uint8 tensor (within 2 levels of PIL's resize); the flip is drawn per batch from the
    (seed, epoch) 'batched' stream: each image is its per-sample crop, flipped or not."""
    train = [{"name": "RandomResizedCrop", "size": 8, "scale": [0.2, 1.0]}, "RandomHorizontalFlip"]
    bundle = _build(tree_root, train, [{"name": "Resize", "size": [8, 8]}])
    assert bundle.transforms["train[0]"][-2:] == ["RandomHorizontalFlip:batched", "Normalize:batched"]
    items = bundle.train.loader.dataset.items
    flips = []
    for epoch in range(12):
        sampler = EpochBatchSampler(len(items), 4, 3, True)
        sampler.epoch = epoch
        keys = [key for batch in sampler for key in batch]
        got = torch.cat([b.x for b in bundle.train.batches(epoch)])
        for x, (k, seed) in zip(got, keys, strict=True):
            crop = _per_sample(train[:1], items[k][0], seed, open_uint8)
            pil = _per_sample(train[:1], items[k][0], seed)
            assert (crop - pil).abs().max() <= 2 / 255 / min(STD) + 1e-5
            same, flipped = torch.allclose(x, crop, atol=1e-5), torch.allclose(x, crop.flip(-1), atol=1e-5)
            assert same or flipped
            if same != flipped:  # a symmetric crop says nothing
                flips.append(flipped)
    assert 0.3 < sum(flips) / len(flips) < 0.7, (sum(flips), len(flips))  # 108 images: p < 0.001 outside


def test_batches_repeat_per_seed_and_epoch_and_do_not_depend_on_workers(tree_root):
    train = [{"name": "RandomResizedCrop", "size": 8}, "RandomHorizontalFlip",
             {"name": "ColorJitter", "brightness": 0.4}]
    serial, parallel = _build(tree_root, train, None), _build(tree_root, train, None, workers=2)

    def epoch(source, e):
        return torch.cat([b.x for b in source.batches(e)])

    first = epoch(serial.train, 1)
    assert torch.equal(first, epoch(parallel.train, 1)) and torch.equal(first, epoch(serial.train, 1))
    assert not torch.equal(first, epoch(serial.train, 2))


def test_copies_that_cannot_all_split_run_wholly_per_sample(tree_root):
    split = [{"name": "RandomResizedCrop", "size": 8}, "RandomHorizontalFlip"]
    whole = [{"name": "RandomResizedCrop", "size": 8}, "ToTensor", "RandAugment"]
    bundle = _build(tree_root, None, [{"name": "Resize", "size": [8, 8]}], copies=[split, whole])
    assert not any(step.endswith(":batched") for k in (0, 1) for step in bundle.transforms[f"train[{k}]"])
    assert bundle.train.batched is None
    assert [tuple(b.x.shape) for b in bundle.train.batches(0)][0] == (4, 3, 8, 8)


def test_the_path_follows_the_data_set_and_on_device(tree_root, cifar_root):
    val = [{"name": "Resize", "size": [8, 8]}]
    assert _build(tree_root, val, val).path == "workers"
    decoded = _build(tree_root, val, val, on_device=True, cache_dir=False, input_size=8)
    assert decoded.path == "decoded" and decoded.on_device
    cifar = build_data({"name": "cifar100", "root": str(cifar_root), "batch_size": 4}, seed=0, device=CPU)
    assert cifar.path == "tensor"
