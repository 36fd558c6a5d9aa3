"""MLflow's limits on keys, values and batch sizes, and writing params / tags within them.

Every writer of a run (the driver's tracker, a worker's logger, `mark_run`) shortens a long
value visibly and batches its writes here, so one oversized config leaf never fails a batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import yaml

from kdsweep.spec.dotted import flatten
from kdsweep.tracking import names
from kdsweep.tracking.store import with_retry

if TYPE_CHECKING:
    from mlflow import MlflowClient

# MLflow's limits (mlflow.utils.validation): checked here so a long config value is shortened
# visibly instead of failing a whole batch.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
BATCH = 100  # params or tags per log_batch call
TRUNCATED = "...[truncated]"
_BAD_KEY_CHARS = re.compile(r"[^\w.\- :]")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def safe_key(key: str) -> str:
    """A param or tag key MLflow accepts: letters, digits, `_ - . : space`; at most 250 characters."""
    return _BAD_KEY_CHARS.sub("_", key)[:MAX_KEY]


def config_params(config: dict) -> dict[str, str]:
    """The flattened resolved config as MLflow params (dotted keys, `names.param_value` values)."""
    return {safe_key(k): clip(names.param_value(v), MAX_PARAM_VALUE) for k, v in flatten(config).items()}


def config_yaml(config: dict) -> str:
    try:
        return yaml.safe_dump(config, sort_keys=False)
    except yaml.YAMLError:  # a tuple or another non-YAML leaf: its JSON form is what a reader needs
        return yaml.safe_dump(json.loads(json.dumps(config, default=str)), sort_keys=False)


def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


def log_params_tags(client: MlflowClient, run_id: str, params: dict[str, str], tags: dict[str, str]) -> None:
    """Params and tags in batches of 100 (MLflow's per-request limit), each batch retried on a busy store."""
    from mlflow.entities import Param, RunTag

    ps = [Param(k, v) for k, v in params.items()]
    ts = [RunTag(k, clip(str(v), MAX_TAG_VALUE)) for k, v in tags.items()]
    for chunk in _chunks(ps):
        with_retry(client.log_batch, run_id, params=chunk)
    for chunk in _chunks(ts):
        with_retry(client.log_batch, run_id, tags=chunk)
