"""System metrics are on every run of a fused job (its process's usage), not only on the first."""

from __future__ import annotations

import textwrap

import pytest
from execute_helpers import children, store_uri

SWEEP = """\
name: tiny_fused
base:
  epochs: 3
  data: {name: fake, batch_size: 16, limit: 64, val_limit: 16, workers: 0}
  student: {arch: digits_student}
grid:
  optim.lr: [0.1, 0.05]
"""


def test_each_run_of_a_fused_job_has_system_metrics(workdir, cli, monkeypatch):
    pytest.importorskip("psutil")
    monkeypatch.setattr("kdsweep.tracking.logger.SYSTEM_METRICS_INTERVAL_S", 0.1)  # samples within a short job
    path = workdir / "tiny_fused.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    uri = store_uri(workdir)
    rc, _, err = cli("run", path, "--inline", "--tracking-uri", uri)
    assert rc == 0, err
    runs = children(uri, "tiny_fused")
    assert len(runs) == 2 and len({r.data.tags["kdsweep.group"] for r in runs}) == 1  # one fused job
    for run in runs:
        assert "system/cpu_utilization_percentage" in run.data.metrics, run.data.tags["mlflow.runName"]
