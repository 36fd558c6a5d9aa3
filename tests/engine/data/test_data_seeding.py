import random

import torch

from kdsweep.engine.data.seeding import derive_seed, generator, isolated_rng, reseed, sample_seeds


def test_derive_seed_is_stable_and_separates_its_inputs():
    assert derive_seed(0, 1, "order") == derive_seed(0, 1, "order")
    seeds = {derive_seed(s, e, stream) for s in (0, 1) for e in (0, 1, 2) for stream in ("order", "augment")}
    assert len(seeds) == 12
    assert all(0 <= s < 2**63 for s in seeds)


def test_generator_streams_repeat_and_differ():
    a = torch.rand(5, generator=generator(3, 2, "order"))
    b = torch.rand(5, generator=generator(3, 2, "order"))
    c = torch.rand(5, generator=generator(3, 3, "order"))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_isolated_rng_restores_the_callers_rng():
    torch.manual_seed(11)
    random.seed(11)
    expected_torch = torch.rand(3)
    expected_py = random.random()
    torch.manual_seed(11)
    random.seed(11)
    with isolated_rng():
        reseed(5)
        inside = torch.rand(3), random.random()
    assert torch.equal(torch.rand(3), expected_torch)
    assert random.random() == expected_py
    with isolated_rng():
        reseed(5)
        again = torch.rand(3), random.random()
    assert torch.equal(inside[0], again[0]) and inside[1] == again[1]


def test_sample_seeds_follow_the_generator():
    assert sample_seeds(generator(0, 0, "augment"), 4) == sample_seeds(generator(0, 0, "augment"), 4)
    assert len(set(sample_seeds(generator(0, 0, "augment"), 100))) == 100
