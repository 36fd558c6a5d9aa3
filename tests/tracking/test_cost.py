"""What logging one epoch of one run costs, measured on a scratch store (for --estimate)."""

import os

from kdsweep.tracking.cost import log_epoch_seconds


def test_log_cost_is_measured_on_a_scratch_store_that_is_removed(tmp_path):
    seconds = log_epoch_seconds(epochs=2, where=tmp_path)
    assert 0 < seconds < 60
    assert os.listdir(tmp_path) == []  # the scratch store is gone
