"""Device choice, process switches, mixed precision on the CPU, and private RNG streams."""

from __future__ import annotations

import pytest
import torch

from kdsweep.engine import runtime
from kdsweep.errors import UserError


def test_select_device():
    assert runtime.select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert runtime.select_device("auto") == torch.device("cpu")
        with pytest.raises(UserError, match="no GPU is visible"):
            runtime.select_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        runtime.select_device("tpu")


def test_amp_is_a_cuda_feature():
    cpu = torch.device("cpu")
    assert runtime.amp_dtype({"amp": "bf16"}, cpu) is None
    assert runtime.amp_dtype({"amp": "off"}, torch.device("cuda")) is None
    assert runtime.amp_dtype({"amp": "fp16"}, torch.device("cuda")) == torch.float16
    assert not runtime.grad_scaler(cpu, None).is_enabled()


def test_configure_sets_threads_and_determinism_both_ways():
    before = torch.get_num_threads()
    try:
        runtime.configure({"threads": 1, "deterministic": True}, torch.device("cpu"))
        assert torch.get_num_threads() == 1 and torch.are_deterministic_algorithms_enabled()
        assert not torch.backends.cudnn.benchmark
        runtime.configure({"threads": None, "deterministic": False}, torch.device("cpu"))
        assert torch.get_num_threads() == 1 and not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark
    finally:
        torch.set_num_threads(before)
        runtime.configure({"deterministic": True}, torch.device("cpu"))


def test_streams_do_not_disturb_each_other_or_the_global_one():
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    alone = [torch.rand(2) for _ in range(3)]

    torch.manual_seed(0)
    a = runtime.RngStream(cpu)
    b = runtime.RngStream.seeded(99, cpu)
    torch.manual_seed(5)
    outer = torch.rand(1)
    torch.manual_seed(5)
    got = []
    for _ in range(3):
        with a.active():
            got.append(torch.rand(2))
        with b.active():
            torch.rand(7)
    assert all(torch.equal(x, y) for x, y in zip(got, alone, strict=True))
    assert torch.equal(torch.rand(1), outer)  # the global stream never moved


def test_stream_state_round_trips():
    cpu = torch.device("cpu")
    s = runtime.RngStream.seeded(1, cpu)
    with s.active():
        torch.rand(3)
    saved = s.state_dict()
    with s.active():
        first = torch.rand(4)
    t = runtime.RngStream.seeded(2, cpu)
    t.load_state_dict(saved)
    with t.active():
        assert torch.equal(torch.rand(4), first)
