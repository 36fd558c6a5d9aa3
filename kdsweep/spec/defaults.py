"""The resolved run config: every key a run may carry, with its default.

This table is the contract between the sweep file (spec), the plan and the engine: the
plan fills every default in, so a run's config is complete and its run key says exactly
what was trained. It is plain data, no torch, so `kdsweep plan` stays fast.

`REQUIRED` marks a key the user must give. A default of `None` means "the component
decides" (e.g. a data set's own input size or transforms) and is hashed as null.
"""

from __future__ import annotations

from typing import Any

REQUIRED = "<required>"

# Keys that never change what is trained: left out of the run key (DESIGN.md, "run key").
NON_RESULT_KEYS: tuple[str, ...] = (
    "device",
    "data.root",
    "data.workers",
    "data.val_batch_size",
    "data.on_device",
    "data.cache_dir",
    "train.threads",
    "train.compile",
    "teacher.run",
    "teacher.checkpoint_resolved",
)

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
        "num_classes": None,  # only for `fake`; others know theirs
        "train_transforms": None,  # None: the data set's default; else [{name: ..., <args>}]
        "val_transforms": None,
        "copies": None,  # 000: a list of transform lists; an epoch is the train set once per list
        "val_split": 0.2,  # digits: stratified, seeded hold-out fraction
        "on_device": "auto",  # keep small data sets on the device as uint8 tensors
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
    "optim": {
        "name": "sgd",  # sgd | adam | adamw
        "lr": 0.1,
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 0.0,
        "betas": [0.9, 0.999],
        "grad_clip": None,  # max global grad norm
    },
    "schedule": {"name": "constant"},  # defaults per name in SCHEDULE_DEFAULTS
    "loss": {"ce": {}},  # defaults per term in LOSS_DEFAULTS
    "train": {
        "amp": "off",  # off | bf16 | fp16 (CUDA only; ignored on the CPU)
        "channels_last": False,
        "compile": False,
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

SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "constant": {},
    "step": {"step_size": 30, "gamma": 0.1},
    "multistep": {"milestones": REQUIRED, "gamma": 0.1},
    # 004: per-epoch cosine after `warmup_epochs` of per-iteration linear warm-up from
    # warmup_start; 002: per-iteration cosine with floor 0.1 (per: iter).
    "cosine": {"warmup_epochs": 0, "warmup_start": 0.001, "floor": 0.0, "per": "epoch"},
    "warm_restarts": {"T_0": REQUIRED, "T_mult": 1, "eta_min": 0.0},
}

LOSS_DEFAULTS: dict[str, dict[str, Any]] = {
    # weight None: 1 - kd.alpha with kd, 0 with refinery, else 1 (filled by the plan).
    "ce": {"weight": None, "label_smoothing": 0.0},
    "kd": {"T": 4.0, "alpha": 0.9, "t2_scale": True},
    "refinery": {"weight": 1.0, "teacher_mode": "eval"},
    "fa": {
        "weight": 1.0,
        "student_layer": REQUIRED,
        "teacher_layer": REQUIRED,
        "fast": False,
        "local_radius": None,  # None: global FA; else pairs within this radius weigh local_weight
        "local_weight": 2.0,
    },
    "hint": {"weight": 1.0, "kind": "smooth_l1", "layers": REQUIRED},  # layers: [{student, teacher, weight}]
}

# Loss terms that need a teacher; a run with none of them trains without one.
TEACHER_LOSSES = ("kd", "refinery", "fa", "hint")

OPTIMIZERS = ("sgd", "adam", "adamw")
AMP_MODES = ("off", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
