"""Atomic checkpoint files and the resume state's reader."""

from __future__ import annotations

import pytest
import torch

from kdsweep.engine import checkpoint
from kdsweep.errors import UserError


def test_save_last_round_trips_weights_only(tmp_path):
    state = {"epoch": 2, "model": {"w": torch.arange(4.0)}, "history": [{"epoch": 1, "val_acc1": 50.0}],
             "rng": {"cpu": torch.get_rng_state(), "cuda": None}, "stop_reason": None}
    checkpoint.save_last(tmp_path, state)
    back = checkpoint.load_last(tmp_path)
    assert back["format"] == checkpoint.FORMAT and back["epoch"] == 2
    assert torch.equal(back["model"]["w"], torch.arange(4.0)) and back["history"] == state["history"]
    assert torch.equal(back["rng"]["cpu"], state["rng"]["cpu"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left


def test_save_replaces_the_previous_file_whole(tmp_path):
    checkpoint.save_best(tmp_path, {"w": torch.zeros(3)})
    checkpoint.save_best(tmp_path, {"w": torch.ones(3)})
    assert torch.equal(torch.load(tmp_path / "best.pt", weights_only=True)["w"], torch.ones(3))


def test_failed_write_keeps_the_old_file(tmp_path):
    checkpoint.save_best(tmp_path, {"w": torch.zeros(3)})
    with pytest.raises(Exception):  # noqa: B017 - a lambda cannot be pickled: torch.save fails mid-way
        checkpoint.save_best(tmp_path, {"w": lambda: 0})
    assert torch.equal(torch.load(tmp_path / "best.pt", weights_only=True)["w"], torch.zeros(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_no_resume_state_is_none_and_a_bad_one_is_a_user_error(tmp_path):
    assert checkpoint.load_last(tmp_path) is None
    (tmp_path / "last.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="delete it to start the run over"):
        checkpoint.load_last(tmp_path)
    torch.save({"w": torch.zeros(1)}, tmp_path / "last.pt")
    with pytest.raises(UserError, match="not a kdsweep resume checkpoint"):
        checkpoint.load_last(tmp_path)


def test_cpu_state_dict_is_a_detached_copy():
    layer = torch.nn.Linear(2, 2)
    saved = checkpoint.cpu_state_dict(layer)
    with torch.no_grad():
        layer.weight.add_(1.0)
    assert not torch.equal(saved["weight"], layer.weight)
