"""A run's two files in its workdir: `last.pt` to resume, `best.pt` to keep.

`last.pt` holds everything a killed run needs to go on exactly where it stopped (model,
optimiser, schedule, loss scaler, loss-set parameters, its RNG stream, epoch, best so far,
metric history); `best.pt` holds only the model's state dict at the best val top-1, the
format a teacher stage hands on and `models.load_weights` reads.

Both are written to a temporary file and moved into place with `os.replace`, so a process
killed mid-write leaves the previous file intact. Both hold only tensors, numbers, strings,
lists and dicts, so they load with `torch.load(weights_only=True)` (docs/design.md, "Decisions").
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from kdsweep.errors import UserError

LAST = "last.pt"
BEST = "best.pt"
FORMAT = 1


def save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save to `path` via a sibling temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_last(workdir: str | Path) -> dict[str, Any] | None:
    """The resume state in `workdir`, or None when the run has not finished an epoch yet.

    An unreadable file is a UserError (delete it to start the run over), never silently
    ignored: starting over would quietly throw away a long run.
    """
    path = Path(workdir) / LAST
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise UserError(f"cannot read {path} ({first}); delete it to start the run over", where="resume") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise UserError(f"{path} is not a kdsweep resume checkpoint (format {FORMAT}); delete it to start over",
                        where="resume")
    return state


def save_last(workdir: str | Path, state: dict[str, Any]) -> Path:
    return save_atomic({"format": FORMAT, **state}, Path(workdir) / LAST)


def save_best(workdir: str | Path, model_state: dict[str, torch.Tensor]) -> Path:
    return save_atomic(model_state, Path(workdir) / BEST)


def cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a state dict: checkpoints load on any device, and the copy
    does not change when training goes on."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
