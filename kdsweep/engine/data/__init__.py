"""The engine's data layer: named data sets -> seeded, device-resident batch sources.

`build_data(cfg, seed=..., device=...)` returns a `DataBundle` whose `train` / `val`
sources yield `Batch`es (normalised float32 NCHW images, int64 labels and sample indices)
on the device; an epoch's order and augmentation depend only on (seed, epoch). See `build` for the two paths.
"""

from kdsweep.engine.data.build import build_data, dataset_info
from kdsweep.engine.data.bundle import Batch, BatchSource, DataBundle
from kdsweep.engine.data.registry import DATASETS
from kdsweep.registry import import_all

# Every module of this folder is imported, so each data set file registers itself (no hand-kept list).
import_all(__name__, __path__)

__all__ = ["DATASETS", "Batch", "BatchSource", "DataBundle", "build_data", "dataset_info"]
