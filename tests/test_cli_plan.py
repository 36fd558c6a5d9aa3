"""`kdsweep plan`: the table for people, JSON for scripts, -o and --no-fuse, fast and torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "sweeps" / "quickstart.yaml"


def test_plan_table(cli):
    rc, out, err = cli("plan", QUICKSTART)
    assert rc == 0 and err == ""
    assert "quickstart: 8 runs (1 stage, 3 groups)" in out
    for column in ("stage", "key", "group", "needs"):
        assert column in out
    assert "teacher" in out and out.count("g02") == 6


def test_plan_json(cli):
    rc, out, _ = cli("plan", QUICKSTART, "--json")
    assert rc == 0
    rows = json.loads(out)
    assert len(rows) == 8
    assert set(rows[0]) == {"key", "name", "stage", "depends_on", "group", "point", "config", "data_path", "fuse"}
    assert rows[0]["data_path"] == "tensor"  # digits: uint8 tensors, batched on the device
    # train.fuse auto (spec/fuse.py): the loop until the block is measured faster on a device
    assert rows[0]["fuse"] == "-" and rows[1]["fuse"] == "loop"
    assert rows[0]["stage"] == "teacher" and rows[0]["point"] == {} and rows[0]["depends_on"] == []
    assert rows[1]["point"] == {"loss.kd.alpha": 0.5, "loss.kd.T": 2} and rows[1]["name"] == "alpha=0.5 T=2"
    assert rows[1]["depends_on"] == [rows[0]["key"]]
    assert rows[7]["point"] == {"loss.kd": None} and rows[7]["config"]["teacher"] is None


def test_plan_overrides_and_no_fuse(cli):
    rc, out, _ = cli("plan", QUICKSTART, "--json", "--no-fuse", "-o", "epochs=1",
                     "--override", "data.root=/x", "-o", "optim.betas=[0.8,0.9]")
    assert rc == 0
    rows = json.loads(out)
    assert {r["config"]["epochs"] for r in rows} == {1}
    assert {r["config"]["data"]["root"] for r in rows} == {"/x"}
    assert all(r["config"]["optim"]["betas"] == [0.8, 0.9] for r in rows)
    assert len({r["group"] for r in rows}) == 8


def test_plan_error_goes_to_stderr(cli, tmp_path):
    rc, out, err = cli("plan", QUICKSTART, "-o", "epochs=0")
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "quickstart.yaml" in err and "epochs: expected at least 1, got 0" in err


def test_plan_is_fast_and_imports_no_torch():
    """DESIGN: spec and plan import no torch, so `kdsweep plan` answers in well under a second."""
    code = ("import sys, time; t = time.perf_counter(); from kdsweep.cli import main; "
            f"rc = main(['plan', {str(QUICKSTART)!r}, '--json']); "
            "print('ELAPSED', time.perf_counter() - t, file=sys.stderr); "
            "assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    elapsed = float(proc.stderr.split("ELAPSED")[1])
    assert elapsed < 1.0 and wall < 5.0
    assert len(json.loads(proc.stdout)) == 8


def test_plan_module_entry_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbsae: {}\n")
    proc = subprocess.run([sys.executable, "-m", "kdsweep.cli", "plan", str(bad)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "did you mean 'base'" in proc.stderr


def test_profile_bench_prints_timings(cli):
    rc, out, err = cli("profile", "digits_student", "--num-classes", "10", "--bench", "--batch-size", "4",
                       "--device", "cpu")
    assert rc == 0 and err == ""
    assert "timed on cpu" in out and "forward (eval, no grad)" in out and "train step" in out
    assert out.count("images/s") == 2


@pytest.mark.slow  # measures every group shape and MLflow's logging cost (~20 s idle)
def test_plan_estimate_prints_per_group_costs_and_totals(cli, write_yaml):
    sweep = write_yaml("""
        name: est
        base:
          epochs: 3
          device: cpu
          data: {name: digits, batch_size: 32, workers: 0, limit: 64, val_limit: 32}
          student: {arch: digits_student}
        grid:
          optim.lr: [0.1, 0.2]
        seeds: [0, 1]
        """)
    rc, out, err = cli("plan", "--estimate", sweep, "--cpu-workers", "1")
    assert rc == 0, err
    assert "est: estimated cost on this machine (CPU only: 1 job(s)" in out
    assert "measured 1 group shape(s)" in out  # two seeds: two groups of the same shape
    assert out.count("2 runs") == 2 and "wall" in out and "CPU slot-hours" in out
