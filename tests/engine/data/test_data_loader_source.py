import torch

from kdsweep.engine.data import build_data

CPU = torch.device("cpu")
RANDOM = [{"name": "RandomResizedCrop", "size": 16}, "RandomHorizontalFlip", "RandAugment"]


def batches(source, epoch):
    return [(b.x.clone(), b.y.clone()) for b in source.batches(epoch)]


def same(a, b) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x, u) and torch.equal(y, v) for (x, y), (u, v) in zip(a, b, strict=True)
    )


def build(root, workers=0, seed=0, **over):
    cfg = {
        "name": "imagefolder",
        "root": str(root),
        "batch_size": 4,
        "workers": workers,
        "train_transforms": RANDOM,
        "val_transforms": [{"name": "Resize", "size": [16, 16]}],
    }
    return build_data({**cfg, **over}, seed=seed, device=CPU)


def test_epochs_repeat_exactly_and_differ_between_epochs_and_seeds(tree_root):
    bundle = build(tree_root)
    first = batches(bundle.train, 2)
    assert [len(y) for _, y in first] == [4, 5]  # nothing dropped; a last batch of one joins the one before
    assert same(first, batches(bundle.train, 2))
    assert same(first, batches(build(tree_root).train, 2))
    assert not same(first, batches(bundle.train, 3))
    assert not same(first, batches(build(tree_root, seed=1).train, 2))


def test_worker_count_does_not_change_the_batches_nor_the_global_rng(tree_root):
    torch.manual_seed(0)
    state = torch.get_rng_state()
    serial = build(tree_root, workers=0)
    parallel = build(tree_root, workers=2)
    a, b = batches(serial.train, 1), batches(parallel.train, 1)
    assert same(a, b)
    assert same(batches(serial.val, 0), batches(parallel.val, 7))
    assert same(batches(parallel.train, 1), a)  # persistent workers, second pass
    assert torch.equal(torch.get_rng_state(), state)


def test_copies_double_the_epoch(tree_root):
    bundle = build(tree_root, train_transforms=None, copies=[RANDOM, [{"name": "Resize", "size": [16, 16]}]])
    assert bundle.n_train == 18 and len(bundle.train) == 5
    labels = torch.cat([b.y for b in bundle.train.batches(0)])
    assert torch.bincount(labels).tolist() == [6, 6, 6]


def test_batches_carry_each_sample_index(tree_root):
    bundle = build(tree_root, workers=2)
    got = list(bundle.train.batches(1))
    indices = torch.cat([b.indices for b in got])
    assert sorted(indices.tolist()) == list(range(len(bundle.train.labels)))
    assert torch.equal(bundle.train.labels[indices], torch.cat([b.y for b in got]))
