"""Names shared by everything that writes or reads MLflow: tags, metrics, artifact paths.

Tracking writes them, report and status read them; keeping them in one place is what lets
`kdsweep table` find the runs `kdsweep run` made.
"""

from __future__ import annotations

import json
from typing import Any

from kdsweep import metric_names
from kdsweep.status import RunStatus

TAG_PREFIX = "kdsweep."
TAG_SWEEP = "kdsweep.sweep"  # sweep name, on the parent and every child
TAG_ROLE = "kdsweep.role"  # "sweep" on the parent run, "run" on children
TAG_RUN_KEY = "kdsweep.run_key"
TAG_STAGE = "kdsweep.stage"  # stage name, or "" for sweep points
TAG_GROUP = "kdsweep.group"
TAG_AXIS_PREFIX = "kdsweep.axis."  # one tag per grid axis: kdsweep.axis.loss.kd.T = JSON value
TAG_POINT = "kdsweep.point"  # the whole point as JSON
TAG_STATUS = "kdsweep.status"  # a kdsweep.status.RunStatus value
TAG_REASON = "kdsweep.reason"  # one-line reason for FAILED / NOT_RUN / early stop
TAG_DEPENDS_ON = "kdsweep.depends_on"  # comma-separated run keys
TAG_HARDWARE = "kdsweep.hardware"  # on the parent: what the sweep ran on
TAG_EPOCH = "kdsweep.epoch"  # last epoch logged on a child (status reads it without metric histories)
TAG_ACTIVE = "kdsweep.active"  # on the parent while a `kdsweep run` holds the sweep: host:pid:heartbeat_unix_s
TAG_TRIAL = "kdsweep.trial"  # a search trial's number (Optuna's), on each of its runs
TAG_TRIAL_STATE = "kdsweep.trial_state"  # the trial's Optuna state: RUNNING | COMPLETE | PRUNED | FAIL
TAG_STUDY = "kdsweep.study"  # on the parent of a search sweep: the Optuna storage that holds its study
TAG_ACTIVE_SINCE = "kdsweep.active_since"  # on the parent: when that holder took the sweep (ISO 8601, UTC)
# MLflow 3's UI opens an experiment by its kind; without this tag a kdsweep experiment opens in
# the GenAI view (traces, an assistant panel) instead of the runs table and their charts.
MLFLOW_EXPERIMENT_KIND = "mlflow.experimentKind"
MLFLOW_SHARED_VIEW_PREFIX = "mlflow.sharedViewState."  # + a share key: a UI view stored on the experiment
EXPERIMENT_KIND_TRAINING = "custom_model_development"  # the UI's "Model training"
TAG_STARTED = "kdsweep.started"  # on a child: when its job started it (ISO 8601, UTC), waiting excluded
TAG_ENDED = "kdsweep.ended"  # on a child: when its training ended (ISO 8601, UTC)
TAG_DATA = "kdsweep.data"  # on a child: {split: digest} of the data it trained on, JSON (engine/data/fingerprint.py)
TAG_DATA_ACCEPTED = "kdsweep.data_accepted"  # on a child: the data it trained on before --accept-data took the new
TAG_WARNINGS = "kdsweep.warnings"  # on a child: the warnings its job raised, one a line (execute/notices.py)
TAG_GENERATION = "kdsweep.generation"  # on the parent: +1 at every take of the lock; jobs of older ones are fenced
MLFLOW_NOTE = "mlflow.note.content"  # the MLflow UI's description box (the sweep's description)
MLFLOW_RUN_NAME = "mlflow.runName"
MLFLOW_PARENT = "mlflow.parentRunId"

ROLE_SWEEP = "sweep"
ROLE_RUN = "run"

# kdsweep.status values: kdsweep.status.RunStatus (its `mlflow_status` says how MLflow shows each).
STATUSES = tuple(RunStatus)

# Params on the parent run.
PARAM_SWEEP_FILE = "sweep_file"
PARAM_DESCRIPTION = "description"

# Artifact paths inside a child run.
ARTIFACT_CONFIG = "config/resolved.yaml"
ARTIFACT_CHECKPOINTS = "checkpoints"  # best.pt
ARTIFACT_PLOTS = "plots"  # learning_curve.png
ARTIFACT_TRACEBACK = "errors/traceback.txt"

# Per-epoch and summary metrics: the engine names them (re-exported for readers of the store).
EPOCH_METRICS, SUMMARY_METRICS = metric_names.EPOCH_METRICS, metric_names.SUMMARY_METRICS


# Metric keys MLflow's system-metrics monitor writes (its steps count samples, not epochs).
SYSTEM_METRIC_PREFIX = "system/"


def json_value(value: Any) -> str:
    """How an axis value or point is written to a tag: JSON, so readers get back numbers as numbers
    and `null` for a removed key (`loss.kd: null`), not a string they must guess at."""
    return json.dumps(value, default=str)


def param_value(value: Any) -> str:
    """How a config leaf is written as an MLflow param: strings as they are, everything else as JSON
    (`true`, `0.05`, `null`, `[1, 2]`), so `json.loads` reads any non-string param back exactly."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
