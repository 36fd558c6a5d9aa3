"""FA (000) and label-refinery (001 / 000) terms give the original code's values and gradients.

How golden/fa_refinery.pt was made (once, outside the project; the tests fetch nothing):
original code github.com/chrisqqq123/FA-Dist-EfficientNet at commit
63649095da4ab23d04f4ff0150909ea5ee0c5860, extensions/refinery_loss.py, `RefineryLoss(cosln=True,
scl=5.0)`, with `Tensor.cuda` made a no-op so it runs on the CPU. Inputs from
`torch.Generator().manual_seed(7)`: student map randn(2, 3, 12, 12), teacher map randn(2, 4, 7, 7)
(another size, so the resize and its align_corners=True matter), then cosines
rand(6, 10) * 2 - 1 for the student and the teacher. Saved: the value and the gradient wrt the
student input of `fa_loss` (000's plain FA), `loc_fa_loss` (the variant 000's first upload ran:
pixel pairs within Chebyshev distance 10 weigh 2), `fast_fa_loss` (its random vector replaced by
kdsweep's `probe_vector(144)` drawn under torch.manual_seed(3)), and of `forward` in train mode on
(cos_s, softmax(5 * cos_t), maps), the label-refinery term, its refined labels made as
extensions/model_refinery_wrapper.py makes them. Script: tests/engine/models/golden/
make_efficientnet_golden.py. kdsweep's logits are 5 x cosine, so its refinery gradient is
compared through the cosine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kdsweep.engine.losses import LossContext
from kdsweep.engine.losses.fa import FeatureAffinity
from kdsweep.engine.losses.refinery import Refinery

GOLDEN = torch.load(Path(__file__).parent / "golden" / "fa_refinery.pt", weights_only=True)


def _inputs():
    gen = torch.Generator().manual_seed(7)
    fs = torch.randn(2, 3, 12, 12, generator=gen)
    ft = torch.randn(2, 4, 7, 7, generator=gen)
    cos_s = torch.rand(6, 10, generator=gen) * 2 - 1
    cos_t = torch.rand(6, 10, generator=gen) * 2 - 1
    return fs, ft, cos_s, cos_t


@pytest.mark.parametrize(("name", "kwargs"), [
    ("fa", {}), ("loc_fa", {"local_radius": 10, "local_weight": 2.0}), ("fast_fa", {"fast": True})])
def test_fa_matches_the_original(name, kwargs):
    fs, ft, _, _ = _inputs()
    fs.requires_grad_(True)
    ctx = LossContext(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(2, 3),
                      student_feats={"s": fs}, teacher_feats={"t": ft})
    torch.manual_seed(3)  # the fast variant's probe vector, as the golden script drew it
    value = FeatureAffinity("s", "t", **kwargs).value(ctx)
    value.backward()
    torch.testing.assert_close(value.detach(), GOLDEN[f"{name}_value"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fs.grad, GOLDEN[f"{name}_grad"], atol=1e-6, rtol=1e-4)


def test_refinery_matches_the_original():
    _, _, cos_s, cos_t = _inputs()
    cos_s.requires_grad_(True)
    ctx = LossContext(5.0 * cos_s, torch.zeros(6, dtype=torch.long), 5.0 * cos_t)
    value = Refinery().value(ctx)
    value.backward()
    torch.testing.assert_close(value.detach(), GOLDEN["refinery_value"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(cos_s.grad, GOLDEN["refinery_grad"], atol=1e-6, rtol=1e-4)
