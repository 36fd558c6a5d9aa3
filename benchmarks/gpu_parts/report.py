"""The check's header (machine, GPU, driver, versions) and its report.md / report.json."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from gpu_parts.common import Context, PartResult

NOT_GPU = (
    "**No figure in this report is a GPU figure**: no CUDA device was visible, so the check ran "
    "on the CPU at tiny sizes, to prove the script runs; read its timings as nothing more."
)


def header(ctx: Context) -> dict[str, Any]:
    import torchvision

    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}",
        "device": str(ctx.device),
        "sizes": ctx.sizes.name,
        "gpu_figures": ctx.cuda,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda or "none (CPU build)",
        "gpu": torch.cuda.get_device_name(ctx.device) if ctx.cuda else "none visible",
        "driver": _driver() if ctx.cuda else "n/a",
    }
    if ctx.cuda:
        props = torch.cuda.get_device_properties(ctx.device)
        out["gpu"] += f" ({props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs)"
    return out


def _driver() -> str:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return "unknown (no nvidia-smi)"
    try:
        proc = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({type(e).__name__})"
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def write(out: Path, head: dict[str, Any], parts: list[PartResult], wall_s: float, exit_code: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "header": {**head, "wall_s": round(wall_s, 1), "exit_code": exit_code},
        "parts": [p.to_json() for p in parts],
    }
    (out / "report.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(doc["header"], parts))


def markdown(head: dict[str, Any], parts: list[PartResult]) -> str:
    lines = ["# kdsweep GPU check", ""]
    if not head["gpu_figures"]:
        lines += [NOT_GPU, ""]
    lines += [
        f"- {key}: {head[key]}"
        for key in (
            "date",
            "machine",
            "gpu",
            "driver",
            "cuda",
            "torch",
            "torchvision",
            "python",
            "device",
            "sizes",
            "wall_s",
            "exit_code",
        )
    ]
    lines += ["", "| part | status | seconds | why / on what |", "|---|---|---|---|"]
    lines += [
        f"| {p.title} | {p.status}{' (fails the check)' if p.failed else ''} | {p.seconds:.1f} | "
        f"{_cell(p.reason)} |"
        for p in parts
    ]
    for p in parts:
        lines += ["", f"## {p.title}", "", f"{p.status}: {p.reason}".rstrip(": "), ""]
        if p.rows:
            lines += table(p.rows) + [""]
        lines += [f"- {_cell(n)}" for n in p.notes]
    return "\n".join(lines).rstrip() + "\n"


def table(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return out


def _cell(value: Any) -> str:
    return str(value).replace("|", "/").replace("\n", " ")
