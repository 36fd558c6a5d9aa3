"""DKD, DIST and CRD in the group loop: a group equals each run alone, resume equals straight.

CRD keeps per-sample state (its memory bank, filled by the batches' sample indices) and
draws negatives from the student's RNG stream; DKD reads the epoch. These are the parts a
fused group or a resume could get wrong.
"""

from __future__ import annotations

import torch
from _train_helpers import (  # noqa: F401  (restore_threads is an autouse fixture)
    epochs_without_timing,
    final_weights,
    restore_threads,
    run_config,
    teacher_checkpoint,
)

from kdsweep.engine import train_group
from kdsweep.engine.logger import MemoryLogger

CRD = {"weight": 0.8, "feat_dim": 16, "nce_k": 64}


def _train(configs, root, **kw):
    loggers = [MemoryLogger() for _ in configs]
    dirs = [root / f"run{i}" for i in range(len(configs))]
    return train_group(configs, workdirs=dirs, loggers=loggers, device="cpu", **kw), loggers, dirs


def _last(workdir):
    return torch.load(workdir / "last.pt", weights_only=True)


def test_a_group_of_methods_gives_each_run_alone(tmp_path):
    teacher = teacher_checkpoint(tmp_path / "teacher.pt")
    configs = [
        run_config(teacher, loss={"dkd": {"warmup_epochs": 2}}),
        run_config(teacher, **{"loss": {"dist": {"tau": 4.0}, "crd": {**CRD, "nce_t": 0.1}}, "optim.lr": 0.1}),
        run_config(teacher, loss={"crd": CRD}),
    ]
    results, loggers, dirs = _train(configs, tmp_path / "group")
    assert [r.status for r in results] == ["FINISHED"] * 3
    for keys, log in zip((["dkd"], ["dist", "crd"], ["crd"]), loggers, strict=True):
        assert {"train_loss_ce", *(f"train_loss_{k}" for k in keys)} <= set(log.epochs[0])
    for i, cfg in enumerate(configs):
        (_,), (solo_log,), (solo_dir,) = _train([cfg], tmp_path / f"solo{i}")
        assert epochs_without_timing(loggers[i].epochs) == epochs_without_timing(solo_log.epochs)
        group, solo = _last(dirs[i]), _last(solo_dir)
        assert all(torch.equal(group["model"][k], solo["model"][k]) for k in solo["model"])
        assert all(torch.equal(group["losses"][k], solo["losses"][k]) for k in solo["losses"])
    banks = [_last(d)["losses"]["terms.crd.memory_s"] for d in dirs[1:]]
    assert not torch.equal(*banks)  # each CRD student keeps its own bank


def test_resume_after_epoch_1_equals_straight_training(tmp_path):
    teacher = teacher_checkpoint(tmp_path / "teacher.pt")
    configs = [run_config(teacher, loss={"crd": CRD}), run_config(teacher, loss={"dkd": {"warmup_epochs": 3}})]
    straight, straight_logs, straight_dirs = _train(configs, tmp_path / "straight")
    calls = []

    def stop_in_epoch_2():  # 4 batches an epoch: the 6th check is epoch 2, step 2
        calls.append(1)
        return len(calls) == 6

    killed, _, dirs = _train(configs, tmp_path / "resumed", should_stop=stop_in_epoch_2)
    assert [r.status for r in killed] == ["KILLED"] * 2
    assert _last(dirs[0])["epoch"] == 1 and _last(dirs[0])["losses"]["terms.crd.z"].min() > 0  # Z was saved
    resumed, _, _ = _train(configs, tmp_path / "resumed")
    for got, want, d, w in zip(resumed, straight, dirs, straight_dirs, strict=True):
        assert got.status == "FINISHED"
        assert epochs_without_timing(got.history) == epochs_without_timing(want.history)
        assert all(torch.equal(final_weights(d)[k], final_weights(w)[k]) for k in final_weights(w))
        assert all(torch.equal(_last(d)["losses"][k], _last(w)["losses"][k]) for k in _last(w)["losses"])
