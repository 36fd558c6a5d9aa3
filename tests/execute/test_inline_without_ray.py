"""`kdsweep run --inline` needs MLflow but not Ray: a lent GPU machine's own Python has no Ray, and
Ray's wheel is too large to carry there (benchmarks/README.md, the GPU check's part e)."""

from __future__ import annotations

from execute_helpers import children, store_uri, write_sweep

SWEEP = """
base:
  epochs: 1
  data: {name: fake, batch_size: 16, workers: 0, limit: 32, val_limit: 16}
  student: {arch: digits_student}
"""


def test_inline_runs_where_ray_does_not_import(workdir, kdsweep, monkeypatch):
    hidden = workdir / "hidden" / "ray"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('ray is hidden by the test')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden.parent))
    sweep = write_sweep(workdir, "no_ray", SWEEP)
    proc = kdsweep("run", sweep, "--inline", "--tracking-uri", store_uri(workdir), "--no-system-metrics",
                   cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r.info.status for r in children(store_uri(workdir), "no_ray")] == ["FINISHED"]
