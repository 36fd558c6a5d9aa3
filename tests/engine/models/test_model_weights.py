import pytest
import torch
from torch import nn

from kdsweep.engine.models import apply_freeze_mode, build_model, freeze, load_weights
from kdsweep.errors import UserError


def _student(classes=10):
    return build_model({"arch": "digits_student"}, classes)


def test_strict_roundtrip_with_wrappers_and_prefixes(tmp_path):
    src, dst = _student(), _student()
    state = src.state_dict()
    for i, obj in enumerate([state, {"model": state}, {"state_dict": state, "epoch": 3},
                             {f"module.{k}": v for k, v in state.items()}]):
        path = tmp_path / f"c{i}.pt"
        torch.save(obj, path)
        keys = load_weights(dst, path, strict=True, where="teacher.checkpoint")
        assert sorted(keys) == sorted(state)
        assert torch.equal(dst.classifier.weight, src.classifier.weight)


def test_strict_mismatch_names_file_and_first_bad_key(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(_student(classes=100).state_dict(), path)
    with pytest.raises(UserError) as err:
        load_weights(_student(), path, strict=True, where="teacher.checkpoint")
    msg = str(err.value)
    assert msg.startswith("teacher.checkpoint: checkpoint ") and str(path) in msg and "\n" not in msg
    assert "2 shape mismatches (first classifier.weight: file (100, 64) vs model (10, 64))" in msg

    state = _student().state_dict()
    state.pop("features.0.0.weight")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(UserError, match=r"1 missing key \(first features.0.0.weight\); "
                                        r"1 unexpected key \(first extra.weight\)"):
        load_weights(_student(), path, strict=True, where="teacher.checkpoint")


def test_missing_corrupt_and_non_state_dict_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_weights(_student(), tmp_path / "nope.pt", strict=True, where="teacher.checkpoint")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(UserError, match=r"bad.pt cannot be read"):
        load_weights(_student(), bad, strict=True, where="teacher.checkpoint")
    odd = tmp_path / "odd.pt"
    torch.save({"epoch": 3}, odd)
    with pytest.raises(UserError, match="holds no state dict"):
        load_weights(_student(), odd, strict=False, where="student.init.checkpoint")


def test_partial_load_skips_the_classifier(tmp_path):
    """002's fine-tune: the 256-class model's trunk into a 101-class model."""
    src = _student(classes=256)
    path = tmp_path / "c256.pt"
    torch.save(src.state_dict(), path)
    model = build_model({"arch": "digits_student", "init": {"checkpoint": str(path)}}, 101)
    assert torch.equal(model.features[0][0].weight, src.features[0][0].weight)
    assert not torch.equal(model.classifier.weight[:10], src.classifier.weight[:10])
    keys = load_weights(_student(101), path, strict=False, where="student.init.checkpoint")
    assert "classifier.weight" not in keys and "features.3.2.running_mean" in keys
    assert len(keys) == len(src.state_dict()) - 2

    torch.save({"other.weight": torch.zeros(3)}, path)
    with pytest.raises(UserError, match="no tensor matching"):
        load_weights(_student(), path, strict=False, where="student.init.checkpoint")


def test_freeze_stops_gradients_and_batchnorm_updates():
    model = build_model({"arch": "digits_student", "freeze": ["features.0", "features.1"]}, 10)
    assert not any(p.requires_grad for p in model.features[0].parameters())
    assert all(p.requires_grad for p in model.features[2].parameters())
    bn_frozen, bn_free = model.features[0][1], model.features[2][2]
    assert isinstance(bn_frozen, nn.BatchNorm2d) and isinstance(bn_free, nn.BatchNorm2d)
    before_frozen, before_free = bn_frozen.running_mean.clone(), bn_free.running_mean.clone()
    model.train()
    apply_freeze_mode(model)  # names remembered by freeze
    assert not model.features[1].training and model.features[2].training and model.training
    model(torch.randn(8, 3, 32, 32) + 2.0)
    assert torch.equal(bn_frozen.running_mean, before_frozen)
    assert not torch.equal(bn_free.running_mean, before_free)


def test_freeze_with_bn_train_keeps_updating_statistics_as_002_did():
    model = build_model({"arch": "digits_student", "freeze": [{"module": "features", "bn": "train"}]}, 10)
    assert not any(p.requires_grad for p in model.features.parameters())
    bn = next(m for m in model.features.modules() if isinstance(m, torch.nn.BatchNorm2d))
    apply_freeze_mode(model.train())
    assert bn.training  # 002 only stopped gradients: BN statistics still move
    with pytest.raises(UserError, match=r"student.freeze: expected a module name or \{module"):
        freeze(_student(), [{"module": "features", "bn": "frozen"}])


def test_freeze_unknown_module():
    with pytest.raises(UserError, match=r"student.freeze: no module named 'feature' to freeze; did you mean 'features'"):
        freeze(_student(), ["feature"])
    model = nn.Sequential(nn.BatchNorm1d(2))
    model.train()
    apply_freeze_mode(model, ["0"])
    assert not model[0].training
