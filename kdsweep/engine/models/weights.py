"""Loading checkpoints into models, and freezing parts of a model.

A teacher must fit its architecture exactly (`strict=True`): a wrong file silently half
loaded would distil noise. A student's `init` (002's fine-tune from the Caltech-256 model)
takes only the tensors whose name and shape match, so a new classifier can be trained on
a pre-trained trunk.

Checkpoints are read with `torch.load(path, map_location="cpu", weights_only=True)`: a raw
state dict, or a dict holding it under "model" or "state_dict". The prefixes that
`DataParallel` ("module.") and `torch.compile` ("_orig_mod.") add are stripped. A model
that knows another code base's names for its tensors (the CIFAR EfficientNets read 000 / 001's
original checkpoints) has a `translate_state_dict(state) -> state` method, applied before
matching, so such a file loads as a teacher or `init` checkpoint unchanged (002's
MobileNets-M and the Food-11 course's student rename through `rename_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdsweep.errors import UserError, did_you_mean

_PREFIXES = ("module.", "_orig_mod.")


def rename_all(state: dict[str, torch.Tensor], rename: Callable[[str], str | None]) -> dict[str, torch.Tensor]:
    """`state` with every name renamed, or `state` itself unless `rename` knows every name
    (None: not one of its names), so a file already in kdsweep's names passes as is."""
    renamed = {rename(k): v for k, v in state.items()}
    return renamed if None not in renamed and len(renamed) == len(state) else state


def read_state_dict(path: str | Path, *, where: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; train the model first or fix the path", where=where)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds on a damaged file; all are the file's fault
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"checkpoint {path} cannot be read ({reason[:200]}); is it a torch.save file?",
                        where=where) from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"checkpoint {path} holds no state dict (expected name -> tensor, or one under "
                        f"'model' / 'state_dict')", where=where)
    return {_strip(k): v for k, v in obj.items()}


def _strip(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def _count(items: list, one: str, many: str) -> str:
    return f"{len(items)} {one if len(items) == 1 else many}"


def load_weights(model: nn.Module, path: str | Path, *, strict: bool, where: str) -> list[str]:
    """Load `path` into `model`; returns the names of the tensors loaded.

    strict: every tensor of the model must be in the file with its shape, and nothing more.
    Otherwise: load what matches by name and shape; a file that matches nothing is an error.
    """
    loaded = read_state_dict(path, where=where)
    translate = getattr(model, "translate_state_dict", None)
    if callable(translate):
        loaded = translate(loaded)
    own = model.state_dict()
    missing = [k for k in own if k not in loaded]
    unexpected = [k for k in loaded if k not in own]
    mismatched = [k for k in own if k in loaded and loaded[k].shape != own[k].shape]
    if strict and (missing or unexpected or mismatched):
        parts = []
        if mismatched:
            k = mismatched[0]
            parts.append(f"{_count(mismatched, 'shape mismatch', 'shape mismatches')} (first {k}: file "
                         f"{tuple(loaded[k].shape)} vs model {tuple(own[k].shape)})")
        if missing:
            parts.append(f"{_count(missing, 'missing key', 'missing keys')} (first {missing[0]})")
        if unexpected:
            parts.append(f"{_count(unexpected, 'unexpected key', 'unexpected keys')} (first {unexpected[0]})")
        raise UserError(f"checkpoint {path} does not fit the architecture: " + "; ".join(parts)
                        + "; check arch / num_classes / cifar / head", where=where)
    take = {k: v for k, v in loaded.items() if k in own and v.shape == own[k].shape}
    if not take:
        raise UserError(f"checkpoint {path} has no tensor matching the model by name and shape "
                        f"({len(loaded)} in file, {len(own)} in model); is it the right architecture?",
                        where=where)
    model.load_state_dict(take, strict=False)
    return list(take)


def _check_names(model: nn.Module, names: Iterable[str], where: str) -> list[nn.Module]:
    known = dict(model.named_modules())
    out = []
    for name in names:
        if name not in known or name == "":
            hint = did_you_mean(name, [k for k in known if k and k.count(".") < 2])
            raise UserError(f"no module named {name!r} to freeze; {hint}", where=where)
        out.append(known[name])
    return out


def _freeze_entry(entry: Any, where: str) -> tuple[str, bool]:
    """A module name (BN statistics frozen too), or {module: name, bn: eval | train}.

    `bn: train` is 002's fine-tune: only `requires_grad_(False)`, so the frozen backbone's
    BatchNorm layers still update their running statistics in train mode."""
    if isinstance(entry, str):
        return entry, True
    if isinstance(entry, dict) and isinstance(entry.get("module"), str) and set(entry) <= {"module", "bn"} \
            and entry.get("bn", "eval") in ("eval", "train"):
        return entry["module"], entry.get("bn", "eval") == "eval"
    raise UserError(f"expected a module name or {{module: <name>, bn: eval | train}}, got {entry!r}", where=where)


def freeze(model: nn.Module, names: Iterable[Any], *, where: str = "student.freeze") -> None:
    """Stop training the named modules: no gradients, and (via apply_freeze_mode) no BN
    updates, unless an entry says `bn: train`."""
    entries = [_freeze_entry(e, where) for e in names]
    for module in _check_names(model, [name for name, _ in entries], where):
        for p in module.parameters():
            p.requires_grad_(False)
    model._kdsweep_frozen = tuple(name for name, bn_eval in entries if bn_eval)


def apply_freeze_mode(model: nn.Module, names: Iterable[str] | None = None) -> nn.Module:
    """Put frozen modules back in eval mode; the trainer calls this after every `model.train()`.

    `requires_grad=False` alone still lets BatchNorm update its running statistics in train
    mode, which would change a "frozen" backbone. `names` None: those given to `freeze`.
    """
    if names is None:
        names = getattr(model, "_kdsweep_frozen", ())
    for name in names:
        model.get_submodule(name).eval()
    return model
