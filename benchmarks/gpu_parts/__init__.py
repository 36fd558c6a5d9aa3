"""The parts of benchmarks/gpu_check.py, one module each; `common` holds what they share.

Each part module has `TITLE`, `CORRECTNESS` (a failure makes the check's exit code non-zero)
and `run(ctx, result)`, which fills its `PartResult` and may raise: the driver records the
error and goes on to the next part.
"""
