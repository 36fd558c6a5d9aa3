"""The GPU check: one command that proves and measures every CUDA path of kdsweep, in at most 8 minutes.

    PYTHONPATH=. python benchmarks/gpu_check.py OUT_DIR [--device auto|cpu|cuda] [--parts a b ...]
    make gpu-check [OUT=benchmarks/gpu/<date>]

Runs from a plain checkout on the machine's own Python (torch, torchvision, numpy, pyyaml;
pytest for part b; Ray and MLflow only for part e), and writes OUT_DIR/report.md and
OUT_DIR/report.json: machine, GPU, driver, CUDA and versions, then each part's status and table.

  a  engine         every shipped sweep's groups trained on the device, AMP off and on, host syncs counted
  b  cuda_equality  the test suite's CPU-vs-CUDA batch equality (skipped by pytest without CUDA)
  c  throughput     images/s of one KD student, fused groups of K = 4 and 8, the teacher alone; peak memory
  c2 data_path      kdsweep's tensor data path on the device vs a PIL DataLoader
  d  batched        benchmarks/bench_batched.py (issue 21), where it exists
  e  scheduling     `kdsweep run` with Ray placement and --inline into MLflow, where both import

Every part has a time cap (gpu_parts/common.py, GPU and TINY sizes) inside the 8-minute budget,
and part a runs last with what the others left; a part that fails or runs out of time records
why and the check goes on. The exit code is 1
only when a correctness part (a, b, e) failed. Without a GPU the same parts run on the CPU at
tiny sizes, and the report's first lines say that no figure in it is a GPU figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

START = time.monotonic()
sys.path.insert(
    1, str(Path(__file__).resolve().parents[1])
)  # kdsweep from this checkout, also without PYTHONPATH

import torch  # noqa: E402 - after the path: the parts import kdsweep
from gpu_parts import batched, cuda_equality, data_path, engine_sweeps, report, scheduling, throughput  # noqa: E402
from gpu_parts.common import ERROR, GPU, TIMED_OUT, TINY, Context, PartResult, PartTimeout, time_cap  # noqa: E402

PARTS = {
    "engine": engine_sweeps,
    "cuda_equality": cuda_equality,
    "throughput": throughput,
    "data_path": data_path,
    "batched": batched,
    "scheduling": scheduling,
}  # the report's order
# The order they run in: the engine part last, since it alone has more to do than its share (every
# sweep's groups) and takes whatever the others left of the budget; and a kernel fault there that
# breaks the CUDA context cannot spoil the parts before it.
RUN_ORDER = ["cuda_equality", "throughput", "data_path", "batched", "scheduling", "engine"]
BUDGET_S = 480  # the 8 minutes, start-up included


def run_part(name: str, ctx: Context) -> PartResult:
    module = PARTS[name]
    result = PartResult(name, module.TITLE, module.CORRECTNESS)
    left = BUDGET_S - (time.monotonic() - START)
    cap = min(ctx.sizes.caps[name], left)
    t0 = time.monotonic()
    print(f"gpu_check: {module.TITLE} (cap {cap:.0f} s)", flush=True)
    try:
        if cap < 1:
            raise PartTimeout("no time left in the check's budget")
        with time_cap(cap):
            module.run(ctx, result)
    except PartTimeout as e:
        result.status, result.reason = TIMED_OUT, f"{e}; {result.reason}".rstrip("; ")
    except Exception as e:  # noqa: BLE001 - a broken part is recorded; the next one still runs
        result.status, result.reason = ERROR, f"{type(e).__name__}: {e}".splitlines()[0][:300]
        result.notes.extend(traceback.format_exc().strip().splitlines()[-12:])
    result.seconds = time.monotonic() - t0
    print(f"gpu_check:   {result.status} in {result.seconds:.1f} s: {result.reason}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for report.md and report.json (created)")
    ap.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="auto: CUDA when visible (GPU sizes), else the CPU (tiny sizes)",
    )
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="default: all")
    ap.add_argument(
        "--sweeps",
        nargs="+",
        default=[],
        help="part a: only these sweep files or folders under sweeps/ (default: every sweep)",
    )
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda: no CUDA device is visible")
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda:0" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(min(2, torch.get_num_threads()))  # tiny sizes: more threads only contend
    else:  # as a job does before its first CUDA call (cuBLAS reads its workspace setting once)
        from kdsweep.engine.runtime import configure

        configure({}, device)
    with tempfile.TemporaryDirectory(prefix="kdsweep-gpu-check-") as tmp:
        ctx = Context(device, GPU if cuda else TINY, Path(tmp), args.out, tuple(args.sweeps))
        head = report.header(ctx)
        print(f"gpu_check: {head['gpu']} / torch {head['torch']} / {ctx.sizes.name} sizes", flush=True)
        done = {name: run_part(name, ctx) for name in RUN_ORDER if name in args.parts}
    results = [done[name] for name in PARTS if name in done]
    code = 1 if any(r.failed for r in results) else 0
    report.write(args.out, head, results, time.monotonic() - START, code)
    print(f"gpu_check: report in {args.out / 'report.md'}; exit code {code}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
