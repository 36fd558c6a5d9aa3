"""The model zoo: `MODELS` (name -> factory), `build_model` and checkpoint helpers.

Importing this package registers every model defined here; torchvision classification
models are found by name through the registry's fallback.
"""

# Importing the model modules registers them.
from kdsweep.engine.models import digits, efficientnet_cifar, food11, mobilenets_m  # noqa: F401
from kdsweep.engine.models.build import build_model, last_linear, replace_head
from kdsweep.engine.models.heads import CosineHead, apply_margin, cosine_head_of
from kdsweep.engine.models.weights import apply_freeze_mode, freeze, load_weights, read_state_dict
from kdsweep.engine.models.zoo import MODELS, all_model_names

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
