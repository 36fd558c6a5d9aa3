"""Names shared by everything that writes or reads MLflow: tags, metrics, artifact paths.

Tracking writes them, report and status read them; keeping them in one place is what lets
`kdsweep table` find the runs `kdsweep run` made.
"""

from __future__ import annotations

TAG_PREFIX = "kdsweep."
TAG_SWEEP = "kdsweep.sweep"  # sweep name, on the parent and every child
TAG_ROLE = "kdsweep.role"  # "sweep" on the parent run, "run" on children
TAG_RUN_KEY = "kdsweep.run_key"
TAG_STAGE = "kdsweep.stage"  # stage name, or "" for sweep points
TAG_GROUP = "kdsweep.group"
TAG_AXIS_PREFIX = "kdsweep.axis."  # one tag per grid axis: kdsweep.axis.loss.kd.T = JSON value
TAG_POINT = "kdsweep.point"  # the whole point as JSON
TAG_STATUS = "kdsweep.status"  # FINISHED | FAILED | KILLED | NOT_RUN | RUNNING | PENDING
TAG_REASON = "kdsweep.reason"  # one-line reason for FAILED / NOT_RUN / early stop
TAG_DEPENDS_ON = "kdsweep.depends_on"  # comma-separated run keys
TAG_HARDWARE = "kdsweep.hardware"  # on the parent: what the sweep ran on
MLFLOW_RUN_NAME = "mlflow.runName"
MLFLOW_PARENT = "mlflow.parentRunId"

# Artifact paths inside a child run.
ARTIFACT_CONFIG = "config/resolved.yaml"
ARTIFACT_CHECKPOINTS = "checkpoints"  # best.pt
ARTIFACT_PLOTS = "plots"  # learning_curve.png
ARTIFACT_TRACEBACK = "errors/traceback.txt"

# Per-epoch metrics (step = epoch, 1-based) and summary metrics written by the engine.
EPOCH_METRICS = ("train_loss", "train_acc1", "val_loss", "val_acc1", "val_acc5", "lr", "epoch_s", "images_per_s")
SUMMARY_METRICS = ("best_val_acc1", "best_epoch", "final_val_acc1", "train_val_gap", "params", "flops")
