"""User mistakes in `kdsweep run` fail in a second, before MLflow or Ray are touched (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from execute_helpers import write_sweep

from kdsweep.cli import main

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
