"""The live view: counts, ETA and failure lines from worker events, rich or plain."""

from __future__ import annotations

import io

from rich.console import Console

from kdsweep.execute.progress import LiveView, ProgressBoard, RunView


def view(plain: bool) -> tuple[LiveView, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=not plain, width=120)
    runs = [RunView("k1", "T=2", epochs=4), RunView("k2", "T=4", epochs=4), RunView("k3", "base", epochs=4)]
    return LiveView("demo", runs, console), out


def test_board_keeps_the_best_accuracy_and_latest_state():
    board = ProgressBoard()
    board.update("k1", {"epoch": 1, "val_acc1": 50.0, "slot": "gpu 0"})
    board.update("k1", {"epoch": 2, "val_acc1": 40.0})
    snap = board.snapshot()["k1"]
    assert snap["epoch"] == 2 and snap["val_acc1"] == 40.0 and snap["best"] == 50.0 and snap["slot"] == "gpu 0"


def test_counts_eta_and_failures():
    live, _ = view(plain=False)
    live.merge({"k1": {"slot": "gpu 0", "epoch": 2, "epoch_s": 10.0, "val_acc1": 61.5, "best": 62.0},
                "k2": {"state": "FAILED", "reason": "diverged at epoch 1 step 3: term kd is nan"}})
    assert live.counts()["running"] == 1 and live.counts()["failed"] == 1 and live.counts()["waiting"] == 1
    assert live.runs["k1"].eta_s() == 20.0  # two epochs left at 10 s each
    console = Console(file=io.StringIO(), width=120)
    console.print(live.render())
    text = console.file.getvalue()
    assert "gpu 0" in text and "2/4" in text and "61.50" in text and "0m20s" in text
    assert "failed: T=4: diverged at epoch 1 step 3" in text


def test_plain_output_prints_one_line_per_change():
    live, out = view(plain=True)
    live.merge({"k1": {"slot": "cpu 7", "epoch": 1, "val_acc1": 10.0, "best": 10.0}})
    live.merge({"k1": {"slot": "cpu 7", "epoch": 1, "val_acc1": 10.0, "best": 10.0}})  # no change, no line
    live.set_state("k1", "FINISHED")
    lines = out.getvalue().splitlines()
    assert lines == ["[cpu 7] T=2: epoch 1/4 val_acc1 10.00 best 10.00", "T=2: FINISHED"]


def test_plain_output_says_when_a_run_starts():
    live, out = view(plain=True)
    live.merge({"k2": {"slot": "gpu 1", "state": "RUNNING"}})
    assert out.getvalue().splitlines() == ["[gpu 1] T=4: started (4 epochs)"]
