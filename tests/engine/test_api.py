"""train_run: one raw run config from Python, defaults filled by the planner's resolver."""

from __future__ import annotations

import pytest
import torch
from _train_helpers import restore_threads  # noqa: F401  (autouse fixture)

from kdsweep.engine import train_run
from kdsweep.engine.logger import MemoryLogger
from kdsweep.errors import UserError

RAW = {"epochs": 2, "device": "cpu", "student": {"arch": "digits_student"},
       "data": {"name": "digits", "batch_size": 32, "limit": 512, "val_limit": 128, "workers": 0},
       "optim": {"lr": 0.05}, "train": {"threads": 1}}


def test_train_run_from_a_raw_config(tmp_path):
    log = MemoryLogger()
    result = train_run(RAW, workdir=tmp_path, logger=log)
    assert result.status == "FINISHED" and result.reason is None
    assert [row["epoch"] for row in log.epochs] == [1, 2] and result.history == log.epochs
    assert result.best_val_acc1 == max(row["val_acc1"] for row in log.epochs)
    assert result.best_val_acc1 > 20.0  # 10 classes: well above chance after 2 short epochs
    assert "train_loss_ce" in log.epochs[0] and "train_loss_kd" not in log.epochs[0]
    assert result.best_checkpoint == tmp_path / "best.pt" and result.best_checkpoint.is_file()

    # Same workdir again: the run is complete, so nothing is trained and the result is the same.
    again = MemoryLogger()
    result2 = train_run(RAW, workdir=tmp_path, logger=again)
    assert again.epochs == log.epochs and result2.status == "FINISHED"  # the history replayed, not retrained
    assert result2.best_val_acc1 == result.best_val_acc1 and result2.history == result.history


def test_train_run_without_workdir_keeps_the_checkpoint():
    result = train_run({**RAW, "epochs": 1})
    assert result.status == "FINISHED"
    state = torch.load(result.best_checkpoint, weights_only=True)
    assert "classifier.weight" in state


def test_train_run_refuses_a_stage_teacher_and_bad_keys(tmp_path):
    with pytest.raises(UserError, match="stage teacher"):
        train_run({**RAW, "teacher": {"run": "teacher"}, "loss": {"kd": {}}}, workdir=tmp_path)
    with pytest.raises(UserError, match="optim.lrr"):
        train_run({**RAW, "optim": {"lrr": 0.1}}, workdir=tmp_path)
