"""The engine's data layer: named data sets -> seeded, device-resident batch sources.

`build_data(cfg, seed=..., device=...)` returns a `DataBundle` whose `train` / `val`
sources yield `Batch`es (normalised float32 NCHW images, int64 labels and sample indices)
on the device; an epoch's order and augmentation depend only on (seed, epoch). See `build` for the two paths.
"""

# Importing the data set modules registers them.
from kdsweep.engine.data import cifar100, digits, fake, food11, imagefolder, mini_imagenet  # noqa: F401
from kdsweep.engine.data.build import build_data, dataset_info
from kdsweep.engine.data.bundle import Batch, BatchSource, DataBundle
from kdsweep.engine.data.registry import DATASETS

__all__ = ["DATASETS", "Batch", "BatchSource", "DataBundle", "build_data", "dataset_info"]
