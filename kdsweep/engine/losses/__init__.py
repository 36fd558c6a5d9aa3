"""Loss terms by name (ce, kd, refinery, fa, hint, ...) and the LossSet a run trains with.

Adding a loss term is ONE new file here, e.g. `mykd.py`; nothing else lists it:

    from dataclasses import dataclass                       # --- spec block (no torch) ---
    from kdsweep.spec.entries import LossEntry
    from kdsweep.spec.options import Options, option

    @dataclass
    class MyKDOptions(Options):                             # the sweep's `loss.mykd:` keys
        T: float = option(4.0, low=0, low_open=True)       # default + checks (one-line errors)
        weight: float = option(1.0, low=0)

    ENTRY = LossEntry("mykd", MyKDOptions, impl="MyKD", needs_teacher=True)

    import torch ...                                       # --- implementation ---
    class MyKD(LossTerm):
        name = "mykd"
        @classmethod
        def from_options(cls, opts, *, where): return cls(opts.T, opts.weight, where=where)
        def value(self, ctx): ...

`kdsweep plan` reads the spec block (the `kdsweep.spec` / `dataclasses` imports, the classes
deriving from an `*Options` class, and `ENTRY`) from the file's syntax tree and runs only
those statements, so it validates `loss.mykd` and fills its defaults without importing torch
(`kdsweep.spec.entries`). The engine imports `MyKD` from the file when a run uses it. The
spec block must not use anything the implementation part defines. Entry metadata:
`needs_teacher`, `teacher_mode_option` (the option that puts the shared teacher in train
mode), `ce_weight` (the hard-label weight beside this term when the sweep leaves it open).
`build_losses(resolved_loss_section)` is the only entry point the trainer needs.
"""

from kdsweep.engine.losses.base import LossContext, LossTerm, full_precision
from kdsweep.engine.losses.lossset import LossSet, build_losses, first_nonfinite
from kdsweep.spec.entries import LOSSES

__all__ = ["LOSSES", "LossContext", "LossSet", "LossTerm", "build_losses", "first_nonfinite", "full_precision"]
