"""Part d: the batched-students benchmark (benchmarks/bench_batched.py, issue 21), where it exists.

The check calls its `gpu_check(device, tiny)` (returning a list of table rows, or a dict of
figures); without that function, on CUDA it runs the script with its own defaults in a fresh
process under this part's time cap and keeps the end of its output; on the CPU it says so and
runs nothing (its defaults are sized for a benchmark, not for a check).
"""

from __future__ import annotations

import importlib
from typing import Any

from gpu_parts.common import ERROR, MEASURED, REPO, SKIPPED, Context, PartResult, run_child

TITLE = "d. batched students (benchmarks/bench_batched.py, issue 21)"
CORRECTNESS = False
SCRIPT = REPO / "benchmarks" / "bench_batched.py"


def run(ctx: Context, result: PartResult) -> None:
    if not SCRIPT.is_file():
        result.status, result.reason = SKIPPED, "not present: benchmarks/bench_batched.py does not exist"
        return
    module = importlib.import_module("bench_batched")
    check = getattr(module, "gpu_check", None)
    if callable(check):
        figures: Any = check(device=str(ctx.device), tiny=not ctx.cuda)
        rows = figures if isinstance(figures, list) else [figures]
        result.rows.extend(dict(r) for r in rows)
        result.status, result.reason = MEASURED, "bench_batched.gpu_check()"
        return
    if not ctx.cuda:
        result.status = SKIPPED
        result.reason = "bench_batched.py has no gpu_check(device, tiny); its defaults are not run on the CPU"
        return
    cap = ctx.sizes.caps["batched"]
    proc = run_child([str(SCRIPT)], cwd=SCRIPT.parent, timeout=cap)
    result.status = MEASURED if proc.returncode == 0 else ERROR
    result.reason = f"python benchmarks/bench_batched.py (its defaults), exit code {proc.returncode}"
    result.notes.extend((proc.stdout + proc.stderr).strip().splitlines()[-25:])
