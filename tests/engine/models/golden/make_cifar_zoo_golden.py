"""Make golden/cifar_zoo.pt from the ORIGINAL mdistiller models (run once, by hand; not run by the tests).

Needs the original's package outside the project, e.g.
    git clone https://github.com/megvii-research/mdistiller /tmp/mdistiller-src
    git -C /tmp/mdistiller-src checkout a08d46f        # then copy or point at its `mdistiller` folder
(or from a bare mirror: git -C <mirror> archive a08d46f mdistiller | tar -x -C /tmp/mdistiller-orig);
then, from the repository root, with kdsweep importable:
    PYTHONPATH=$PWD .venv/bin/python tests/engine/models/golden/make_cifar_zoo_golden.py /tmp/mdistiller-orig

For each of the 23 models of mdistiller's `cifar_model_dict` (mdistiller/models/cifar/__init__.py):
kdsweep's seeded model (`_cifar_zoo_seeded.seeded_model`) -> its state dict, unchanged ->
`load_state_dict(strict=True)` into mdistiller's model (built with num_classes=100) -> on
`seeded_input()` (batch 2): its eval-mode logits and feature maps, then its train-mode logits and
the BatchNorm statistics that train-mode step left. Also the sha256 of its sorted "name:shape"
keys, its parameter count, and the |x| sums of a fresh mdistiller model built under
torch.manual_seed(0) (the initialisation). Prints kdsweep's differences from each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "engine" / "models"))
import _cifar_zoo_seeded as seeded  # noqa: E402

from kdsweep.engine.features import CLASSIFIER_INPUT, FeatureHooks  # noqa: E402
from kdsweep.engine.models import MODELS, build_model  # noqa: E402


def golden_for(name: str, builder) -> dict:
    ours = seeded.seeded_model(name)
    theirs = builder(num_classes=seeded.NUM_CLASSES)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    x = seeded.seeded_input()
    layers = [*MODELS.metadata(name)["feature_layers"], CLASSIFIER_INPUT]
    with torch.no_grad():
        logits_eval, feats = theirs.eval()(x)
        logits_train, _ = theirs.train()(x)
        with FeatureHooks(ours, layers, where=name) as hooks:
            mine_eval = ours.eval()(x)
            mine_feats = [hooks.features[n] for n in layers]
        mine_train = ours.train()(x)
    their_feats = [*feats["feats"][1:], feats["pooled_feat"]]
    preact = feats.get("preact_feats")
    state, mine_state = theirs.state_dict(), ours.state_dict()
    torch.manual_seed(seeded.MODEL_SEED)
    fresh = builder(num_classes=seeded.NUM_CLASSES)
    torch.manual_seed(seeded.MODEL_SEED)
    fresh_ours = build_model({"arch": name}, seeded.NUM_CLASSES)
    entry = {
        "eval": logits_eval.clone(), "train": logits_train.clone(),
        "features": seeded.feature_sums(their_feats),
        "preact_features": seeded.feature_sums(preact[1:]) if preact else None,
        "bn_after_train": seeded.state_sums(state, seeded.BN_STATS),
        "batches_after_train": seeded.batches_tracked(state),
        "keys_sha256": seeded.keys_digest(state), "num_keys": len(state),
        "num_params": sum(p.numel() for p in theirs.parameters()),
        "init_sums": seeded.state_sums(fresh.state_dict()),
    }

    def rel(a, b):
        return float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())

    print(f"{name:18} params {entry['num_params']:>10,}"
          f"  |eval diff| {(mine_eval - logits_eval).abs().max():.2e}"
          f"  |train diff| {(mine_train - logits_train).abs().max():.2e}"
          f"  features rel {rel(seeded.feature_sums(mine_feats), entry['features']):.1e}"
          f"  BN stats rel {rel(seeded.state_sums(mine_state, seeded.BN_STATS), entry['bn_after_train']):.1e}"
          f"  batches {seeded.batches_tracked(mine_state)}/{entry['batches_after_train']}"
          f"  init rel {rel(seeded.state_sums(fresh_ours.state_dict()), entry['init_sums']):.1e}"
          f"  logits range {float(logits_eval.abs().max()):.2f}")
    return entry


def main(original_root: str) -> None:
    sys.path.insert(0, original_root)
    from mdistiller.models.cifar import cifar_model_dict

    assert sorted(cifar_model_dict) == sorted(seeded.ZOO.values())
    torch.set_num_threads(1)  # the goldens' arithmetic as the tests do it
    out = {name: golden_for(name, cifar_model_dict[key][0]) for name, key in seeded.ZOO.items()}
    torch.save(out, ROOT / "tests" / "engine" / "models" / "golden" / "cifar_zoo.pt")


if __name__ == "__main__":
    main(sys.argv[1])
