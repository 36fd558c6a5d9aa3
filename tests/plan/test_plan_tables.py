"""A sweep's `tables:` are checked against its plan: a typo in a key or metric stops `plan` and `run`
before anything trains (issue 12.2), with one line naming the file, the table key and the closest names."""

from __future__ import annotations

from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.plan import plan_sweep
from kdsweep.plan.tables import known_metrics

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = (REPO / "sweeps" / "quickstart.yaml").read_text()


def _sweep(tmp_path: Path, old: str, new: str) -> Path:
    assert old in QUICKSTART
    path = tmp_path / "typo.yaml"
    path.write_text(QUICKSTART.replace(old, new))
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ("    metric: best_val_acc1\n", "    metric: best_val_acc\n",
     "tables.T_alpha.metric: no run of the sweep logs metric 'best_val_acc'; did you mean 'best_val_acc1'"),
    ("rows: loss.kd.alpha", "rows: loss.kd.alfa",
     "tables.T_alpha.rows: no run of the sweep has config key 'loss.kd.alfa'; did you mean 'loss.kd.alpha'"),
    ("{metric: train_val_gap, label: train-val gap}", "{metric: train_val_gaps}",
     "tables.kd_vs_baseline.columns.train_val_gaps: no run of the sweep logs metric 'train_val_gaps'; "
     "did you mean 'train_val_gap'"),
    ("{key: loss.kd.T, label: T}", "{key: loss.kd.t, label: T}",
     "tables.kd_vs_baseline.columns.loss.kd.t: no run of the sweep has config key 'loss.kd.t'"),
    ("    kind: list\n", "    kind: list\n    order: -best_val_acc5\n",
     "tables.kd_vs_baseline.order: 'best_val_acc5' is neither a config key nor a metric"),
])
def test_table_typos_fail_at_plan_time(tmp_path, old, new, message):
    path = _sweep(tmp_path, old, new)
    with pytest.raises(UserError) as info:
        plan_sweep(path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_known_metrics_follow_the_runs_loss_terms():
    plan = plan_sweep(REPO / "sweeps" / "quickstart.yaml")
    metrics = known_metrics(plan)
    assert {"best_val_acc1", "val_acc1", "train_loss_kd", "train_loss_ce", "params", "madds"} <= set(metrics)
    assert "train_loss_fa" not in metrics


def test_plan_and_run_stop_on_a_table_typo_before_anything_starts(tmp_path, kdsweep):
    path = _sweep(tmp_path, "    metric: best_val_acc1\n", "    metric: best_val_acc\n")
    store = tmp_path / "store.db"
    for argv in (("plan", path), ("run", path, "--tracking-uri", f"sqlite:///{store}", "--inline")):
        proc = kdsweep(*argv)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr == (f"kdsweep: error: {path}: tables.T_alpha.metric: no run of the sweep logs metric "
                               "'best_val_acc'; did you mean 'best_val_acc1' or 'val_acc5' or 'val_acc1'?\n")
    assert not store.exists()  # nothing was started, not even the store
