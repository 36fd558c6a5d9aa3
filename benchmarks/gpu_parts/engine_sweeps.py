"""Part a: every shipped sweep's groups trained by the engine on the device, AMP off and on.

Each sweep under sweeps/ is planned as shipped (kdsweep.plan: torch-free, so a broken sweep
fails here as it would for a user); each fused group then trains one short epoch through
`train_group`, the executor's own entry point, on `fake` data at the real data set's class
count and input size, with random teacher / init weights (`engine.timing.short_configs`, what
`plan --estimate` trains). channels_last, compile and the rest are as the sweep sets them. AMP
"on" is the sweep's own mode, or bf16 where the sweep trains in fp32; on the CPU the engine
ignores AMP, so only "off" runs there.

Groups that would run the same code (their configs equal once numbers, paths and stage keys
are blanked: T, lr, seed or widths change no code path) train once; the others point to it.
Host syncs are counted on CUDA (syncs.py); the house rule is none inside an epoch.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from gpu_parts.common import FAILED, PASSED, REPO, Context, PartResult
from gpu_parts.syncs import EPOCH_END, INSIDE, OUTSIDE, count_host_syncs

TITLE = "a. the engine on the device: every shipped sweep's groups, AMP off and on"
CORRECTNESS = True
LABEL_CHARS = 60  # a group is named by its first run; some names spell out whole transform lists
BLANKED = ("root", "checkpoint", "key", "run")  # paths and stage identities: no code path depends on them


def sweep_files() -> list[Path]:
    """The shipped sweeps: files under sweeps/ with a `name` (required of a sweep; the files
    they extend have none), and any file that does not parse (planning it says why)."""
    out = []
    for path in sorted((REPO / "sweeps").rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            data = {"name": None}
        if isinstance(data, dict) and "name" in data:
            out.append(path)
    return out


def shape_key(configs: list[dict[str, Any]]) -> str:
    """What decides the code a group runs: its configs with numbers, paths and stage keys blanked."""

    def blank(value: Any, key: str = "") -> Any:
        if key in BLANKED:
            return "-"
        if isinstance(value, dict):
            return {k: blank(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [blank(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return "#"
        return value

    return json.dumps(sorted({json.dumps(blank(c), sort_keys=True, default=str) for c in configs}))


def on_fake_data(configs: list[dict[str, Any]], ctx: Context, root: Path) -> list[dict[str, Any]]:
    """The group's configs for one short epoch on `fake` data at the real data's classes and size."""
    from kdsweep.engine.data.build import dataset_info
    from kdsweep.engine.data.fake import CLASSES
    from kdsweep.engine.timing import short_configs

    sizes = ctx.sizes
    faked = []
    for cfg in configs:
        cfg = copy.deepcopy(cfg)
        data = cfg["data"]
        info = dataset_info(data["name"], None, data.get("num_classes"))
        size = data.get("input_size") or info["input_size"]
        if sizes.engine_max_input:
            size = min(size, sizes.engine_max_input)
        classes = info["num_classes"] or CLASSES  # None: only the data set's files know its classes
        cfg["data"] = {
            **data,
            "name": "fake",
            "root": None,
            "num_classes": classes,
            "input_size": size,
            "batch_size": sizes.engine_batch or data["batch_size"],
            "val_batch_size": None,
            "workers": 0,
        }
        faked.append(cfg)
    short = short_configs(faked, root, ctx.sizes.engine_steps, n_train=10**9, n_val=10**9)
    for cfg in short:
        cfg["epochs"] = 1  # one epoch runs every per-step path once
    return short


def modes(configs: list[dict[str, Any]], ctx: Context) -> list[tuple[str, str]]:
    """(AMP, train.fuse) pairs to train: AMP off and on; on CUDA also the batched-students block
    (spec/fuse.py) where two runs of the group could join it, since `auto` does not pick it yet."""
    from kdsweep.spec.fuse import choose

    own = str(configs[0]["train"].get("amp") or "off")
    if not ctx.cuda:
        return [("off", "loop")]
    out = [("off", "loop"), (own if own != "off" else "bf16", "loop")]
    asked = [{**c, "train": {**c["train"], "fuse": "batched"}} for c in configs]
    if any(choose(asked, "cuda")):
        out.append(("off", "batched"))
    return out


def describe(configs: list[dict[str, Any]]) -> dict[str, str]:
    first = configs[0]
    teacher = (first.get("teacher") or {}).get("arch")
    models = f"{teacher} -> {first['student']['arch']}" if teacher else first["student"]["arch"]
    terms = sorted(
        {t for c in configs for t, v in c["loss"].items() if v is not None and t != "teacher_mode"}
    )
    return {"models": models, "losses": "+".join(terms)}


def train_once(configs: list[dict[str, Any]], amp: str, ctx: Context, folder: Path,
               fuse: str = "loop") -> dict[str, Any]:
    from kdsweep.engine import train_group
    from kdsweep.engine.logger import NullLogger

    folder.mkdir(parents=True, exist_ok=True)
    short = on_fake_data(configs, ctx, folder)
    for cfg in short:
        cfg["train"]["amp"] = amp
        cfg["train"]["fuse"] = fuse
    data = short[0]["data"]
    shape = f"{data['num_classes']} classes, {data['input_size']} px, batch {data['batch_size']}"
    t0 = time.perf_counter()
    with count_host_syncs(ctx.device) as syncs:
        results = train_group(
            short,
            workdirs=[folder / f"run{i}" for i in range(len(short))],
            loggers=[NullLogger() for _ in short],
            device=str(ctx.device),
        )
    row: dict[str, Any] = {"data": shape, "seconds": round(time.perf_counter() - t0, 2)}
    bad = sorted({f"{r.status}: {r.reason}" for r in results if r.status != "FINISHED"})
    row["status"] = PASSED if not bad else f"{FAILED}: {'; '.join(bad)[:300]}"
    if syncs is None:
        row.update({"syncs inside": "n/a", "syncs epoch end": "n/a", "syncs outside": "n/a", "where": ""})
    else:
        row.update(
            {
                "syncs inside": syncs.total(INSIDE),
                "syncs epoch end": syncs.total(EPOCH_END),
                "syncs outside": syncs.total(OUTSIDE),
                "where": syncs.top(INSIDE),
            }
        )
    return row


def run(ctx: Context, result: PartResult) -> None:
    jobs = plan_rows(ctx, result)
    if ctx.cuda:
        result.notes.append(
            "Host syncs counted under torch.cuda.set_sync_debug_mode('warn'); the rule is 0 "
            "inside the epoch (training and val steps); 'epoch end' is the engine's one read "
            "of its meters and divergence watch per epoch."
        )
    else:
        result.notes.append(
            "On the CPU: AMP is ignored by the engine (only 'off' runs) and host syncs do not "
            "apply (no device queue): not counted."
        )
    row: dict[str, Any] = {}
    try:
        for row, configs in jobs:
            row["status"] = "cut by the time cap"  # until it ends, in case the cap ends it
            try:
                row.update(train_once(configs, row["amp"], ctx, ctx.work / "engine" / str(row["#"]), row["fuse"]))
            except Exception as e:  # noqa: BLE001 - one group's failure is a row; the others still run
                row["status"] = f"{FAILED}: {type(e).__name__}: {e}".splitlines()[0][:300]
            if ctx.cuda:
                torch.cuda.empty_cache()
    finally:
        _summarise(ctx, result)


def plan_rows(ctx: Context, result: PartResult) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """A row per (sweep, group, AMP mode) in sweep order, and the trainings to run, in the order
    that reaches every sweep soonest (each sweep's first new code path, then the rest): a part
    cut by its time cap has then tried something of every sweep."""
    from kdsweep.plan import plan_sweep

    seen: dict[tuple[str, str, str], int] = {}  # (shape, amp, fuse) -> the row that trains it
    jobs: list[tuple[int, int, dict[str, Any], list[dict[str, Any]]]] = []
    for path in sweep_files():
        rel = path.relative_to(REPO / "sweeps").as_posix()
        if ctx.sweeps and not any(
            rel == name or rel.startswith(name.rstrip("/") + "/") for name in ctx.sweeps
        ):
            continue
        new_groups = 0  # this sweep's groups with a new code path so far: their rank in the training order
        try:
            groups = plan_sweep(path).groups.values()
        except Exception as e:  # noqa: BLE001 - a shipped sweep that does not plan is a failed row
            why = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            result.rows.append(
                {"#": len(result.rows) + 1, "sweep": rel, "status": f"{FAILED}: cannot plan: {why}"}
            )
            continue
        for runs in groups:
            configs = [r.config for r in runs]
            label = f"stage {runs[0].stage}" if runs[0].stage else runs[0].name
            label = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 3] + "..."
            label += f" (+{len(runs) - 1})" if len(runs) > 1 else ""
            fresh = False
            for amp, fuse in modes(configs, ctx):
                row = {
                    "#": len(result.rows) + 1,
                    "sweep": rel,
                    "group": label,
                    **describe(configs),
                    "amp": amp,
                    "fuse": fuse,
                    "data": "",
                    "status": "not reached",
                }
                result.rows.append(row)
                key = (shape_key(configs), amp, fuse)
                if key in seen:
                    row["status"] = f"same code as #{seen[key]}"
                    continue
                seen[key] = row["#"]
                jobs.append((new_groups, row["#"], row, configs))
                fresh = True
            new_groups += fresh
    return [(row, configs) for _, _, row, configs in sorted(jobs, key=lambda j: j[:2])]


def _summarise(ctx: Context, result: PartResult) -> None:
    trained = [r for r in result.rows if r["status"] == PASSED or r["status"].startswith(FAILED)]
    failed = [r for r in trained if r["status"] != PASSED]
    result.status = FAILED if failed else PASSED
    groups = len({(r["sweep"], r.get("group")) for r in result.rows})
    result.reason = (
        f"{len(trained)} trainings ({len(failed)} failed) cover {groups} groups of "
        f"{len({r['sweep'] for r in result.rows})} sweeps"
    )
    if ctx.cuda:
        inside = sum(r.get("syncs inside", 0) for r in trained)
        result.notes.insert(0, f"Host syncs inside epochs, all trainings together: {inside} (rule: 0).")
