"""Errors name the place the user wrote the key (issue 12 item 3): `base.lossx`, `-o lossx.kd.T`,
not the stage or point that merely inherited it. Through the real CLI, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

STAGED = """\
name: t
base:
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.kd.alpha: [0.5, 0.9]
  loss.kd.T: [2, 4]
"""


def plan_error(tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "kdsweep.cli", "plan", str(path), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    prefix = f"kdsweep: error: {path}: "
    assert err.startswith(prefix), err
    return err.removeprefix(prefix)


@pytest.mark.parametrize(("text", "args", "want"), [
    # A top-level typo in base: every stage and point inherits it; base is where to fix it.
    (STAGED.replace("  loss: {kd:", "  lossx: {kd:"), (), "base.lossx: unknown key 'lossx'; did you mean 'loss'?"),
    # A typo inside a base loss term a stage does not inherit: the first point used to be blamed.
    (STAGED.replace("alpha: 0.9}", "alpha: 0.9, alhpa: 0.5}"), (),
     "base.loss.kd.alhpa: unknown key 'alhpa'; did you mean 'alpha'?"),
    # A bad value in base, found while resolving a stage.
    (STAGED.replace("student: {arch: digits_student}", "student: {arch: digits_student}\n  epochs: ten"), (),
     "base.epochs: expected an integer, got 'ten'"),
    # An override typo: named as the user typed it on the command line.
    (STAGED, ("-o", "lossx.kd.T=3"), "-o lossx.kd.T: unknown key 'lossx'; did you mean 'loss'?"),
    (STAGED, ("-o", "optim.lr=-1"), "-o optim.lr: expected a learning rate > 0, got -1"),
    # What the stage or point wrote itself stays theirs.
    (STAGED.replace("student: {arch: digits_teacher}", "student: {arch: digits_teacher}\n    optim: {lr: x}"), (),
     "stages.teacher: optim.lr: expected a number, got 'x'"),
    (STAGED.replace("loss.kd.T: [2, 4]", "loss.kd.T: [2, 0]"), (),
     "point alpha=0.5 T=0: loss.kd.T: expected a temperature > 0, got 0"),
])
def test_error_names_where_the_key_was_written(tmp_path, text, args, want):
    assert plan_error(tmp_path, text, *args) == want
