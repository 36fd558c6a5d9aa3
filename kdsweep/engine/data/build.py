"""`build_data`: a resolved `data` config -> train and val batch sources on a device.

Three paths, chosen by `spec.data_path.choose` from the data set, `data.on_device` and the device:
- tensor: the data set is one uint8 NCHW tensor (digits, cifar100, fake), augmented in
  batches on the device (`batched`);
- decoded: file data sets decoded once into a cache on disk that every job of the machine
  maps (`decode_cache`), then as tensor;
- workers: image files through a DataLoader with PIL + torchvision v2 (`loader_source`), per
  sample up to the batched tail that `worker_split` leaves to the device.
Limits, transform lists, copies and size checks are handled here, the same for every
data set, so a data set module only reads its files and names its defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from kdsweep.engine.data.batched import compile_pipeline
from kdsweep.engine.data.bundle import DataBundle
from kdsweep.engine.data.decode import decoded_bytes
from kdsweep.engine.data.decode_cache import decode, default_dir
from kdsweep.engine.data.fake import shaped_like
from kdsweep.engine.data.loader_source import FileDataset, LoaderSource
from kdsweep.engine.data.raw import DatasetDef, FileData, Specs, TensorData
from kdsweep.engine.data.registry import DATASETS
from kdsweep.engine.data.seeding import DATA_SEED, generator
from kdsweep.engine.data.tensor_source import TensorSource
from kdsweep.engine.data.worker_split import worker_copies
from kdsweep.errors import UserError
from kdsweep.spec.data_defaults import fill_transforms, resize_size
from kdsweep.spec.data_path import DECODED, WORKERS, choose, on_device_value
from kdsweep.spec.defaults import RUN_DEFAULTS

DEVICE_SHARE = 0.25  # on_device "auto": at most this share of the free device memory


def _positive_int(cfg: dict[str, Any], key: str, *, optional: bool = False, minimum: int = 1) -> None:
    value = cfg[key]
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"expected an integer >= {minimum}{' or null' if optional else ''}, got {value!r}",
                        where=f"data.{key}")


def resolve_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The data section with its defaults filled in (the data set's transforms included, as the plan
    fills them) and its scalar keys checked."""
    c = {**RUN_DEFAULTS["data"], **(cfg or {})}
    if not isinstance(c["name"], str):
        raise UserError(f"expected a data set name, got {c['name']!r}", where="data.name")
    entry = DATASETS.get(c["name"], where="data.name")
    _positive_int(c, "batch_size")
    _positive_int(c, "val_batch_size", optional=True)
    _positive_int(c, "workers", minimum=0)
    for key in ("limit", "val_limit", "input_size"):
        _positive_int(c, key, optional=True)
    _positive_int(c, "num_classes", optional=True, minimum=2)
    c["on_device"] = on_device_value(c["on_device"])
    if c["cache_dir"] is not None and c["cache_dir"] is not False and not isinstance(c["cache_dir"], str):
        raise UserError(f"expected a directory, null or false, got {c['cache_dir']!r}", where="data.cache_dir")
    copies = c["copies"]
    if copies is not None:
        if not isinstance(copies, list) or not copies or not all(isinstance(s, list) for s in copies):
            raise UserError(f"expected a non-empty list of transform lists, got {copies!r}",
                            where="data.copies")
        if c["train_transforms"] is not None:
            raise UserError("set data.copies or data.train_transforms, not both", where="data.copies")
    fill_transforms(c, (entry.input_size, entry.transforms))
    return c


def _subset(n: int, limit: int | None, epoch: int) -> torch.Tensor | None:
    """The first `limit` of a permutation fixed by the data seed (same for every run), sorted."""
    if limit is None or limit >= n:
        return None
    return torch.randperm(n, generator=generator(DATA_SEED, epoch, "subset"))[:limit].sort().values


def apply_limits(raw: TensorData | FileData, limit: int | None, val_limit: int | None) -> None:
    if isinstance(raw, TensorData):
        train, val = _subset(len(raw.train_y), limit, 0), _subset(len(raw.val_y), val_limit, 1)
        if train is not None:
            raw.train_x, raw.train_y = raw.train_x[train], raw.train_y[train]
        if val is not None:
            raw.val_x, raw.val_y = raw.val_x[val], raw.val_y[val]
    else:
        train, val = _subset(len(raw.train), limit, 0), _subset(len(raw.val), val_limit, 1)
        if train is not None:
            raw.train = [raw.train[i] for i in train.tolist()]
        if val is not None:
            raw.val = [raw.val[i] for i in val.tolist()]


def transform_lists(
    c: dict[str, Any], raw: TensorData | FileData, entry: DatasetDef
) -> tuple[list[tuple[Specs, str]], tuple[Specs, str]]:
    """[(train list, where)] per copy of the train set in an epoch, and (val list, where); `c` is
    resolved, so it names them (the data set's own defaults when the sweep gave none)."""
    if getattr(raw, "ignores_transforms", False):  # `fake` stands in for another data set: its own lists
        train, val = entry.transforms(c["input_size"] or entry.input_size)
        return [(train, f"{c['name']} default train transforms")], (val, f"{c['name']} default val transforms")
    if c["copies"] is not None:
        return [(s, f"data.copies[{k}]") for k, s in enumerate(c["copies"])], (c["val_transforms"],
                                                                              "data.val_transforms")
    return [(c["train_transforms"], "data.train_transforms")], (c["val_transforms"], "data.val_transforms")


def _fits(nbytes: int, device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)  # CUDA only
    return nbytes <= DEVICE_SHARE * free


def _check_sizes(shapes: list[tuple[int, ...]], wanted: int | None) -> int:
    if len(set(shapes)) > 1:
        shown = ", ".join(f"copy {k}: {'x'.join(map(str, s))}" for k, s in enumerate(shapes))
        raise UserError(f"every copy must give images of one size ({shown})", where="data.copies")
    size = shapes[0][-2]
    if wanted is not None and size != wanted:
        raise UserError(f"{wanted}, but the train transforms give {size}x{shapes[0][-1]} images; "
                        "change one to match the other", where="data.input_size")
    return size


def _nonempty(n_train: int, n_val: int, name: str) -> None:
    if n_train == 0 or n_val == 0:
        raise UserError(f"{name} has {n_train} train and {n_val} val samples; both must be non-empty",
                        where="data.root")


def _validate_transforms(c: dict[str, Any], raw: TensorData | FileData, entry: DatasetDef) -> None:
    train_lists, (val_list, val_where) = transform_lists(c, raw, entry)
    for specs, where in [*train_lists, (val_list, val_where)]:
        compile_pipeline(specs, raw.mean, raw.std, where)


def _tensor_bundle(c: dict[str, Any], raw: TensorData, entry: DatasetDef, seed: int,
                   device: torch.device, path: str) -> DataBundle:
    _nonempty(len(raw.train_y), len(raw.val_y), c["name"])
    train_lists, (val_list, val_where) = transform_lists(c, raw, entry)
    pipes = [compile_pipeline(s, raw.mean, raw.std, where) for s, where in train_lists]
    val_pipe = compile_pipeline(val_list, raw.mean, raw.std, val_where)
    nbytes = raw.train_x.numel() + raw.val_x.numel()
    on_dev = c["on_device"] is True or (c["on_device"] == "auto" and _fits(nbytes, device))
    storage = device if on_dev else torch.device("cpu")
    probe = raw.train_x[:2].to(device)
    shapes = [tuple(p(probe, torch.Generator().manual_seed(0)).shape[1:]) for p in pipes]
    size = _check_sizes(shapes, c["input_size"] if not raw.ignores_transforms else None)
    batch, val_batch = c["batch_size"], c["val_batch_size"] or c["batch_size"]
    train = TensorSource(raw.train_x.to(storage), raw.train_y, pipes, batch_size=batch, device=device,
                         seed=seed, shuffle=True)
    val = TensorSource(raw.val_x.to(storage), raw.val_y, [val_pipe], batch_size=val_batch, device=device,
                       seed=seed, shuffle=False)
    described = {f"train[{k}]": p.describe() for k, p in enumerate(pipes)} | {"val": val_pipe.describe()}
    return DataBundle(train=train, val=val, num_classes=raw.num_classes, input_size=size, n_train=train.n,
                      n_val=val.n, classes=raw.classes, on_device=storage.type == device.type, mean=raw.mean,
                      std=raw.std, transforms=described, path=path)


def _loader_bundle(c: dict[str, Any], raw: FileData, entry: DatasetDef, seed: int,
                   device: torch.device) -> DataBundle:
    _nonempty(len(raw.train), len(raw.val), c["name"])
    train_lists, (val_list, val_where) = transform_lists(c, raw, entry)
    pipes, tails, opener = worker_copies(train_lists, raw.mean, raw.std, tensors=True)
    # val: PIL's own pixels, as the decoded path's cache holds them (worker_split)
    val_pipes, val_tails, val_opener = worker_copies([(val_list, val_where)], raw.mean, raw.std, tensors=False)
    train_set, val_set = FileDataset(raw.train, pipes, opener), FileDataset(raw.val, val_pipes, val_opener)
    shapes = [tuple(train_set[(k * len(raw.train), 0)][0].shape) for k in range(len(pipes))]
    size = _check_sizes(shapes, c["input_size"])
    batch, val_batch = c["batch_size"], c["val_batch_size"] or c["batch_size"]
    common = {"workers": c["workers"], "device": device, "seed": seed}
    train = LoaderSource(train_set, batch_size=batch, shuffle=True, batched=tails, **common)
    val = LoaderSource(val_set, batch_size=val_batch, shuffle=False, batched=val_tails, **common)
    described = {f"train[{k}]": _described(p, tails[k] if tails else None) for k, p in enumerate(pipes)}
    described["val"] = _described(val_pipes[0], val_tails[0] if val_tails else None)
    return DataBundle(train=train, val=val, num_classes=raw.num_classes, input_size=size,
                      n_train=len(train_set), n_val=len(val_set), classes=raw.classes, on_device=False,
                      mean=raw.mean, std=raw.std, transforms=described, path=WORKERS)


def _described(per_sample: Any, tail: Any) -> list[str]:
    """e.g. ['RandomResizedCrop:per-sample', 'RandomHorizontalFlip:batched', 'Normalize:batched']."""
    names = [f"{type(t).__name__}:per-sample" for t in per_sample.transforms]
    return names + (tail.describe() if tail is not None else [])


def _cache_dir(value: str | bool | None) -> Path | None:
    """Where decoded file data sets are kept (`decode_cache`); None: decode in memory, per job."""
    if value is False:
        return None
    return Path(value).expanduser() if value else default_dir()


def build_data(cfg: dict[str, Any], *, seed: int, device: torch.device) -> DataBundle:
    """Load the data set named by `cfg["name"]` and wrap it as seeded batch sources on `device`."""
    c = resolve_config(cfg)
    device = torch.device(device)
    entry = DATASETS.get(c["name"], where="data.name")
    raw = shaped_like(entry, c, seed) if c["fake"] else entry(c, seed)  # fake: a smoke run, no file read
    apply_limits(raw, c["limit"], c["val_limit"])
    store = resize_size(c["input_size"] or entry.input_size)
    path = choose(c["on_device"], files=isinstance(raw, FileData), device_type=device.type,
                  fits=lambda: _fits(decoded_bytes(raw, store), device))
    if path == WORKERS:
        return _loader_bundle(c, raw, entry, seed, device)
    if path == DECODED:
        _nonempty(len(raw.train), len(raw.val), c["name"])
        _validate_transforms(c, raw, entry)  # a typo should not wait for the whole data set to decode
        raw = decode(raw, store, c["workers"], cache_dir=_cache_dir(c["cache_dir"]), name=c["name"])
    return _tensor_bundle(c, raw, entry, seed, device, path)


def dataset_info(name: str, root: str | None = None, configured_classes: int | None = None) -> dict[str, int | None]:
    """num_classes and input_size without loading; num_classes None when only the files know.
    `configured_classes`: the run's `data.num_classes`, which only data made in code takes."""
    entry = DATASETS.get(name, where="data.name")
    num_classes = entry.num_classes
    if entry.classes_from_config and configured_classes:
        return {"num_classes": int(configured_classes), "input_size": entry.input_size}
    if root is not None and entry.count_classes is not None:
        num_classes = entry.count_classes(root) or num_classes
    return {"num_classes": num_classes, "input_size": entry.input_size}
