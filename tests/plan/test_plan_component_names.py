"""`kdsweep plan` rejects an unknown model or data set name, torch-free (issue 9): one line,
exit 2, the key where the user wrote it, a did-you-mean. torchvision names still plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SWEEP = """\
name: t
base:
  data: {name: digits}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.kd.T: [2, 4]
"""


def plan(tmp_path: Path, text: str, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    code = ("import sys; from kdsweep.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, "plan", str(path), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


@pytest.mark.parametrize(("text", "args", "want"), [
    (SWEEP.replace("arch: digits_student", "arch: digits_studnt"), (),
     "base.student.arch: unknown model 'digits_studnt'; did you mean 'digits_student'"),
    (SWEEP.replace("arch: digits_teacher", "arch: digits_teachr"), (),
     "stages.teacher: student.arch: unknown model 'digits_teachr'; did you mean 'digits_teacher'"),
    (SWEEP, ("-o", "student.arch=resnt18"), "-o student.arch: unknown model 'resnt18'; did you mean 'resnet18'"),
    (SWEEP.replace("{name: digits}", "{name: digitz}"), (),
     "base.data.name: unknown data set 'digitz'; did you mean 'digits'?"),
    (SWEEP.replace("    student: {arch: digits_teacher}", "    student: {arch: digits_teacher}\n    data: {name: cifar10}"),
     (), "stages.teacher: data.name: unknown data set 'cifar10'; did you mean 'cifar100'?"),
    (SWEEP, ("-o", "data.name=food1"), "-o data.name: unknown data set 'food1'; did you mean 'food11'?"),
    # A teacher given by arch and checkpoint (no stage) is checked too.
    (SWEEP.replace("teacher: {run: teacher}", "teacher: {arch: resnet1, checkpoint: t.pt}"), (),
     "base.teacher.arch: unknown model 'resnet1'; did you mean 'resnet18'"),
])
def test_unknown_name_is_one_line_exit_2(tmp_path, text, args, want):
    proc = plan(tmp_path, text, *args)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"kdsweep: error: {tmp_path / 'sweep.yaml'}: {want}"), err


@pytest.mark.parametrize("arch", ["resnet18", "shufflenet_v2_x1_0", "mobilenet_v3_small"])
def test_torchvision_model_names_still_plan(tmp_path, arch):
    proc = plan(tmp_path, SWEEP.replace("arch: digits_teacher", f"arch: {arch}"), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["config"]["student"]["arch"] for r in rows] == [arch, "digits_student", "digits_student"]
    assert rows[1]["config"]["teacher"]["arch"] == arch


def test_a_search_choice_of_an_unknown_model_fails_at_plan_time(tmp_path):
    text = SWEEP.replace("grid:\n  loss.kd.T: [2, 4]\n", "search:\n  space:\n"
                         "    student.arch: {choice: [digits_student, resnt18]}\n  trials: 2\n")
    proc = plan(tmp_path, text)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and "search.space.student.arch: 'resnt18' does not make a valid run" in err
    assert "unknown model 'resnt18'; did you mean 'resnet18'" in err
