"""Placement: fake GPUs (Ray accepts num_gpus=4 on a CPU machine) and a two-node cluster on one machine."""

from __future__ import annotations

import datetime as dt

import pytest
from execute_helpers import children, store_uri, write_sweep

from kdsweep.execute.runner import RunOptions, run_sweep
from kdsweep.plan import plan_sweep

pytestmark = pytest.mark.slow

SWEEP = """
base:
  epochs: 1
  data: {name: digits, batch_size: 64, workers: 0, limit: 64, val_limit: 64}
  student: {arch: digits_student}
grid:
  optim.lr: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12]
"""


def test_four_fake_gpus_two_jobs_each(workdir):
    import ray

    # defined here so Ray pickles it by value (workers cannot import this test module)
    def sleepy_train(configs, *, workdirs, loggers, **_):
        """Stands in for the engine: holds its slot for a while and reports what it was given."""
        import os
        import time
        from types import SimpleNamespace

        seen = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        out = []
        for logger in loggers:
            logger.set_status("RUNNING")
            logger.inner.set_tags({"test.visible": seen})
        time.sleep(1.5)
        for logger in loggers:
            logger.log_metrics({"val_acc1": 50.0}, step=1)
            logger.log_metrics({"best_val_acc1": 50.0}, step=None)
            logger.set_status("FINISHED")
            out.append(SimpleNamespace(status="FINISHED", reason=None, best_val_acc1=50.0, metrics={}, history=[]))
        return out

    ray.shutdown()
    ray.init(address="local", num_cpus=8, num_gpus=4, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:
        plan = plan_sweep(write_sweep(workdir, "placement", SWEEP), fuse=False)
        outcome = run_sweep(plan, RunOptions(tracking_uri=store_uri(workdir), jobs_per_gpu=2,
                                             system_metrics=False, train_fn=sleepy_train))
    finally:
        ray.shutdown()
    assert outcome.exit_code == 0
    assert outcome.slots.use_gpu and outcome.slots.per_job_gpu == 0.5 and outcome.slots.concurrency == 8
    runs = children(store_uri(workdir), "placement")
    assert len(runs) == 12
    spans = []
    for run in runs:
        visible = run.data.tags["test.visible"]
        assert visible in {"0", "1", "2", "3"}, visible  # exactly one device per job
        assert run.data.tags["kdsweep.slot"] == f"gpu {visible}"
        started, ended = (dt.datetime.fromisoformat(run.data.tags[t]).timestamp()
                          for t in ("kdsweep.started", "kdsweep.ended"))  # ISO 8601, readable in the UI
        spans.append((visible, started, ended))
    for device in {"0", "1", "2", "3"}:
        mine = [(s, e) for d, s, e in spans if d == device]
        for start, _ in mine:  # jobs on this device running at the moment one started
            overlapping = sum(1 for s, e in mine if s <= start < e)
            assert overlapping <= 2, (device, mine)
    # all four devices were used, and sharing happened (12 jobs of 1.5 s, 8 slots)
    assert {d for d, _, _ in spans} == {"0", "1", "2", "3"}
    assert max(sum(1 for _, s, e in spans if s <= t < e) for _, t, _ in spans) > 4


def test_two_node_cluster_runs_on_both_nodes(workdir):
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0})
    cluster.add_node(num_cpus=1, num_gpus=0)
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="warning")
        plan = plan_sweep(write_sweep(workdir, "two_nodes", SWEEP.replace(
            "[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.11, 0.12]", "[0.01, 0.02, 0.03, 0.04]")),
            fuse=False)
        outcome = run_sweep(plan, RunOptions(tracking_uri=store_uri(workdir), cpu_workers=2, address=cluster.address,
                                             system_metrics=False))
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert outcome.exit_code == 0
    runs = children(store_uri(workdir), "two_nodes")
    assert all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["kdsweep.ray_node"] for r in runs}) == 2
