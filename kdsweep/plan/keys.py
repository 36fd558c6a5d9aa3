"""Run keys: a stable hash of what a run trains.

Same key, same experiment: the key ignores key order, int-vs-float spelling (`T: 3` and
`T: 3.0`) and the fields that do not change the result (device, workers, paths to data and
caches), so a run is found as finished however the sweep file was written or where it runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from kdsweep.spec.defaults import KEYED_WHEN_SET, NON_RESULT_KEYS
from kdsweep.spec.dotted import get_path, set_path

KEY_LENGTH = 16
SHORT_LENGTH = 8


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def result_config(config: dict) -> dict:
    """The config without the keys that do not change what is trained."""
    out = copy.deepcopy(config)
    for path in NON_RESULT_KEYS:
        set_path(out, path, None)
    for path in KEYED_WHEN_SET:
        parent, _, leaf = path.rpartition(".")
        section = get_path(out, parent) if parent else out
        if isinstance(section, dict) and not section.get(leaf):
            section.pop(leaf, None)
    return out


def digest(value: Any, length: int = KEY_LENGTH) -> str:
    text = json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_key(config: dict) -> str:
    return digest(result_config(config))


def short_key(key: str) -> str:
    return key[:SHORT_LENGTH]
