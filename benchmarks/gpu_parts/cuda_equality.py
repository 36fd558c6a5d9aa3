"""Part b: the test suite's CPU-vs-CUDA check of one data pipeline, run where CUDA is.

The test (tests/engine/data/test_data_tensor_source.py) builds the same digits pipeline on
the CPU and on the device and checks that every batch of an epoch matches (indices and labels
equal, images within 1e-5); pytest skips it without CUDA. It is run here as it is, by pytest
in a fresh process (pytest is on the device machine; where it is not, the part is skipped).
"""

from __future__ import annotations

from gpu_parts.common import FAILED, PASSED, REPO, SKIPPED, Context, PartResult, importable, run_child

TITLE = "b. CPU-vs-CUDA equality of one data pipeline's batches (the test skipped without CUDA)"
CORRECTNESS = True
TEST = "tests/engine/data/test_data_tensor_source.py::test_cuda_batches_live_on_the_device_and_match_the_cpu"


def run(ctx: Context, result: PartResult) -> None:
    missing = importable("pytest")
    if missing:
        result.status, result.reason = SKIPPED, f"pytest does not import ({missing})"
        return
    cap = ctx.sizes.caps["cuda_equality"]
    proc = run_child(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", TEST], cwd=REPO, timeout=cap)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else "(no output)"
    result.rows.append({"test": TEST.split("::")[1], "pytest": summary, "exit code": proc.returncode})
    if proc.returncode != 0:
        result.status, result.reason = FAILED, summary
        result.notes.extend(lines[-15:])
    elif "skipped" in summary:
        result.status = SKIPPED
        result.reason = (
            "pytest skipped it: no CUDA device" if not ctx.cuda else f"pytest skipped it: {summary}"
        )
    else:
        result.status, result.reason = PASSED, summary
