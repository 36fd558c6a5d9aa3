"""The loss contract is complete: a new method is one file in kdsweep/engine/losses/, nothing else.

Two toy methods (tests/engine/losses/plugins/: a feature method reading hooked student and teacher
layers, and a memory-bank method reading the sample indices, the train split's labels, the epoch
and the step from the one `LossContext`) are dropped, as single files, into a copy of the package;
then, in that copy, `kdsweep plan` accepts them with their options checked (a misspelt option
fails in one line), `kdsweep keys` lists them, and a run trains with both on digits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kdsweep.metric_names import loss_metric

REPO = Path(__file__).resolve().parents[3]
PLUGINS = Path(__file__).parent / "plugins"

TRAIN = """
import json, sys, torch
from kdsweep.engine.api import train_run
from kdsweep.engine.models import build_model
from kdsweep.engine.losses import build_losses
torch.manual_seed(0)
ckpt = sys.argv[1] + "/teacher.pt"
torch.save(build_model({"arch": "digits_teacher"}, 10).state_dict(), ckpt)
cfg = {"epochs": 2, "data": {"name": "digits", "limit": 96, "val_limit": 64, "batch_size": 32, "workers": 0},
       "student": {"arch": "digits_student"}, "teacher": {"arch": "digits_teacher", "checkpoint": ckpt},
       "loss": {"ce": {}, "toy_feature": {"weight": 2.0}, "toy_bank": {}}}
result = train_run(cfg, workdir=sys.argv[1] + "/run", device="cpu")
bank = torch.load(sys.argv[1] + "/run/last.pt", weights_only=True)["losses"]["terms.toy_bank.bank"]
print(json.dumps({"history": result.history, "bank_rows": bank.shape[0],
                  "rows_written": int((bank.abs().sum(1) > 0).sum())}))
"""


@pytest.fixture(scope="module")
def package_with_plugins(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugged")
    shutil.copytree(REPO / "kdsweep", root / "kdsweep", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("toy_feature.py", "toy_bank.py"):
        shutil.copy(PLUGINS / name, root / "kdsweep" / "engine" / "losses" / name)
    return root


def _python(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(root), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd or root, env=env,
                          timeout=300)


def test_the_copy_is_the_one_imported(package_with_plugins):
    out = _python(package_with_plugins, "-c", "import kdsweep; print(kdsweep.__file__)")
    assert out.stdout.strip().startswith(str(package_with_plugins)), out


def test_plan_and_keys_know_the_new_methods_from_their_one_file(package_with_plugins):
    sweep = package_with_plugins / "sweep.yaml"
    sweep.write_text("name: toys\nbase:\n  data: {name: digits}\n  student: {arch: digits_student}\n"
                     "  teacher: {arch: digits_teacher, checkpoint: t.pt}\n"
                     "  loss: {toy_feature: {weight: 2.0}, toy_bank: {}}\n")
    cli = "import sys; from kdsweep.cli import main; sys.exit(main(sys.argv[1:]))"
    planned = _python(package_with_plugins, "-c", cli, "plan", "--json", str(sweep))
    assert planned.returncode == 0, planned.stderr
    loss = json.loads(planned.stdout)[0]["config"]["loss"]
    assert loss["toy_feature"] == {"weight": 2.0, "student_layer": "features.3", "teacher_layer": "features.3"}
    assert loss["toy_bank"] == {"weight": 0.5, "layer": "classifier"}
    sweep.write_text(sweep.read_text().replace("weight: 2.0", "wieght: 2.0"))
    bad = _python(package_with_plugins, "-c", cli, "plan", str(sweep))
    assert bad.returncode == 2 and "loss.toy_feature.wieght" in bad.stderr and "weight" in bad.stderr
    keys = _python(package_with_plugins, "-c", cli, "keys", "loss.toy")
    assert "loss.toy_bank.layer" in keys.stdout and "loss.toy_feature.student_layer" in keys.stdout


@pytest.mark.slow
def test_a_run_trains_with_both_toy_methods(package_with_plugins, tmp_path):
    out = _python(package_with_plugins, "-c", TRAIN, str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    history = result["history"]
    assert len(history) == 2
    logged = [loss_metric("toy_feature"), loss_metric("toy_bank")]
    assert all(h[m] > 0 for h in history for m in logged), history[0]
    # The bank has one row per training sample (96: data.limit), each written at its sample index.
    assert result["bank_rows"] == 96 and result["rows_written"] == 96
