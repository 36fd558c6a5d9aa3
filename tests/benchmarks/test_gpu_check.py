"""benchmarks/gpu_check.py on a CPU-only machine without Ray, MLflow or Optuna, as the lent GPU
machine has none of the three: the same script at tiny sizes, so it is not dead code the day a
GPU is lent. The three packages are hidden by stand-ins on PYTHONPATH that raise ImportError,
which every process the check starts inherits (pytest for part b, the CLI for part e).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))  # the check's parts import as it runs them: from benchmarks/

from gpu_check import PARTS  # noqa: E402
from gpu_parts.syncs import EPOCH_END, INSIDE, OUTSIDE, PACKAGE, SyncCount, count_host_syncs  # noqa: E402

HIDDEN = ("ray", "mlflow", "optuna")


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, str]:
    root = tmp_path_factory.mktemp("gpu_check")
    for name in HIDDEN:
        (root / "hidden" / name).mkdir(parents=True)
        (root / "hidden" / name / "__init__.py").write_text(
            f"raise ImportError('{name} is hidden by the test, as on the device machine')\n"
        )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "hidden"), str(REPO)]),
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "gpu_check.py"),
            str(root / "out"),
            "--sweeps",
            "quickstart.yaml",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return (
        proc,
        json.loads((root / "out" / "report.json").read_text()),
        (root / "out" / "report.md").read_text(),
    )


@pytest.mark.slow  # the check in a subprocess: ~20-30 s on a busy 2-core machine (shared by two tests)
def test_the_check_runs_on_the_cpu_without_ray_mlflow_or_optuna(cpu_check):
    _, report, _ = cpu_check
    parts = {p["name"]: p for p in report["parts"]}
    assert list(parts) == list(PARTS)
    assert all(p["status"] in ("passed", "measured", "skipped") and p["reason"] for p in parts.values()), (
        parts
    )
    engine = parts["engine"]
    assert engine["status"] == "passed"
    trained = [r for r in engine["rows"] if r["status"] == "passed"]
    assert {r["sweep"] for r in engine["rows"]} == {"quickstart.yaml"} and len(trained) == 3
    assert all(
        r["amp"] == "off" and r["syncs inside"] == "n/a" for r in trained
    )  # CPU: no AMP, no sync count
    assert parts["cuda_equality"]["status"] == "skipped" and "no CUDA" in parts["cuda_equality"]["reason"]
    assert "mlflow" in parts["scheduling"]["reason"] and "hidden by the test" in parts["scheduling"]["reason"]
    throughput = {r["what"]: r for r in parts["throughput"]["rows"]}
    assert [w for w in throughput if w.startswith("KD student")] == [
        "KD student x 1, AMP off",
        "KD students x 2, AMP off",
        "KD students x 4, AMP off",
    ]
    assert all(r["peak MiB"] in ("", "not measured") for r in throughput.values())
    assert [r["case"].split()[0] for r in parts["data_path"]["rows"]] == ["CIFAR-sized", "JPEG"]
    assert report["header"]["gpu_figures"] is False and report["header"]["exit_code"] == 0


@pytest.mark.slow
def test_the_report_says_first_that_no_figure_is_a_gpu_figure(cpu_check):
    proc, report, markdown = cpu_check
    assert "No figure in this report is a GPU figure" in "\n".join(markdown.splitlines()[:3])
    assert all(f"## {p['title']}" in markdown for p in report["parts"])
    for key in ("torch", "torchvision", "python", "cuda", "driver", "gpu", "date"):
        assert report["header"][key]
    assert "exit code 0" in proc.stdout


def frames(*names: str) -> list[traceback.FrameSummary]:
    """A stack as traceback.extract_stack() gives it: outermost first, here all in kdsweep's files."""
    return [traceback.FrameSummary(f"{PACKAGE}engine/train.py", i, name) for i, name in enumerate(names, 1)]


def test_host_syncs_are_placed_by_the_engine_function_that_made_them():
    count = SyncCount()
    count.add(frames("train_group", "_loop", "_train_epoch", "train_step"))
    count.add(frames("train_group", "_loop", "_train_epoch", "train_step"))
    count.add(frames("train_group", "_loop", "_train_epoch", "diverged"))
    count.add(frames("train_group", "_loop", "_train_epoch", "_end_epoch", "end_epoch"))
    count.add(frames("train_group", "_finish"))
    assert (count.total(INSIDE), count.total(EPOCH_END), count.total(OUTSIDE)) == (2, 2, 1)
    assert count.top(INSIDE) == "kdsweep/engine/train.py:4 train_step x2"


def test_host_syncs_are_not_counted_on_the_cpu():
    with count_host_syncs(torch.device("cpu")) as count:
        torch.ones(3).sum().item()
    assert count is None
