"""The decode-once cache: file data sets decoded to a memory-mapped uint8 file, shared and
rebuilt when the files change, feeding the batched (tensor) path."""

import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from kdsweep.engine.data import build_data
from kdsweep.engine.data.decode_cache import cached_split
from kdsweep.errors import UserError

CPU = torch.device("cpu")


def write_jpeg(path, seed, size=(20, 16), value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels if value is None else np.full_like(pixels, value)).save(path, quality=95)


def config(root, cache, **over):
    return {"name": "imagefolder", "root": str(root), "batch_size": 6, "workers": 0, "input_size": 16,
            "on_device": True, "cache_dir": str(cache), **over}


def cache_files(cache):
    return sorted(p.name for p in cache.glob("*.u8"))


def test_cached_bundle_has_the_decoded_shapes_and_ranges(tree_root, tmp_path):
    bundle = build_data(config(tree_root, tmp_path / "c"), seed=0, device=CPU)
    x = bundle.train.x
    assert x.shape == (9, 3, 18, 18) and x.dtype == torch.uint8  # resized to 16 * 256 / 224
    assert [f.split("-")[1] for f in cache_files(tmp_path / "c")] == ["train", "val"]
    batch = next(iter(bundle.train.batches(0)))
    xb, yb = batch.x, batch.y
    assert xb.shape == (6, 3, 16, 16) and xb.dtype == torch.float32 and yb.dtype == torch.int64
    mean = torch.tensor(bundle.mean).view(1, 3, 1, 1)
    std = torch.tensor(bundle.std).view(1, 3, 1, 1)
    pixels = xb * std + mean  # undo Normalize: the augmented images are in [0, 1]
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5 and pixels.std() > 0.1


def test_cache_gives_what_decoding_in_memory_gives(tree_root, tmp_path):
    cached = build_data(config(tree_root, tmp_path / "c"), seed=0, device=CPU)
    memory = build_data(config(tree_root, tmp_path / "c", cache_dir=False), seed=0, device=CPU)
    assert torch.equal(cached.train.x, memory.train.x) and torch.equal(cached.val.x, memory.val.x)
    for c, m in zip(cached.train.batches(3), memory.train.batches(3), strict=True):
        assert torch.equal(c.x, m.x) and torch.equal(c.y, m.y) and torch.equal(c.indices, m.indices)


def test_second_job_maps_the_file_instead_of_decoding(tree_root, tmp_path, monkeypatch):
    build_data(config(tree_root, tmp_path / "c"), seed=0, device=CPU)
    monkeypatch.setattr("kdsweep.engine.data.decode_cache.decode_items",
                        lambda *a, **k: pytest.fail("decoded again although the cache is current"))
    again = build_data(config(tree_root, tmp_path / "c"), seed=1, device=CPU)
    assert again.train.x.shape == (9, 3, 18, 18)


def test_a_seed_reproduces_a_batch_and_each_sample_draws_its_own_crop(tmp_path):
    root = tmp_path / "same"
    write_jpeg(root / "train" / "a" / "0.jpg", 0, size=(40, 30))
    for i in range(1, 8):  # eight copies of one image: any difference comes from the augmentation
        shutil.copy(root / "train" / "a" / "0.jpg", root / "train" / "a" / f"{i}.jpg")
    write_jpeg(root / "val" / "a" / "0.jpg", 1)
    cfg = config(root, tmp_path / "c", batch_size=8)
    x1, x2 = (next(iter(build_data(cfg, seed=5, device=CPU).train.batches(0))).x for _ in range(2))
    other = next(iter(build_data(cfg, seed=6, device=CPU).train.batches(0))).x
    assert torch.equal(x1, x2) and not torch.equal(x1, other)
    distinct = {tuple(sample.flatten()[:64].tolist()) for sample in x1}
    assert len(distinct) == 8


def test_changed_files_rebuild_the_cache_and_drop_the_stale_one(tree_root, tmp_path):
    cache = tmp_path / "c"
    before = build_data(config(tree_root, cache), seed=0, device=CPU).train.x.clone()
    old = cache_files(cache)
    changed = sorted((tree_root / "train" / "ant").iterdir())[0]
    write_jpeg(changed, 99, value=255)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    after = build_data(config(tree_root, cache), seed=0, device=CPU).train.x
    new = cache_files(cache)
    assert new != old and len(new) == 2 and old[1] in new  # train rebuilt, val untouched
    assert torch.equal(after[1:], before[1:]) and not torch.equal(after[0], before[0])
    assert int(after[0].min()) >= 250  # the new all-white image, not the old noise


def test_a_limit_subset_has_its_own_cache_file(tree_root, tmp_path):
    cache = tmp_path / "c"
    build_data(config(tree_root, cache), seed=0, device=CPU)
    build_data(config(tree_root, cache, limit=4), seed=0, device=CPU)
    assert len(cache_files(cache)) == 3  # full train, subset train, val: neither evicts the other


def test_default_cache_dir_comes_from_the_environment(tree_root, tmp_path, monkeypatch):
    monkeypatch.setenv("KDSWEEP_CACHE_DIR", str(tmp_path / "env"))
    build_data(config(tree_root, tmp_path, cache_dir=None), seed=0, device=CPU)
    assert len(cache_files(tmp_path / "env")) == 2


def test_cache_dir_must_be_a_path_null_or_false(tree_root, tmp_path):
    with pytest.raises(UserError, match="data.cache_dir: expected a directory, null or false, got 3"):
        build_data(config(tree_root, tmp_path, cache_dir=3), seed=0, device=CPU)


def test_a_truncated_cache_file_is_reported(tree_root, tmp_path):
    items = [(p, 0) for p in sorted((tree_root / "train" / "ant").iterdir())]
    cached_split(items, 8, 0, cache_dir=tmp_path, name="ants")
    path = next(tmp_path.glob("ants-*.u8"))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(OSError, match="expected 576; delete it"):
        cached_split(items, 8, 0, cache_dir=tmp_path, name="ants")
