"""Batched students (engine/student_block.py, `train.fuse: batched`) against the loop they replace.

Three digits students of one group that differ in lr and loss (KD T 4 / alpha 0.9 at lr 0.05,
KD T 2 / alpha 0.5 at 0.1, DIST at 0.02), on the CPU with one thread. Measured on this machine
(2026-12-02, torch 2.14):

- per-step total losses over the first 50 steps (full digits train split, 22 steps an epoch,
  the block rebuilt and written back at each epoch's end): max abs difference 5.2e-7; asserted
  < 1e-4, the issue's bar. For scale, the loop against itself with 2 threads instead of 1 moves
  the same losses by up to 4.2e-3 in 50 steps. With DKD (beta 8) instead of DIST, the block
  differs by up to 2.9e-2 and the 2-thread loop by 1.3e-2: that recipe on a random teacher
  amplifies any change of summation order, so it is not the one used to pin the block;
- per-epoch metrics over 3 epochs of 512 images: losses within 4.8e-7, accuracies equal; weights
  after 3 epochs within 4.3e-6 (a grouped convolution sums in another order, so not bit for bit);
- last.pt: the same keys, shapes and optimiser-state format as the loop's, and either side
  resumes the other's file.
"""

from __future__ import annotations

import pytest
import torch
from _train_helpers import (  # noqa: F401  (restore_threads is an autouse fixture)
    epochs_without_timing,
    restore_threads,
    run_config,
    teacher_checkpoint,
)

from kdsweep.engine import checkpoint, train_group
from kdsweep.engine.data import build_data
from kdsweep.engine.logger import MemoryLogger, NullLogger
from kdsweep.engine.losses import build_losses
from kdsweep.engine.models import build_model, load_weights
from kdsweep.engine.student import TeacherOutput, build_student
from kdsweep.engine.student_block import build_block

LOSSES = [(0.05, {"kd": {"T": 4.0, "alpha": 0.9}}), (0.1, {"kd": {"T": 2.0, "alpha": 0.5}}), (0.02, {"dist": {}})]
TIMING = ("epoch_s", "images_per_s")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_checkpoint(tmp_path_factory.mktemp("teacher") / "teacher.pt")


def _configs(teacher, fuse, **over):
    return [run_config(teacher, **{"optim.lr": lr, "loss": loss, "train.fuse": fuse, **over}) for lr, loss in LOSSES]


def _train(configs, root):
    loggers = [MemoryLogger() for _ in configs]
    dirs = [root / f"run{i}" for i in range(len(configs))]
    return train_group(configs, workdirs=dirs, loggers=loggers, device="cpu"), loggers, dirs


def _step_losses(configs, tmp_path, batched: bool, steps: int) -> torch.Tensor:
    """Each student's total loss at each of the first `steps` steps, [steps, K], driven as train.py
    drives a group (one teacher forward per batch; with `batched`, a block built per epoch)."""
    torch.set_num_threads(1)
    first, device = configs[0], torch.device("cpu")
    data = build_data(first["data"], seed=first["seed"], device=device)
    teacher = build_model(first["teacher"], 10, where="teacher")
    load_weights(teacher, first["teacher"]["checkpoint"], strict=True, where="teacher")
    teacher.eval()
    probe = torch.zeros(2, 3, 32, 32)
    students = [build_student(c, workdir=tmp_path / str(i), logger=NullLogger(), device=device, num_classes=10,
                              losses=build_losses(c["loss"]), iters_per_epoch=len(data.train), probe=probe,
                              teacher_probe={}, train_labels=data.train.labels) for i, c in enumerate(configs)]
    rows = []
    for epoch in range(1, 100):
        for s in students:
            s.start_epoch()
        block = build_block(students, device) if batched else None
        assert (block is not None) == batched
        for step, batch in enumerate(data.train.batches(epoch - 1), start=1):
            with torch.no_grad():
                out = TeacherOutput(logits=teacher(batch.x))
            if block is not None:
                rows.append(block.train_step(batch, out, epoch=epoch, step=step))
            else:
                rows.append(torch.stack([s.train_step(batch, out, epoch=epoch, step=step) for s in students]))
            if len(rows) == steps:
                return torch.stack(rows)
        if block is not None:
            block.write_back()
    raise AssertionError("not enough steps")


def test_per_step_losses_match_the_loop_for_50_steps(teacher, tmp_path):
    configs = _configs(teacher, "batched", **{"data.limit": None})
    loop = _step_losses(configs, tmp_path / "loop", batched=False, steps=50)
    block = _step_losses(configs, tmp_path / "block", batched=True, steps=50)
    assert loop.shape == (50, 3) and len({round(float(v), 4) for v in loop[-1]}) == 3  # the students differ
    assert (block - loop).abs().max() < 1e-4


def test_epoch_metrics_close_to_the_loop(teacher, tmp_path):
    over = {"epochs": 3, "data.limit": 512}
    loop, loop_logs, _ = _train(_configs(teacher, "loop", **over), tmp_path / "loop")
    block, block_logs, _ = _train(_configs(teacher, "batched", **over), tmp_path / "block")
    assert [r.status for r in loop + block] == ["FINISHED"] * 6
    for a_log, b_log in zip(loop_logs, block_logs, strict=True):
        assert len(a_log.epochs) == len(b_log.epochs) == 3
        for a, b in zip(a_log.epochs, b_log.epochs, strict=True):
            assert set(a) == set(b)
            for key in (k for k in a if k not in TIMING):
                tol = 0.5 if "acc" in key else 1e-4  # accuracies: at most a borderline image apart
                assert abs(a[key] - b[key]) <= tol, (key, a[key], b[key])


def _state_shapes(value):
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), value.dtype)
    if isinstance(value, dict):
        return {k: _state_shapes(v) for k, v in value.items() if k != "history"}
    if isinstance(value, list):
        return [_state_shapes(v) for v in value]
    return type(value)


def test_last_pt_is_the_loops_file_and_resumes_either_way(teacher, tmp_path):
    one = {"epochs": 1, "data.limit": 256}
    _, _, block_dirs = _train(_configs(teacher, "batched", **one), tmp_path / "block")
    _, _, loop_dirs = _train(_configs(teacher, "loop", **one), tmp_path / "loop")
    for b, a in zip(block_dirs, loop_dirs, strict=True):
        b_state, a_state = checkpoint.load_last(b), checkpoint.load_last(a)
        assert _state_shapes(b_state) == _state_shapes(a_state)
        for name, tensor in a_state["model"].items():  # BatchNorm statistics included, each its own
            assert torch.allclose(b_state["model"][name].float(), tensor.float(), atol=1e-5), name
    # Batched epoch 1 -> loop epoch 2, and loop epoch 1 -> batched epoch 2: both go on from the file.
    two = {"epochs": 2, "data.limit": 256}
    from_block, logs_a, _ = _train(_configs(teacher, "loop", **two), tmp_path / "block")
    from_loop, logs_b, _ = _train(_configs(teacher, "batched", **two), tmp_path / "loop")
    straight, logs_c, _ = _train(_configs(teacher, "loop", **two), tmp_path / "straight")
    for a, b, c in zip(logs_a, logs_b, logs_c, strict=True):
        assert [r["epoch"] for r in a.epochs] == [r["epoch"] for r in b.epochs] == [1, 2]
        assert abs(a.epochs[-1]["train_loss"] - c.epochs[-1]["train_loss"]) < 1e-4
        assert abs(b.epochs[-1]["train_loss"] - c.epochs[-1]["train_loss"]) < 1e-4


def test_a_diverging_student_fails_alone(teacher, tmp_path):
    over = {"epochs": 3, "data.limit": 256}
    configs = _configs(teacher, "batched", **over)
    configs.append(run_config(teacher, **{"optim.lr": 1e6, "train.fuse": "batched", **over}))
    results, logs, _ = _train(configs, tmp_path / "block")
    assert [r.status for r in results] == ["FINISHED"] * 3 + ["FAILED"]
    assert results[3].reason.startswith("diverged at epoch 2")  # then the block goes on with three
    _, loop_logs, _ = _train(_configs(teacher, "loop", **over), tmp_path / "loop")
    for a, b in zip(loop_logs, logs[:3], strict=True):  # its NaNs never reached the others' slices
        assert abs(a.epochs[-1]["train_loss"] - b.epochs[-1]["train_loss"]) < 1e-4


def test_students_the_block_cannot_take_train_in_the_loop_beside_it(teacher, tmp_path):
    hint = {"layers": [{"student": "features.2", "teacher": "features.2", "weight": 1.0}], "weight": 0.1}
    over = {"epochs": 1, "data.limit": 256}
    mixed = [*_configs(teacher, "batched", **over)[:2],
             run_config(teacher, **{"loss": {"kd": {}, "hint": hint}, "train.fuse": "batched", **over})]
    _, logs, _ = _train(mixed, tmp_path / "mixed")
    _, loop_logs, _ = _train([{**c, "train": {**c["train"], "fuse": "loop"}} for c in mixed], tmp_path / "loop")
    assert epochs_without_timing(logs[2].epochs) == epochs_without_timing(loop_logs[2].epochs)  # bit for bit
