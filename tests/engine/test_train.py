"""The group training loop: group == solo, resume == straight, divergence, early stop, teacher errors."""

from __future__ import annotations

import math
import re

import pytest
import torch
from _train_helpers import (  # noqa: F401  (restore_threads is an autouse fixture)
    epochs_without_timing,
    final_weights,
    restore_threads,
    run_config,
    teacher_checkpoint,
)

from kdsweep.engine import RunResult, checkpoint, train_group
from kdsweep.engine.logger import MemoryLogger
from kdsweep.engine.models import build_model, load_weights
from kdsweep.metric_names import run_metrics

EPOCH_KEYS = {"train_loss", "train_acc1", "val_loss", "val_acc1", "val_acc5", "lr", "epoch_s", "images_per_s"}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return teacher_checkpoint(tmp_path_factory.mktemp("teacher") / "teacher.pt")


def _students(teacher):
    """Three KD students that differ in lr, alpha and T. Two draw random vectors from the
    global RNG (Fast FA), so without each student's own RNG stream their draws would
    interleave; one has a hint adapter, created in its seeded stream."""
    fa = {"student_layer": "features.1", "teacher_layer": "features.1", "fast": True, "weight": 0.5}
    hint = {"layers": [{"student": "features.2", "teacher": "features.2", "weight": 1.0}], "weight": 0.1}
    return [
        run_config(teacher, **{"optim.lr": 0.05, "loss": {"kd": {"T": 4.0, "alpha": 0.9}, "fa": fa}}),
        run_config(teacher, **{"optim.lr": 0.1, "loss": {"kd": {"T": 2.0, "alpha": 0.5}, "hint": hint, "fa": fa}}),
        run_config(teacher, **{"optim.lr": 0.02, "loss": {"kd": {"T": 8.0, "alpha": 0.3}}}),
    ]


def _train(configs, root, **kw):
    loggers = [MemoryLogger() for _ in configs]
    dirs = [root / f"run{i}" for i in range(len(configs))]
    return train_group(configs, workdirs=dirs, loggers=loggers, device="cpu", **kw), loggers, dirs


def test_group_gives_exactly_the_solo_runs(teacher, tmp_path):
    configs = _students(teacher)
    results, loggers, dirs = _train(configs, tmp_path / "group")
    assert [r.status for r in results] == ["FINISHED"] * 3
    for i, cfg in enumerate(configs):
        (solo,), (solo_log,), (solo_dir,) = _train([cfg], tmp_path / f"solo{i}")
        assert epochs_without_timing(loggers[i].epochs) == epochs_without_timing(solo_log.epochs)
        assert loggers[i].summary["best_val_acc1"] == solo_log.summary["best_val_acc1"]
        group_w, solo_w = final_weights(dirs[i]), final_weights(solo_dir)
        assert all(torch.equal(group_w[k], solo_w[k]) for k in solo_w)
    # The three runs really differ (no shared state leaked into equality).
    assert len({log.epochs[-1]["train_loss"] for log in loggers}) == 3


def test_metrics_summary_artifacts_and_checkpoints(teacher, tmp_path):
    cfg = run_config(teacher, **{"loss": {"kd": {"T": 4.0, "alpha": 0.9}}, "epochs": 3})
    (result,), (log,), (workdir,) = _train([cfg], tmp_path)
    assert log.statuses == [("RUNNING", None), ("FINISHED", None)]
    assert [row["epoch"] for row in log.epochs] == [1, 2, 3]
    for row in log.epochs:
        assert EPOCH_KEYS | {"train_loss_kd", "train_loss_ce"} <= set(row)
        assert math.isclose(row["train_loss"], row["train_loss_kd"] + row["train_loss_ce"], rel_tol=1e-5)
        assert 0 <= row["val_acc1"] <= row["val_acc5"] <= 100 and row["lr"] == 0.05
        assert row["epoch_s"] > 0 and row["images_per_s"] > 0
    best = max(log.epochs, key=lambda r: r["val_acc1"])
    s = log.summary
    assert s["best_val_acc1"] == best["val_acc1"] == result.best_val_acc1
    assert s["best_epoch"] == result.best_epoch == min(r["epoch"] for r in log.epochs if r["val_acc1"] == best["val_acc1"])
    assert s["final_val_acc1"] == log.epochs[-1]["val_acc1"]
    assert s["train_val_gap"] == pytest.approx(best["train_acc1"] - best["val_acc1"])
    student = build_model(cfg["student"], 10)
    assert s["params"] == sum(p.numel() for p in student.parameters())
    assert s["flops"] > 0 and s["micronet_ops"] > s["madds"]  # 001's count prices more than the matrix work
    # What the plan checks a table's metric against is exactly what a run logs.
    assert set(s) | {k for row in log.epochs for k in row} - {"epoch"} == set(run_metrics(["kd", "ce"]))
    assert result.best_checkpoint == workdir / "best.pt"
    assert {(a.rsplit("/", 1)[-1], p) for a, p in log.artifacts} == {("best.pt", "checkpoints"), ("curves.png", "plots")}
    assert (workdir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # best.pt is a plain state dict a teacher stage hands on; last.pt loads weights-only.
    load_weights(student, result.best_checkpoint, strict=True, where="test")
    last = torch.load(workdir / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and [r["epoch"] for r in last["history"]] == [1, 2, 3]
    assert result.history == log.epochs


def test_resume_after_kill_equals_straight_training(teacher, tmp_path):
    fa = {"student_layer": "features.1", "teacher_layer": "features.1", "fast": True}
    cfg = run_config(teacher, **{"epochs": 3, "schedule": {"name": "cosine", "warmup_epochs": 1},
                                  "loss": {"kd": {"T": 4.0, "alpha": 0.9}, "fa": fa}})
    (straight,), (straight_log,), (straight_dir,) = _train([cfg], tmp_path / "straight")

    calls = []

    def stop_in_epoch_3():  # 4 batches an epoch: the 10th check is epoch 3, step 2
        calls.append(1)
        return len(calls) == 10

    workdir = tmp_path / "killed"
    log = MemoryLogger()
    (killed,) = train_group([cfg], workdirs=[workdir], loggers=[log], device="cpu", should_stop=stop_in_epoch_3)
    assert killed.status == "KILLED" and killed.reason == "stopped at epoch 3 step 2; resumes after epoch 2"
    assert log.statuses[-1][0] == "KILLED" and [r["epoch"] for r in log.epochs] == [1, 2]
    assert torch.load(workdir / "last.pt", weights_only=True)["epoch"] == 2

    resumed_log = MemoryLogger()
    (resumed,) = train_group([cfg], workdirs=[workdir], loggers=[resumed_log], device="cpu")
    assert resumed.status == "FINISHED"
    # The checkpoint's history is replayed (a logger that has it keeps one copy), then epoch 3.
    assert [r["epoch"] for r in resumed_log.epochs] == [1, 2, 3] and resumed_log.epochs[:2] == log.epochs
    assert epochs_without_timing(resumed.history) == epochs_without_timing(straight.history)
    assert resumed_log.summary["best_val_acc1"] == straight_log.summary["best_val_acc1"]
    a, b = final_weights(workdir), final_weights(straight_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_divergence_fails_only_that_run(teacher, tmp_path):
    configs = [run_config(teacher, **{"optim.lr": 1e30}), run_config(teacher)]
    results, loggers, _ = _train(configs, tmp_path)
    bad, good = results
    assert bad.status == "FAILED"
    assert re.fullmatch(r"diverged at epoch 1 step \d+: term (ce|kd|total) is (nan|inf)", bad.reason), bad.reason
    assert loggers[0].statuses[-1] == ("FAILED", bad.reason) and loggers[0].epochs == []
    assert bad.best_checkpoint is None
    assert good.status == "FINISHED" and [r["epoch"] for r in loggers[1].epochs] == [1, 2]


def test_early_stop_by_patience(teacher, tmp_path):
    # A frozen trunk (BN statistics fixed too) and a tiny lr: val top-1 never improves after epoch 1
    cfg = run_config(teacher, **{"epochs": 5, "optim.lr": 1e-12, "train.patience": 2, "student.freeze": ["features"]})
    (result,), (log,), _ = _train([cfg], tmp_path)
    assert result.status == "FINISHED" and result.reason == "early stop at epoch 3"
    assert log.statuses[-1] == ("FINISHED", "early stop at epoch 3")
    assert [r["epoch"] for r in log.epochs] == [1, 2, 3] and result.best_epoch == 1
    # Resuming an early-stopped run trains nothing more.
    again = MemoryLogger()
    (result2,) = train_group([cfg], workdirs=[tmp_path / "run0"], loggers=[again], device="cpu")
    assert result2.reason == "early stop at epoch 3" and again.epochs == log.epochs  # replayed, not retrained


@pytest.mark.parametrize("problem", ["missing", "corrupt", "wrong arch"])
def test_bad_teacher_fails_every_run_of_the_group(teacher, tmp_path, problem):
    path = tmp_path / "t.pt"
    if problem == "corrupt":
        path.write_bytes(b"not a checkpoint")
    elif problem == "wrong arch":
        torch.save(build_model({"arch": "digits_student"}, 10).state_dict(), path)
    configs = [run_config(path), run_config(path, **{"optim.lr": 0.1})]
    results, loggers, dirs = _train(configs, tmp_path / "runs")
    expected = {"missing": "not found", "corrupt": "cannot be read", "wrong arch": "does not fit"}[problem]
    for result, log in zip(results, loggers, strict=True):
        assert isinstance(result, RunResult) and result.status == "FAILED"
        assert result.reason.startswith("teacher.checkpoint: ") and expected in result.reason
        assert log.statuses == [("RUNNING", None), ("FAILED", result.reason)] and log.epochs == []
    assert not any((d / "last.pt").exists() for d in dirs)


def test_group_must_share_data_seed_and_teacher(teacher, tmp_path):
    with pytest.raises(ValueError, match="'seed'"):
        _train([run_config(teacher), run_config(teacher, seed=8)], tmp_path)
    with pytest.raises(ValueError, match="'data'"):
        _train([run_config(teacher), run_config(teacher, **{"data.batch_size": 32})], tmp_path)


def test_epoch_saved_but_not_logged_is_logged_on_resume_exactly_once(teacher, tmp_path):
    """A process that dies after writing epoch 2's last.pt and before logging it: the resumed run
    logs epoch 2 from the checkpoint's history, and the epochs the logger holds are not repeated."""
    cfg = run_config(teacher, **{"epochs": 3})
    log = MemoryLogger()
    real_save = checkpoint.save_last

    def save_then_die(workdir, state):
        path = real_save(workdir, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after the save runs
        return path

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoint, "save_last", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            train_group([cfg], workdirs=[tmp_path], loggers=[log], device="cpu")
    assert [r["epoch"] for r in log.epochs] == [1]  # epoch 2 is saved, not logged
    (result,) = train_group([cfg], workdirs=[tmp_path], loggers=[log], device="cpu")
    assert result.status == "FINISHED" and [r["epoch"] for r in log.epochs] == [1, 2, 3]
    assert [r["epoch"] for r in result.history] == [1, 2, 3]


def test_a_fenced_logger_stops_the_group_without_writing(teacher, tmp_path):
    from kdsweep.errors import StopRun

    class Fenced(MemoryLogger):
        def guard(self):
            if len(self.epochs) == 1:
                raise StopRun("sweep taken over by another driver")

    cfg = run_config(teacher, **{"epochs": 3})
    log = Fenced()
    (result,) = train_group([cfg], workdirs=[tmp_path], loggers=[log], device="cpu")
    assert (result.status, result.reason) == ("KILLED", "sweep taken over by another driver")
    assert [r["epoch"] for r in log.epochs] == [1] and log.statuses == [("RUNNING", None)]  # no status written
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1  # epoch 2 was not saved
