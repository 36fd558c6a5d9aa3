"""kdsweep's CIFAR EfficientNets compute the originals' function (000 / 001), pinned by golden files.

How golden/efficientnet_<case>.pt were made (once, outside the project; the tests fetch nothing):
original code github.com/chrisqqq123/FA-Dist-EfficientNet at commit
63649095da4ab23d04f4ff0150909ea5ee0c5860, models/efficientnet.py (efficientnet_b0 / _b3; their
forward returns (cosine, trunk features)) and models/efficientnet_ex.py (efficientnet_ex / _exx),
built with num_classes=100 and coslinear=True (the `*_cos` cases) or False (`b0_linear`).
`_efficientnet_seeded.seeded_model(arch, head)` (kdsweep's model under torch.manual_seed(0),
BatchNorm statistics / affines and conv biases then set from a seeded generator) -> its state dict
renamed with `original_key_map` (000's B0 / B3 split back into `features` / `features_2`) ->
`load_state_dict(strict=True)` into the original -> eval mode -> `seeded_input()` (manual_seed(1),
randn(4, 3, 32, 32)) -> the original's output saved: the clamped cosine, which the originals'
losses multiply by s = 5 (kdsweep's logits are that product), or the Linear's logits; with the
sha256 of the original's sorted "name:shape" keys. The script is golden/make_efficientnet_golden.py.
When made, kdsweep and the original differed by at most 1.4e-6 (logit scale); kdsweep's previous
model (BatchNorm eps 1e-3, symmetric k // 2 depthwise padding) by 0.04 to 0.9.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from _efficientnet_seeded import CASES, seeded_input, seeded_model

from kdsweep.engine.models import build_model, load_weights
from kdsweep.engine.models.efficientnet_cifar import original_key_map

GOLDEN = Path(__file__).parent / "golden"
TOLERANCE = 1e-4  # absolute, on kdsweep's logits (s x cosine for the cosine head)


def _golden(case: str) -> dict:
    return torch.load(GOLDEN / f"efficientnet_{case}.pt", weights_only=True)


def _original_names(model, split: int | None) -> dict[str, str]:
    """kdsweep key -> the original's key, as the golden script loaded them (000's B0 / B3 split)."""
    names = original_key_map(model)
    if split is None:
        return names
    out = {}
    for ours, orig in names.items():
        parts = orig.split(".", 2)
        if parts[0] == "features" and int(parts[1]) >= split:
            orig = f"features_2.{int(parts[1]) - split}.{parts[2]}"
        out[ours] = orig
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_logits_match_the_original(case):
    arch, head = CASES[case]
    golden = _golden(case)
    with torch.no_grad():
        logits = seeded_model(arch, head)(seeded_input())
    expected = golden["scale"] * golden["output"]
    assert logits.shape == expected.shape == (4, 100)
    torch.testing.assert_close(logits, expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("case", list(CASES))
def test_original_names_are_the_originals(case):
    arch, head = CASES[case]
    golden = _golden(case)
    model = seeded_model(arch, head)
    names = _original_names(model, golden["split"])
    state = model.state_dict()
    lines = sorted(f"{names[k]}:{tuple(v.shape)}" for k, v in state.items())
    assert len(lines) == golden["num_keys"]
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest() == golden["keys_sha256"]


@pytest.mark.parametrize("case", ["b0_cos", "exx_cos", "b0_linear"])
def test_original_checkpoint_loads_through_load_weights(case, tmp_path):
    """A checkpoint in the original's names (as 001's model_state_*.pytar) loads as a teacher does."""
    arch, head = CASES[case]
    golden = _golden(case)
    source = seeded_model(arch, head)
    names = _original_names(source, golden["split"])
    path = tmp_path / "model_state_70.pytar"
    torch.save({names[k]: v for k, v in source.state_dict().items()}, path)
    torch.manual_seed(123)
    fresh = build_model({"arch": arch, "head": head}, 100)
    loaded = load_weights(fresh, path, strict=True, where="teacher.checkpoint")
    assert sorted(loaded) == sorted(fresh.state_dict())
    with torch.no_grad():
        logits = fresh.eval()(seeded_input())
    torch.testing.assert_close(logits, golden["scale"] * golden["output"], atol=TOLERANCE, rtol=0)


def test_kdsweep_names_pass_untranslated():
    """A partial kdsweep checkpoint (an `init` file) is not mistaken for an original one."""
    model = build_model({"arch": "efficientnet_ex"}, 10)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier")}
    assert model.translate_state_dict(state) is state
