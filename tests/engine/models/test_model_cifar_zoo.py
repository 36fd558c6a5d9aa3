"""The CIFAR zoo is mdistiller's, output for output and checkpoint for checkpoint (issue 19).

How golden/cifar_zoo.pt was made (once, outside the project; the tests fetch nothing): the original
code megvii-research/mdistiller at commit a08d46f, its `cifar_model_dict`
(mdistiller/models/cifar/__init__.py: resnet.py, resnetv2.py, wrn.py, vgg.py, mobilenetv2.py,
ShuffleNetv1.py, ShuffleNetv2.py), each model built with num_classes=100. For each of the 23:
`_cifar_zoo_seeded.seeded_model(name)` (every parameter drawn from one seeded generator, BN
statistics from a calibration pass) -> its state dict, unchanged, -> `load_state_dict(strict=True)`
into mdistiller's model -> `seeded_input()` (batch 2): mdistiller's eval-mode logits and feature
maps (`feats[1:]`, `preact_feats[1:]`, `pooled_feat`, as sums), then its train-mode logits and the
BN statistics that step left; the sha256 of its sorted "name:shape" keys and its parameter count;
the |x| sums of a fresh mdistiller model built under torch.manual_seed(0). The script is
golden/make_cifar_zoo_golden.py. When made, every difference below was exactly 0 (logits eval and
train, feature sums, BN statistics, batch counts, initial weights) for all 23 models.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _cifar_zoo_seeded import (
    BN_STATS,
    NUM_CLASSES,
    ZOO,
    batches_tracked,
    feature_sums,
    keys_digest,
    seeded_input,
    seeded_model,
    state_sums,
)

from kdsweep.engine.features import CLASSIFIER_INPUT, FeatureHooks
from kdsweep.engine.models import MODELS, build_model, load_weights
from kdsweep.errors import UserError

GOLDEN = torch.load(Path(__file__).parent / "golden" / "cifar_zoo.pt", weights_only=True)
TOLERANCE = 1e-4  # absolute, on logits of order 1 (max 11)
# Parameter counts with 100 classes, as mdistiller's models have them (RepDistiller's tables round
# them: resnet8x4 1.2M, resnet32x4 7.4M, wrn_40_2 2.2M, vgg13 9.4M, ShuffleV1 0.9M, ...).
PARAMS = {
    "cifar_resnet8": 83_892, "cifar_resnet14": 181_108, "cifar_resnet20": 278_324,
    "cifar_resnet32": 472_756, "cifar_resnet44": 667_188, "cifar_resnet56": 861_620,
    "cifar_resnet110": 1_736_564, "cifar_resnet8x4": 1_233_540, "cifar_resnet32x4": 7_433_860,
    "cifar_resnet18": 11_220_132, "cifar_resnet50": 23_705_252,
    "cifar_wrn_16_1": 180_916, "cifar_wrn_16_2": 703_284, "cifar_wrn_40_1": 569_780,
    "cifar_wrn_40_2": 2_255_156,
    "cifar_vgg8": 3_965_028, "cifar_vgg11": 9_277_284, "cifar_vgg13": 9_462_180, "cifar_vgg16": 14_774_436,
    "cifar_vgg19": 20_086_692,
    "cifar_mobilenetv2": 812_836, "cifar_shufflev1": 949_258, "cifar_shufflev2": 1_355_528,
}


def test_the_zoo_is_mdistillers_cifar_model_dict():
    """All 23 keys, each registered as `cifar_` + the key in lower case, with its metadata."""
    zoo = {n: MODELS.metadata(n) for n in MODELS.known() if MODELS.metadata(n).get("mdistiller")}
    assert {n: meta["mdistiller"] for n, meta in zoo.items()} == ZOO
    assert all(n == "cifar_" + meta["mdistiller"].lower() for n, meta in zoo.items())
    assert all(meta["input_size"] == 32 and meta["feature_layers"] and meta["feature_dim"]
               for meta in zoo.values())
    assert set(PARAMS) == set(ZOO) == set(GOLDEN)


@pytest.mark.parametrize("name", list(ZOO))
def test_logits_features_and_bn_updates_are_mdistillers(name, one_thread):
    golden = GOLDEN[name]
    model, x = seeded_model(name), seeded_input()
    layers = [*MODELS.metadata(name)["feature_layers"], CLASSIFIER_INPUT]
    with torch.no_grad():
        with FeatureHooks(model, layers, where=name) as hooks:
            logits = model(x)
            features = [hooks.features[n] for n in layers]
        torch.testing.assert_close(logits, golden["eval"], atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(feature_sums(features), golden["features"], rtol=1e-5, atol=1e-3)
        assert features[-1].flatten(1).shape[1] == MODELS.metadata(name)["feature_dim"]
        train_logits = model.train()(x)
    torch.testing.assert_close(train_logits, golden["train"], atol=TOLERANCE, rtol=0)
    state = model.state_dict()
    torch.testing.assert_close(state_sums(state, BN_STATS), golden["bn_after_train"], rtol=1e-5, atol=1e-6)
    assert batches_tracked(state) == golden["batches_after_train"]


@pytest.mark.parametrize("name", list(ZOO))
def test_checkpoint_layout_size_and_initialisation_are_mdistillers(name):
    """Same "name:shape" keys (their checkpoints load strictly, ours load into theirs), same parameter
    count, and the same seed gives the same initial weights."""
    golden = GOLDEN[name]
    torch.manual_seed(0)
    model = build_model({"arch": name}, NUM_CLASSES)
    state = model.state_dict()
    assert (len(state), keys_digest(state)) == (golden["num_keys"], golden["keys_sha256"])
    assert sum(p.numel() for p in model.parameters()) == PARAMS[name] == golden["num_params"]
    torch.testing.assert_close(state_sums(state), golden["init_sums"], rtol=1e-6, atol=1e-6)


def test_vgg_blocks_are_mdistillers_preactivation_features():
    golden = GOLDEN["cifar_vgg13"]
    model = seeded_model("cifar_vgg13")
    layers = ["block1", "block2", "block3", "block4"]
    with torch.no_grad(), FeatureHooks(model, layers, where="vgg") as hooks:
        model(seeded_input())
        features = [hooks.features[n] for n in layers]
    torch.testing.assert_close(feature_sums(features), golden["preact_features"], rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("wrapped", [True, False], ids=["ckpt_epoch_240", "bare"])
def test_an_mdistiller_checkpoint_loads_as_a_teacher(wrapped, tmp_path):
    """RepDistiller / mdistiller teacher files (`ckpt_epoch_240.pth`: {epoch, model, accuracy,
    optimizer}) or a bare state dict load strictly, as the trainer loads `teacher.checkpoint`."""
    source = seeded_model("cifar_resnet8x4")
    state = source.state_dict()
    optimizer = torch.optim.SGD(source.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    path = tmp_path / "ckpt_epoch_240.pth"
    torch.save({"epoch": 240, "model": state, "accuracy": 79.42, "optimizer": optimizer.state_dict()}
               if wrapped else state, path)
    torch.manual_seed(123)
    teacher = build_model({"arch": "cifar_resnet8x4", "checkpoint": str(path)}, NUM_CLASSES, where="teacher")
    loaded = load_weights(teacher, path, strict=True, where="teacher.checkpoint")
    assert sorted(loaded) == sorted(state)
    with torch.no_grad():
        torch.testing.assert_close(teacher.eval()(seeded_input()), GOLDEN["cifar_resnet8x4"]["eval"],
                                   atol=TOLERANCE, rtol=0)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / "ckpt_epoch_240.pth"
    torch.save({"model": build_model({"arch": "cifar_resnet8"}, NUM_CLASSES).state_dict()}, path)
    with pytest.raises(UserError, match="does not fit the architecture"):
        load_weights(build_model({"arch": "cifar_resnet14"}, NUM_CLASSES), path, strict=True,
                     where="teacher.checkpoint")


@pytest.mark.parametrize(("cfg", "where", "hint"), [
    ({"arch": "ShuffleV1"}, "student.arch", "did you mean 'cifar_shufflev1' (mdistiller's ShuffleV1)?"),
    ({"arch": "vgg13", "cifar": True}, "student.cifar",
     "for mdistiller's CIFAR vgg13, use arch: cifar_vgg13"),
])
def test_the_engine_names_kdsweeps_model_for_an_mdistiller_key(cfg, where, hint):
    """As the plan does (spec/names.py); `vgg13` is torchvision's ImageNet VGG, which has no 32x32 form."""
    with pytest.raises(UserError) as info:
        build_model(cfg, NUM_CLASSES)
    assert info.value.where == where and hint in info.value.message
