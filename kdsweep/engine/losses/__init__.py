"""Loss terms by name (ce, kd, refinery, fa, hint) and the LossSet a run trains with.

Importing the package registers every term; `build_losses(resolved_loss_section)` is the
only entry point the trainer needs.
"""

from kdsweep.engine.losses import ce, fa, hint, kd, refinery  # noqa: F401  (registers the terms)
from kdsweep.engine.losses.base import LOSSES, LossContext, LossTerm, full_precision
from kdsweep.engine.losses.lossset import LossSet, build_losses, first_nonfinite

__all__ = ["LOSSES", "LossContext", "LossSet", "LossTerm", "build_losses", "first_nonfinite", "full_precision"]
