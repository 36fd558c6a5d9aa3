"""The engine's data layer: named data sets -> seeded, device-resident batch sources.

`build_data(cfg, seed=..., device=...)` returns a `DataBundle` whose `train` / `val`
sources yield normalised float32 NCHW batches and int64 labels on the device; an epoch's
order and augmentation depend only on (seed, epoch). See `build` for the two paths.
"""

# Importing the data set modules registers them.
from kdsweep.engine.data import cifar100, digits, fake, food11, imagefolder, mini_imagenet  # noqa: F401
from kdsweep.engine.data.build import build_data, dataset_info
from kdsweep.engine.data.bundle import BatchSource, DataBundle
from kdsweep.engine.data.registry import DATASETS

__all__ = ["DATASETS", "BatchSource", "DataBundle", "build_data", "dataset_info"]
