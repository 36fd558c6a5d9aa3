import pytest
import torch

from kdsweep.engine.data import build_data

CPU = torch.device("cpu")
# A pipeline with every kind of randomness: batched crop / jitter / erasing and a per-sample v2 op.
AUGMENT = [
    {"name": "RandomCrop", "size": 32, "padding": 4},
    "RandomHorizontalFlip",
    {"name": "ColorJitter", "brightness": 0.3, "contrast": 0.3},
    {"name": "RandomRotation", "degrees": 10},
    "RandomErasing",
]


def digits(seed: int = 0, **over) -> object:
    cfg = {"name": "digits", "batch_size": 64, "limit": 200, "val_limit": 70, "train_transforms": AUGMENT}
    return build_data({**cfg, **over}, seed=seed, device=CPU)


def epoch(source, e: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(b.x, b.y) for b in source.batches(e)]


def same(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b, strict=True)
    )


def test_an_epoch_depends_only_on_seed_and_epoch():
    fresh = digits()
    first = epoch(fresh.train, 3)
    assert same(first, epoch(fresh.train, 3))  # asked twice
    assert same(first, epoch(digits().train, 3))  # another process / a resumed run
    assert not same(first, epoch(fresh.train, 4))
    assert not same(first, epoch(digits(seed=1).train, 3))


def test_the_global_rng_is_neither_used_nor_moved():
    bundle = digits()
    torch.manual_seed(0)
    a = epoch(bundle.train, 1)
    state = torch.get_rng_state()
    torch.manual_seed(12345)  # whatever the trainer did to the global RNG
    b = epoch(bundle.train, 1)
    assert same(a, b)
    torch.manual_seed(0)
    epoch(bundle.train, 1)
    assert torch.equal(torch.get_rng_state(), state)


def test_train_keeps_the_last_partial_batch_and_shuffles():
    bundle = digits()
    batches = epoch(bundle.train, 0)
    assert len(bundle.train) == 4 == len(batches)
    assert [len(y) for _, y in batches] == [64, 64, 64, 8]
    assert all(x.dtype == torch.float32 and y.dtype == torch.int64 for x, y in batches)
    again = epoch(bundle.train, 1)
    labels = torch.cat([y for _, y in batches])
    assert torch.equal(labels.sort().values, torch.cat([y for _, y in again]).sort().values)
    assert not torch.equal(labels, torch.cat([y for _, y in again]))


def test_val_is_fixed_in_order_and_free_of_randomness():
    bundle = digits(val_transforms=AUGMENT)  # even random val transforms give the same batches
    a = epoch(bundle.val, 0)
    assert same(a, epoch(bundle.val, 5))
    assert same(a, epoch(digits(seed=3, val_transforms=AUGMENT).val, 0))
    assert [len(y) for _, y in a] == [64, 6]


def test_limit_takes_a_fixed_subset_whatever_the_seed():
    a, b = digits(seed=0), digits(seed=9)
    labels_a = torch.cat([y for _, y in epoch(a.val, 0)])
    assert torch.equal(labels_a, torch.cat([y for _, y in epoch(b.val, 0)]))
    assert a.n_train == 200 and a.n_val == 70


def test_host_storage_gives_the_same_batches():
    on = digits(on_device=True)
    off = digits(on_device=False)
    assert same(epoch(on.train, 2), epoch(off.train, 2))
    assert off.train.x.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_live_on_the_device_and_match_the_cpu():
    cfg = {
        "name": "digits",
        "batch_size": 64,
        "limit": 200,
        "val_limit": 70,
        "train_transforms": [{"name": "RandomCrop", "size": 32, "padding": 4}, "RandomHorizontalFlip"],
    }
    gpu = build_data(cfg, seed=0, device=torch.device("cuda"))
    cpu = build_data(cfg, seed=0, device=CPU)
    assert gpu.on_device and gpu.train.x.device.type == "cuda"
    for g, c in zip(gpu.train.batches(1), cpu.train.batches(1), strict=True):
        (x, y), (u, v) = (g.x, g.y), (c.x, c.y)
        assert x.device.type == "cuda" and y.device.type == "cuda" and g.indices.device.type == "cuda"
        assert torch.equal(g.indices.cpu(), c.indices)
        assert torch.allclose(x.cpu(), u, atol=1e-5) and torch.equal(y.cpu(), v)


def test_batches_carry_each_sample_index_and_copies_share_it():
    bundle = digits(train_transforms=None, copies=[[], [{"name": "RandomHorizontalFlip", "p": 1.0}]])
    batches = list(bundle.train.batches(2))
    indices = torch.cat([b.indices for b in batches])
    labels = torch.cat([b.y for b in batches])
    assert indices.dtype == torch.int64 and len(bundle.train.labels) == 200
    assert torch.equal(bundle.train.labels[indices], labels)  # the index names the sample whose label it is
    assert sorted(indices.tolist()) == sorted(list(range(200)) * 2)  # every sample once per copy
    val = torch.cat([b.indices for b in bundle.val.batches(0)])
    assert val.tolist() == list(range(70))
