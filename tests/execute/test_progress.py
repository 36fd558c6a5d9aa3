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
    assert lines == ["[cpu 1] T=2: epoch 1/4 val_acc1 10.00 best 10.00", "T=2: FINISHED"]  # slot 1, not pid 7


def test_plain_output_says_when_a_run_starts():
    live, out = view(plain=True)
    live.merge({"k2": {"slot": "gpu 1", "state": "RUNNING"}})
    assert out.getvalue().splitlines() == ["[gpu 1] T=4: started (4 epochs)"]


def test_cpu_slots_are_numbered_not_process_ids_and_a_fused_group_shares_one():
    live, _ = view(plain=False)
    live.merge({"k1": {"slot": "cpu 4242", "state": "RUNNING"}, "k2": {"slot": "cpu 4242", "state": "RUNNING"},
                "k3": {"slot": "cpu 977", "state": "RUNNING"}})
    assert [live.runs[k].slot for k in ("k1", "k2", "k3")] == ["cpu 1", "cpu 1", "cpu 2"]
    live.set_state("k1", "FINISHED")
    live.set_state("k2", "FINISHED")
    live.runs["k1"].state = "waiting"  # a rerun of the first job's run, by a new worker process
    live.runs["k1"].worker = ""
    live.merge({"k1": {"slot": "cpu 5000", "state": "RUNNING"}})
    assert live.runs["k1"].slot == "cpu 1"  # the freed slot number is taken again


def test_a_resumed_run_shows_the_epoch_it_resumed_from():
    live, out = view(plain=True)
    live.merge({"k1": {"slot": "gpu 0", "state": "RUNNING", "resumed_from": 3}})
    assert live.runs["k1"].epoch == 3
    assert out.getvalue().splitlines() == ["[gpu 0] T=2: resumed at epoch 3/4"]


def test_no_empty_table_when_nothing_runs_and_repeated_reasons_print_once():
    live, _ = view(plain=False)
    why = "data.root: /data/cifar does not exist; cifar100 expects <root>/cifar-100-python/{train,test,meta}"
    for key in ("k1", "k2", "k3"):
        live.set_state(key, "NOT_RUN", why)
    console = Console(file=io.StringIO(), width=200)
    console.print(live.render())
    text = console.file.getvalue()
    assert "┏" not in text and "slot" not in text  # no table frame around zero rows
    assert text.count(why) == 1
    assert "not run: 3 runs (T=2, T=4, base): " + why in text


def test_plain_output_prints_a_repeated_reason_once():
    live, out = view(plain=True)
    for key in ("k1", "k2"):
        live.set_state(key, "NOT_RUN", "stage teacher failed")
    assert out.getvalue().splitlines() == ["T=2: NOT_RUN (stage teacher failed)",
                                           "T=4: NOT_RUN (same reason as T=2)"]


def test_after_ctrl_c_nothing_is_left_running():
    live, _ = view(plain=False)
    live.merge({"k1": {"slot": "gpu 0", "epoch": 1}, "k2": {"slot": "gpu 1", "epoch": 1}})
    live.interrupted({"k1": "KILLED", "k2": "KILLED", "k3": "KILLED"})
    assert "running" not in live.summary_line() and "3 killed" in live.summary_line()


def test_plain_output_prints_every_epoch_also_the_last_that_came_with_the_end():
    """A teacher's last epoch and FINISHED reached the board between two polls: its 4/4 line was never
    printed (issue 20), nor were epochs that ended faster than the view polls."""
    board = ProgressBoard()
    live, out = view(plain=True)
    board.update("k1", {"slot": "cpu 7", "state": "RUNNING"})
    board.update("k1", {"slot": "cpu 7", "epoch": 1, "val_acc1": 10.0})
    live.merge(board.snapshot())
    for epoch, acc in ((2, 30.0), (3, 20.0), (4, 40.0)):
        board.update("k1", {"slot": "cpu 7", "epoch": epoch, "val_acc1": acc})
    board.update("k1", {"slot": "cpu 7", "state": "FINISHED"})
    live.merge(board.snapshot())
    live.merge(board.snapshot())  # nothing new: nothing printed twice
    assert out.getvalue().splitlines() == ["[cpu 1] T=2: epoch 1/4 val_acc1 10.00 best 10.00",
                                           "[cpu 1] T=2: epoch 2/4 val_acc1 30.00 best 30.00",
                                           "[cpu 1] T=2: epoch 3/4 val_acc1 20.00 best 30.00",
                                           "[cpu 1] T=2: epoch 4/4 val_acc1 40.00 best 40.00",
                                           "T=2: FINISHED"]
