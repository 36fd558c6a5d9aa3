"""The additive-margin cosine classifier ("coslinear") of write-ups 000 and 001.

features -> [Linear(C -> hidden)] -> L2-normalise -> cosine against the column-normalised
weight W (hidden x classes), clamped to [-1, 1] -> times `s`. With s = 5 the logits live in
[-5, 5], which is what the label-refinery loss of 001 feeds to its softmax. This is the
originals' `Linear -> L2norm -> Arcface` classifier (FA-Dist-EfficientNet models/efficientnet.py),
whose output is the clamped cosine and whose losses multiply it by s; kdsweep's logits are
that product. Initialised as there: the hidden Linear uniform in +-1 / sqrt(hidden) with a
zero bias, each column of W uniform in [-1, 1] and rescaled to unit length.

The margin: `forward(x)` returns `s * cos` with no margin, so evaluation, the teacher's
soft targets and the refinery loss all see plain cosine logits. The training loss applies
the margin itself, where it knows the labels: `apply_margin(model, logits, target)`
subtracts `s * m` from each sample's target-class logit (= s * (cos_y - m)) and returns
the logits unchanged when the model has no cosine head or m == 0. The head also carries
`s` and `margin` attributes for code that prefers to do it by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from kdsweep.spec.entries import HeadEntry
from kdsweep.spec.options import Options, option


@dataclass
class CosineHeadOptions(Options):
    s: float = option(5.0, low=0, low_open=True, noun="a scale")  # logits are s x cosine
    m: float = option(0.0, low=0, high=1)  # additive margin on the target class's cosine (training loss)
    hidden: int | None = option(None, types=(int,), low=1, integer=True)  # a Linear to this width first


ENTRY = HeadEntry("cosine", CosineHeadOptions, impl="CosineHead")


class CosineHead(nn.Module):
    """`hidden` None: the cosine is taken on the input features directly.

    The hidden Linear has a bias (as 000's `nn.Linear(C, 200)`); W has none, being a set of
    class directions.
    """

    def __init__(self, in_features: int, num_classes: int, *, s: float = 5.0, m: float = 0.0,
                 hidden: int | None = None):
        super().__init__()
        self.s = float(s)
        self.margin = float(m)
        self.in_features = in_features
        self.num_classes = num_classes
        self.hidden = nn.Linear(in_features, hidden) if hidden else nn.Identity()
        dim = hidden or in_features
        self.weight = nn.Parameter(torch.empty(dim, num_classes))
        with torch.no_grad():
            self.weight.uniform_(-1.0, 1.0)
            self.weight.div_(self.weight.norm(dim=0, keepdim=True))
            if hidden:
                bound = 1.0 / math.sqrt(hidden)
                self.hidden.weight.uniform_(-bound, bound)
                self.hidden.bias.zero_()

    def cosine(self, x: torch.Tensor) -> torch.Tensor:
        return (F.normalize(self.hidden(x), dim=1) @ F.normalize(self.weight, dim=0)).clamp(-1.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.s * self.cosine(x)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, classes={self.num_classes}, s={self.s}, m={self.margin}"


def cosine_head_of(model: nn.Module) -> CosineHead | None:
    """The model's cosine head, if it has one (the last one, should there be several)."""
    found = None
    for module in model.modules():
        if isinstance(module, CosineHead):
            found = module
    return found


def apply_margin(model: nn.Module | CosineHead | None, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """s * (cos - m * onehot(target)): the additive-margin logits for the training loss.

    Takes the model, or its head already found (the training step passes the head, so it
    does not walk every module per batch)."""
    head = model if isinstance(model, CosineHead) or model is None else cosine_head_of(model)
    if head is None or head.margin == 0.0:
        return logits
    onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return logits - head.s * head.margin * onehot
