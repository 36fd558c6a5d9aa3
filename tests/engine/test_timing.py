"""Measured costs: per-model step timings and a group's seconds per epoch at full size."""

import pytest
import torch

from kdsweep.engine.models import build_model
from kdsweep.engine.timing import group_epoch, model_timings
from kdsweep.spec.resolve import resolve_run_config

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/engine/conftest.py


def test_model_timings_are_positive_and_leave_the_rng_alone():
    model = build_model({"arch": "digits_student"}, 10)
    state = torch.get_rng_state()
    t = model_timings(model, batch_size=8, input_size=32, device="cpu", steps=2)
    assert set(t) == {"forward", "train_step"} and 0 < t["forward"] and 0 < t["train_step"]
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.slow  # trains a group of two for two short epochs (~5 s idle, much more on a busy machine)
def test_group_epoch_scales_a_short_run_of_the_real_group_to_the_full_data_set(tmp_path):
    configs = [resolve_run_config({
        "epochs": 30, "device": "cpu", "seed": s,
        "data": {"name": "digits", "batch_size": 32, "workers": 0, "limit": 200, "val_limit": 100},
        "student": {"arch": "digits_student"},
        "teacher": {"arch": "digits_teacher", "checkpoint": str(tmp_path / "missing.pt")},
        "loss": {"kd": {"T": T, "alpha": 0.9}},
        "train": {"patience": 2},
    }) for s, T in ((0, 2.0), (0, 4.0))]
    cost = group_epoch(configs, steps=2, device="cpu")
    assert cost.train_batches == 7 and cost.val_batches == 4  # 200 / 32 and 100 / 32 (remainders kept)
    assert cost.epoch_s > 0 and cost.setup_s > 0
    assert configs[0]["epochs"] == 30 and configs[0]["data"]["limit"] == 200  # the caller's configs untouched
