"""User mistakes in `kdsweep run` fail in a second, before MLflow or Ray are touched (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from execute_helpers import write_sweep

from kdsweep.cli import main
from kdsweep.errors import UserError

BASE = """
base:
  epochs: 1
  data: {name: digits}
  student: {arch: digits_student}
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("  student: {arch: resnet_18}\n", ["student.arch", "unknown model 'resnet_18'", "did you mean 'resnet18'"]),
        ("  data: {name: cifar100, root: nowhere/cifar}\n", ["data.root", "nowhere/cifar does not exist"]),
        ("  data: {name: cifar100}\n", ["data.root", "needs `data.root"]),
        ("  data: {name: cifar10}\n", ["data.name", "unknown data set 'cifar10'", "cifar100"]),
        ("  teacher: {arch: resnet18, checkpoint: missing.pt}\n  loss: {kd: {T: 4}}\n",
         ["teacher.checkpoint", "missing.pt not found"]),
    ],
)
def test_run_refuses_bad_input_before_anything_starts(tmp_path: Path, monkeypatch, capsys, extra, expected):
    monkeypatch.chdir(tmp_path)
    sweep = write_sweep(tmp_path, "bad", BASE + extra)
    code = main(["run", str(sweep), "--tracking-uri", f"sqlite:///{tmp_path}/store.db"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and str(sweep) in err
    for text in expected:
        assert text in err
    assert not (tmp_path / "store.db").exists()  # no store was created: nothing ran


def test_unreachable_store_fails_before_any_job(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = write_sweep(tmp_path, "ok", BASE)
    code = main(["run", str(sweep), "--tracking-uri", "http://127.0.0.1:9/"])
    err = capsys.readouterr().err
    assert code == 2 and "http://127.0.0.1:9/" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("data", "make", "expected"),
    [
        ("{name: cifar100, root: data}", [], "data/cifar-100-python does not exist; cifar100 expects"),
        ("{name: cifar100, root: data}", ["cifar-100-python/train", "cifar-100-python/meta"],
         "data/cifar-100-python/test does not exist"),
        ("{name: caltech101, root: data}", ["train/", "val/"], "data/train holds no class folders"),
        ("{name: mini_imagenet, root: data}", ["images/", "new_train.csv", "classes_name.json"],
         "data/new_val.csv does not exist; mini_imagenet expects"),
        ("{name: food11, root: data}", ["training/"], "data/validation does not exist; food11 expects"),
    ],
)
def test_a_data_root_with_the_wrong_layout_stops_the_sweep(tmp_path: Path, monkeypatch, capsys, data, make,
                                                           expected):
    """Checked once per data set and root (the files that must exist, no image read), before any store or Ray."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    for part in make:
        path = tmp_path / "data" / part
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if part.endswith("/") else path.write_text("x")
    sweep = write_sweep(tmp_path, "layout", BASE.replace("{name: digits}", data) + "grid:\n  seed: [0, 1, 2]\n")
    code = main(["run", str(sweep), "--tracking-uri", f"sqlite:///{tmp_path}/store.db"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err, err
    assert "seed=0: data.root" in err  # named for the first run that needs it; said once
    assert not (tmp_path / "store.db").exists()


def test_a_checkpoint_that_does_not_fit_stops_the_sweep_before_it_starts(tmp_path: Path, monkeypatch, capsys):
    """A teacher file of another architecture (or class count), or a student `init` file sharing no
    tensor with the student, used to fail every run after Ray started; now one line, exit 2."""
    import torch

    from kdsweep.engine.models import build_model

    monkeypatch.chdir(tmp_path)
    torch.save(build_model({"arch": "digits_student"}, 10).state_dict(), tmp_path / "student.pt")
    torch.save(build_model({"arch": "digits_teacher"}, 10).state_dict(), tmp_path / "teacher.pt")
    torch.save(build_model({"arch": "digits_teacher"}, 7).state_dict(), tmp_path / "teacher7.pt")
    torch.save({"unrelated.weight": torch.zeros(3)}, tmp_path / "other.pt")
    cases = [
        ("  teacher: {arch: digits_teacher, checkpoint: student.pt}\n  loss: {kd: {T: 4}}\n",
         ["teacher.checkpoint", "student.pt does not fit the architecture", "shape mismatches"]),
        ("  teacher: {arch: digits_teacher, checkpoint: teacher7.pt}\n  loss: {kd: {T: 4}}\n",
         ["teacher.checkpoint", "shape mismatches", "file (7,"]),
        ("  student: {arch: digits_student, init: {checkpoint: other.pt}}\n",
         ["student.init.checkpoint", "no tensor matching the model"]),
    ]
    for extra, expected in cases:
        sweep = write_sweep(tmp_path, "misfit", BASE + extra)
        code = main(["run", str(sweep), "--tracking-uri", f"sqlite:///{tmp_path}/store.db"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        for text in expected:
            assert text in err, err
        assert not (tmp_path / "store.db").exists()
    # The files that do fit pass preflight (`plan` shows nothing wrong; nothing trains here).
    from kdsweep.execute.preflight import preflight
    from kdsweep.plan import plan_sweep

    fits = BASE + "  teacher: {arch: digits_teacher, checkpoint: teacher.pt}\n  loss: {kd: {T: 4}}\n"
    preflight(plan_sweep(write_sweep(tmp_path, "fits", fits)))
    # data made in code takes its class count from data.num_classes: a 7-class teacher fits there only
    fake = BASE.replace("{name: digits}", "{name: fake, num_classes: 7}")
    teacher7 = "  teacher: {arch: digits_teacher, checkpoint: teacher7.pt}\n  loss: {kd: {T: 4}}\n"
    preflight(plan_sweep(write_sweep(tmp_path, "fake7", fake + teacher7)))
    with pytest.raises(UserError, match="shape mismatches"):
        preflight(plan_sweep(write_sweep(tmp_path, "fake10", BASE.replace("digits}", "fake}") + teacher7)))
