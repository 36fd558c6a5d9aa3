"""What logging costs on this machine: one epoch of one run written to an MLflow store.

`kdsweep plan --estimate` adds it per run and epoch: for a group of small students it is a
visible share of a sweep's wall time (a log_batch and a tag per run and epoch, each a
SQLite transaction). Measured on a fresh SQLite store in a temporary directory, on the disk
the sweep's store would use when that is local.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from kdsweep.tracking.logger import MlflowRunLogger
from kdsweep.tracking.store import open_client, quiet_mlflow_logging

# The per-epoch metrics a KD run logs (engine/train.py): losses per term, accuracies, lr, timings.
EPOCH_METRICS = ("train_loss", "train_loss_ce", "train_loss_kd", "train_acc1", "val_loss", "val_acc1",
                 "val_acc5", "lr", "epoch_s", "images_per_s")


def log_epoch_seconds(epochs: int = 6, where: str | Path | None = None) -> float:
    """Median seconds of one run's per-epoch `log_metrics` call on a fresh SQLite store."""
    quiet_mlflow_logging()
    with tempfile.TemporaryDirectory(prefix="kdsweep-logcost-", dir=where) as tmp:
        uri = f"sqlite:///{Path(tmp) / 'cost.db'}"
        client = open_client(uri)
        experiment = client.create_experiment("cost", artifact_location=str(Path(tmp) / "artifacts"))
        run_id = client.create_run(experiment).info.run_id
        logger = MlflowRunLogger(uri, run_id)
        times = []
        for epoch in range(1, epochs + 2):
            t0 = time.perf_counter()
            logger.log_metrics({name: float(epoch) for name in EPOCH_METRICS}, step=epoch)
            if epoch > 1:  # the first call opens the database
                times.append(time.perf_counter() - t0)
    return statistics.median(times)
