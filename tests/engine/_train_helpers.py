"""Small digits run configs and a random-teacher checkpoint for the trainer's tests.

Kept tiny (256 train / 128 val images, batch 64: 4 steps an epoch) so that whole groups
train in about a second on two CPU cores.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from kdsweep.engine.models import build_model
from kdsweep.spec.resolve import resolve_run_config

TIMING = ("epoch_s", "images_per_s")


def teacher_checkpoint(path: Path) -> Path:
    """A digits_teacher's state dict (random weights: enough to distil from in a test)."""
    torch.manual_seed(123)
    torch.save(build_model({"arch": "digits_teacher"}, 10, where="teacher").state_dict(), path)
    return path


def run_config(teacher: Path | None = None, **over: Any) -> dict[str, Any]:
    """A resolved digits run; `over` sets dotted keys, e.g. {"optim.lr": 0.1}."""
    raw: dict[str, Any] = {
        "seed": 7,
        "epochs": 2,
        "device": "cpu",
        "data": {"name": "digits", "batch_size": 64, "limit": 256, "val_limit": 128, "workers": 0},
        "student": {"arch": "digits_student"},
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4},
        "loss": {"ce": {}},
        # One thread: bit-exact comparisons need a fixed thread count, and two cores shared
        # with other test processes make OpenMP's spinning threads slow.
        "train": {"threads": 1},
    }
    if teacher is not None:
        raw["teacher"] = {"arch": "digits_teacher", "checkpoint": str(teacher)}
        raw["loss"] = {"kd": {"T": 4.0, "alpha": 0.9}}
    for dotted, value in over.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = copy.deepcopy(value)
    return resolve_run_config(raw)


@pytest.fixture(autouse=True)
def restore_threads():
    """The trainer sets the process's thread count (its job owns the process); tests share one."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def epochs_without_timing(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def final_weights(workdir: Path) -> dict[str, torch.Tensor]:
    return torch.load(Path(workdir) / "last.pt", weights_only=True)["model"]
