"""spec/fuse.py: which students of a fused group train as one batched model, torch-free."""

from __future__ import annotations

import pytest

from kdsweep.spec.fuse import AUTO_BATCHED_ON, choose, planned
from kdsweep.spec.resolve import resolve_run_config


def _cfg(fuse="auto", loss=None, **train):
    return resolve_run_config({"student": {"arch": "digits_student"}, "loss": loss or {"ce": {}},
                               "teacher": {"arch": "digits_teacher", "checkpoint": "t.pt"},
                               "train": {"fuse": fuse, **train}})


KD = {"kd": {"T": 4.0}}
HINT = {"kd": {}, "hint": {"layers": [{"student": "features.2", "teacher": "features.2"}]}}


def test_auto_is_the_loop_until_the_block_is_measured_faster_on_a_device():
    group = [_cfg(), _cfg(loss=KD)]
    assert AUTO_BATCHED_ON == frozenset()  # no GPU report yet (benchmarks/gpu/): batched only when asked
    assert choose(group, "cuda") == [False, False]
    assert choose(group, "cpu") == [False, False]
    assert choose([_cfg("batched"), _cfg("batched", loss=KD)], "cuda") == [True, True]
    assert choose([_cfg("batched"), _cfg("batched", loss=KD)], "cpu") == [True, True]
    assert choose([_cfg("loop"), _cfg("loop", loss=KD)], "cuda") == [False, False]


def test_runs_with_feature_terms_stay_in_the_loop_and_a_block_needs_two():
    assert choose([_cfg("batched"), _cfg("batched", loss=KD), _cfg("batched", loss=HINT)], "cpu") == [
        True, True, False]
    assert choose([_cfg("batched"), _cfg("batched", loss=HINT)], "cpu") == [False, False]
    assert choose([_cfg("batched")], "cuda") == [False]


@pytest.mark.parametrize("train, device", [({"compile": True}, "cuda"), ({"amp": "fp16"}, "cuda")])
def test_shared_settings_that_rule_the_block_out(train, device):
    assert choose([_cfg("batched", **train), _cfg("batched", **train)], device) == [False, False]
    assert choose([_cfg("batched", amp="fp16")] * 2, "cpu") == [True, True]  # AMP is ignored on the CPU


def test_what_the_plan_shows():
    assert planned([_cfg()]) == ["-"]
    assert planned([_cfg(), _cfg(loss=KD), _cfg(loss=HINT)]) == [
        "loop", "loop", "loop (loss.hint)"]
    assert planned([_cfg("batched"), _cfg("batched", loss=HINT)]) == ["loop (no second student to batch with)", "loop (loss.hint)"]
    assert planned([_cfg("batched"), _cfg("batched")]) == ["batched", "batched"]
    assert planned([_cfg("loop"), _cfg("loop")]) == ["loop", "loop"]

