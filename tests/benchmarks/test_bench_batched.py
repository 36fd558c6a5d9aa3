"""benchmarks/bench_batched.py (issue 21) at its tiny size: the rows benchmarks/gpu_check.py (part d)
takes from `gpu_check(device, tiny)`, on the CPU: both sides ran and were timed (~3 s)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))  # as the benchmarks run: from benchmarks/

import bench_batched  # noqa: E402


def test_gpu_check_rows_on_the_cpu():
    rows = bench_batched.gpu_check(device="cpu", tiny=True)
    assert [(r["arch"], r["K"], r["device"]) for r in rows] == [("digits_student", 2, "cpu"), ("digits_student", 4, "cpu")]
    for row in rows:
        assert row["loop_ms"] > 0 and row["batched_ms"] > 0 and row["speedup"] > 0
        lo, hi = row["spread"]
        assert lo <= row["speedup"] <= hi
