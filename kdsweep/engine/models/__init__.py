"""The model zoo: `MODELS` (name -> factory), `build_model` and checkpoint helpers.

Importing this package registers every model defined in its folder: each module is imported
by `import_all` (found by folder, so a new model family is one new file, and the names the
plan reads from the same folder's decorators are exactly the ones the engine knows);
torchvision classification models are found by name through the registry's fallback.
"""

from kdsweep.engine.models.build import build_model, last_linear, replace_head
from kdsweep.engine.models.heads import CosineHead, apply_margin, cosine_head_of
from kdsweep.engine.models.weights import apply_freeze_mode, freeze, load_weights, read_state_dict
from kdsweep.engine.models.zoo import MODELS, all_model_names
from kdsweep.registry import import_all

import_all(__name__, __path__)

__all__ = [
    "MODELS",
    "CosineHead",
    "all_model_names",
    "apply_freeze_mode",
    "apply_margin",
    "build_model",
    "cosine_head_of",
    "freeze",
    "last_linear",
    "load_weights",
    "read_state_dict",
    "replace_head",
]
