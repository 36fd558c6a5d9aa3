"""Make the EfficientNet / FA / refinery golden files from the ORIGINAL code (run once, by hand).

Not run by the tests (they cannot fetch anything). Needs a checkout of the original:
    git clone https://github.com/chrisqqq123/FA-Dist-EfficientNet /tmp/fa-orig
    git -C /tmp/fa-orig checkout 63649095da4ab23d04f4ff0150909ea5ee0c5860
then, from the repository root, with kdsweep importable:
    PYTHONPATH=$PWD python tests/engine/models/golden/make_efficientnet_golden.py /tmp/fa-orig

Models: kdsweep's seeded model (tests/engine/models/_efficientnet_seeded.py) -> its state dict,
renamed with `original_key_map` (and for 000's B0 / B3 split into `features` / `features_2`) ->
`load_state_dict(strict=True)` into the original (models/efficientnet.py efficientnet_b0 / _b3,
models/efficientnet_ex.py efficientnet_ex / _exx; coslinear=True, or False for the plain
Linear B0) -> eval mode, the seeded input -> the original's output (its clamped cosine, or the
Linear's logits) saved as tests/engine/models/golden/efficientnet_<case>.pt, with the sha256 of
the original's sorted "name:shape" keys.
Losses: seeded tensors -> extensions/refinery_loss.py RefineryLoss (fa_loss, loc_fa_loss,
fast_fa_loss, and forward in train mode for the refinery term) -> values and gradients
saved as tests/engine/losses/golden/fa_refinery.pt. See the tests for what is compared.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "engine" / "models"))
import _efficientnet_seeded as seeded  # noqa: E402

from kdsweep.engine.losses.fa import probe_vector  # noqa: E402
from kdsweep.engine.models.efficientnet_cifar import original_key_map  # noqa: E402

ORIGINAL_BUILDERS = {"efficientnet_cifar_b0": ("models.efficientnet", "efficientnet_b0"),
                     "efficientnet_cifar_b3": ("models.efficientnet", "efficientnet_b3"),
                     "efficientnet_ex": ("models.efficientnet_ex", "efficientnet_ex"),
                     "efficientnet_exx": ("models.efficientnet_ex", "efficientnet_exx")}


def keys_digest(state: dict) -> str:
    lines = sorted(f"{k}:{tuple(v.shape)}" for k, v in state.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def resplit(flat: dict, split: int) -> dict:
    out = {}
    for k, v in flat.items():
        head, n, rest = k.split(".", 2) if k.startswith("features.") else (None, None, None)
        if head and int(n) >= split:
            k = f"features_2.{int(n) - split}.{rest}"
        out[k] = v
    return out


def model_golden(case: str, arch: str, head: dict | None) -> None:
    import importlib

    module, fn = ORIGINAL_BUILDERS[arch]
    original = getattr(importlib.import_module(module), fn)(num_classes=100, coslinear=head is not None)
    ours = seeded.seeded_model(arch, head)
    names = original_key_map(ours)
    state = {names[k]: v for k, v in ours.state_dict().items()}
    split = len(original.features) if hasattr(original, "features_2") else None
    if split:
        state = resplit(state, split)
    original.load_state_dict(state, strict=True)
    original.eval()
    x = seeded.seeded_input()
    with torch.no_grad():
        out = original(x)
        out = out[0] if isinstance(out, tuple) else out
        mine = ours(x)
    scale = head["s"] if head else 1.0
    print(f"{case}: max |kdsweep - original| = {(mine - scale * out).abs().max().item():.3g} "
          f"(logit scale, s={scale}); output range {out.min().item():.3f} .. {out.max().item():.3f}")
    torch.save({"output": out.clone(), "scale": scale, "keys_sha256": keys_digest(original.state_dict()),
                "num_keys": len(original.state_dict()), "split": split},
               ROOT / "tests" / "engine" / "models" / "golden" / f"efficientnet_{case}.pt")


def loss_golden() -> None:
    from extensions.refinery_loss import RefineryLoss

    torch.Tensor.cuda = lambda self, *a, **k: self  # the original moves its mask / vector to CUDA
    loss = RefineryLoss(cosln=True, scl=5.0)
    gen = torch.Generator().manual_seed(7)  # the test draws the same tensors
    fs = torch.randn(2, 3, 12, 12, generator=gen)
    ft = torch.randn(2, 4, 7, 7, generator=gen)  # another size: the resize matters
    out = {}
    for name, fn in (("fa", loss.fa_loss), ("loc_fa", loss.loc_fa_loss), ("fast_fa", None)):
        x = fs.clone().requires_grad_(True)
        if fn is None:  # kdsweep's probe vector under torch.manual_seed(3), fed to the original
            torch.manual_seed(3)
            v = probe_vector(12 * 12, torch.device("cpu"))
            import extensions.refinery_loss as rl

            real = rl.torch.randn
            rl.torch.randn = lambda *a, v=v, **k: v.view(-1, 1).clone()
            value = loss.fast_fa_loss(x, ft)
            rl.torch.randn = real
        else:
            value = fn(x, ft)
        value.backward()
        out[f"{name}_value"], out[f"{name}_grad"] = value.detach(), x.grad
        print(f"{name}: {value.item():.6f}")
    cos_s = (torch.rand(6, 10, generator=gen) * 2 - 1).requires_grad_(True)
    cos_t = torch.rand(6, 10, generator=gen) * 2 - 1
    refined = torch.softmax(5.0 * cos_t, dim=1)  # as extensions/model_refinery_wrapper.py makes them
    loss.train()
    value, _ = loss((cos_s, refined, fs, ft), torch.zeros(6, dtype=torch.long))
    value.backward()
    out |= {"refinery_value": value.detach(), "refinery_grad": cos_s.grad}
    print(f"refinery: {value.item():.6f}")
    target = ROOT / "tests" / "engine" / "losses" / "golden"
    target.mkdir(exist_ok=True)
    torch.save(out, target / "fa_refinery.pt")


def main(original_root: str) -> None:
    sys.path.insert(0, original_root)
    for case, (arch, head) in seeded.CASES.items():
        model_golden(case, arch, head)
    loss_golden()


if __name__ == "__main__":
    main(sys.argv[1])
