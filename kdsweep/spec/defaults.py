"""The resolved run config: every key a run may carry, with its default.

This table is the contract between the sweep file (spec), the plan and the engine: the
plan fills every default in, so a run's config is complete and its run key says exactly
what was trained. It is plain data, no torch, so `kdsweep plan` stays fast.

`REQUIRED` marks a key the user must give. A default of `None` means "the component
decides" (e.g. a data set's own input size) and is hashed as null. This is
the run's skeleton; the options of the named components (optimiser, schedule, loss terms)
are declared by their registry entries (`spec.entries`), next to their code.
"""

from __future__ import annotations

from typing import Any

from kdsweep.spec.entries import OPTIMIZERS
from kdsweep.spec.options import REQUIRED

DEFAULT_OPTIMIZER = "sgd"

# Keys that never change what is trained: left out of the run key (docs/design.md, "Words").
NON_RESULT_KEYS: tuple[str, ...] = (
    "device",
    "data.root",
    "data.workers",
    "data.val_batch_size",
    "data.on_device",
    "data.cache_dir",
    "train.threads",
    "train.compile",
    "train.fuse",
    "teacher.run",
    "teacher.checkpoint_resolved",
)
# Keys added after runs were stored: in the run key only when set, so every older run keeps its key.
KEYED_WHEN_SET: tuple[str, ...] = ("data.fake",)

RUN_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "epochs": 1,
    "device": "auto",  # auto | cpu | cuda
    "data": {
        "name": "digits",
        "root": None,  # where the files are; None for digits / fake
        "batch_size": 64,
        "val_batch_size": None,  # None: same as batch_size
        "workers": 4,
        "limit": None,  # cap on train samples (smoke runs)
        "val_limit": None,  # cap on val samples
        "input_size": None,  # None: the data set's own size
        "num_classes": None,  # only for data made in code (`fake`); the plan refuses it elsewhere
        "fake": False,  # true: random images shaped like this data set (classes, size), run's transforms; --smoke
        "train_transforms": None,  # [{name: ..., <args>}]; None: the data set's own, filled in by the plan
        "val_transforms": None,  # as train_transforms
        "copies": None,  # None: one pass of train_transforms per epoch; else one transform list per pass
        "val_split": 0.2,  # digits: stratified, seeded hold-out fraction
        "on_device": "auto",  # keep small data sets on the device as uint8 tensors
        "cache_dir": None,  # decode-once cache of file data sets; None: $KDSWEEP_CACHE_DIR or ~/.cache; false: off
    },
    "student": {
        "arch": REQUIRED,
        "num_classes": None,  # None: from the data set
        "cifar": False,  # 32x32 adaptation (3x3 stride-1 stem, no max-pool)
        "head": None,  # None (linear) or {name: cosine, s: 5, m: 0, hidden: null}
        "kwargs": {},  # extra constructor arguments
        "init": None,  # None or {checkpoint: path}: load shape-matching tensors
        "freeze": [],  # module names whose parameters are not trained
    },
    # teacher: None, {run: <stage>} or {arch: ..., checkpoint: path, ...}; see TEACHER_DEFAULTS.
    "teacher": None,
    # The optimiser's keys and defaults are its entry's (kdsweep/engine/optim.py).
    "optim": {"name": DEFAULT_OPTIMIZER, **OPTIMIZERS.get(DEFAULT_OPTIMIZER).options.defaults()},
    "schedule": {"name": "constant"},  # each schedule's options: its entry (engine/schedules.py)
    "loss": {"ce": {}},  # each term's options: its entry (engine/losses/<term>.py)
    "train": {
        "amp": "off",  # off | bf16 | fp16 (CUDA only; ignored on the CPU)
        "channels_last": False,
        "compile": False,
        "fuse": "auto",  # auto | batched | loop: a fused group's students as one batched model (spec/fuse.py)
        "patience": None,  # early stop after this many epochs without a better val top-1
        "deterministic": True,
        "threads": None,  # CPU threads for this job; the executor sets it
    },
}

TEACHER_DEFAULTS: dict[str, Any] = {
    "run": None,  # a stage name; the plan fills `key` and the model fields from the stage
    "key": None,  # run key of the teacher stage
    "arch": REQUIRED,
    "num_classes": None,
    "cifar": False,
    "head": None,
    "kwargs": {},
    "checkpoint": None,  # path to the teacher's weights (or filled by the executor for stages)
}

# The skeleton's own value rules (components' options carry theirs in their entries).
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("off", "bf16", "fp16")
FUSE_MODES = ("auto", "batched", "loop")
CHOICES: dict[str, tuple[str, ...]] = {
    "device": DEVICES,
    "train.amp": AMP_MODES,
    "data.on_device": ("auto", "true", "false"),
    "train.fuse": FUSE_MODES,
}
# Types of skeleton keys whose default is None (the default itself says the type of the others).
NULLABLE_TYPES: dict[str, tuple[type, ...]] = {
    "data.root": (str,),
    "data.val_batch_size": (int,),
    "data.limit": (int,),
    "data.val_limit": (int,),
    "data.input_size": (int,),
    "data.num_classes": (int,),
    "data.train_transforms": (list,),
    "data.val_transforms": (list,),
    "data.copies": (list,),
    "data.on_device": (str, bool),
    "student.num_classes": (int,),
    "student.head": (dict,),
    "student.init": (dict,),
    "teacher.num_classes": (int,),
    "teacher.head": (dict,),
    "teacher.run": (str,),
    "teacher.key": (str,),
    "teacher.checkpoint": (str,),
    "train.patience": (int,),
    "train.threads": (int,),
}
# Values that are free-form mappings: their inner keys are not checked here.
FREE_FORM = {"student.kwargs", "teacher.kwargs", "student.head", "teacher.head", "student.init"}
# Skeleton keys that may differ between the runs of one fused group (components declare
# theirs in their entries): each student stops early on its own.
FUSABLE = ("train.patience",)
