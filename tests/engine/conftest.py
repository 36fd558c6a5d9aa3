"""Shared pieces for the engine tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Small tensors on two cores shared with other test processes: one intra-op thread avoids
    oversubscription stalls (and what a test measures is then the work, not the contention)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
