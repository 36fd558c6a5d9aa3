"""`train_group(prune=...)`: a search's pruner stops one run between epochs; the group goes on."""

from __future__ import annotations

from _train_helpers import restore_threads, run_config, teacher_checkpoint  # noqa: F401 - fixture

from kdsweep.engine.logger import MemoryLogger
from kdsweep.engine.train import train_group


def test_a_pruned_run_leaves_its_group_with_its_epochs_and_no_summary(tmp_path):
    teacher = teacher_checkpoint(tmp_path / "teacher.pt")
    configs = [run_config(teacher, epochs=3), run_config(teacher, epochs=3, **{"loss.kd": {"T": 2.0, "alpha": 0.5}})]
    loggers = [MemoryLogger(), MemoryLogger()]
    asked = []

    def prune(index, epoch, metrics):
        asked.append((index, epoch, round(metrics["val_acc1"], 6)))
        return "pruned by a test" if index == 1 and epoch == 1 else None

    results = train_group(configs, workdirs=[tmp_path / "a", tmp_path / "b"], loggers=loggers, prune=prune)
    assert [r.status for r in results] == ["FINISHED", "PRUNED"]
    assert [len(r.history) for r in results] == [3, 1]
    assert [(i, e) for i, e, _ in asked] == [(0, 1), (1, 1), (0, 2), (0, 3)]  # between epochs, per run
    assert asked[0][2] == round(loggers[0].epochs[0]["val_acc1"], 6)
    assert loggers[1].statuses[-1] == ("PRUNED", "pruned by a test")
    assert loggers[1].summary == {} and "best_val_acc1" in loggers[0].summary  # no cut-short "best"
    assert [path for _, path in loggers[1].artifacts] == ["plots"]  # its learning curve, no checkpoint
