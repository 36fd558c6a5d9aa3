"""Forward hooks catch named modules' outputs without touching the model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kdsweep.engine.features import FeatureHooks
from kdsweep.errors import UserError


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 6, 3, stride=2, padding=1))
        self.lstm = nn.LSTM(6, 5, batch_first=True)
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        f = self.body(self.stem(x))
        seq, _ = self.lstm(f.flatten(2).transpose(1, 2))
        return self.head(f.mean((2, 3))) + seq.mean() * 0


def test_features_are_the_named_modules_outputs():
    torch.manual_seed(0)
    net, x = Net(), torch.randn(2, 3, 8, 8)
    with FeatureHooks(net, ["stem", "body.1"], where="loss") as hooks:
        net(x)
        feats = hooks.features
    assert list(feats) == ["stem", "body.1"]
    stem = net.stem(x)
    assert torch.equal(feats["stem"], stem)
    assert torch.equal(feats["body.1"], net.body(stem))
    assert feats["body.1"].shape == (2, 6, 4, 4)
    assert feats["body.1"].requires_grad  # the student's loss backpropagates through it


def test_latest_forward_wins_clear_and_remove():
    net = Net()
    hooks = FeatureHooks(net, ["stem"], where="loss")
    a, b = torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8)
    net(a)
    net(b)
    assert torch.equal(hooks.features["stem"], net.stem(b))
    kept = hooks.features
    hooks.clear()
    assert hooks.features == {} and "stem" in kept  # .features is a copy
    hooks.remove()
    net(a)
    assert hooks.features == {}
    assert not net.stem._forward_hooks


def test_tuple_output_gives_its_first_tensor():
    net = Net()
    with FeatureHooks(net, ["lstm"], where="loss") as hooks:
        net(torch.randn(1, 3, 8, 8))
        assert hooks.features["lstm"].shape == (1, 16, 5)


def test_a_layer_named_twice_is_hooked_once():
    net = Net()
    hooks = FeatureHooks(net, ["stem", "stem"], where="loss")
    assert hooks.names == ["stem"] and len(net.stem._forward_hooks) == 1
    hooks.remove()


def test_unknown_module_lists_close_names():
    with pytest.raises(UserError, match=r"no module named 'body\.2'.*did you mean 'body\.1'") as err:
        FeatureHooks(Net(), ["body.2"], where="loss.fa.student_layer")
    assert err.value.where == "loss.fa.student_layer"


def test_wrapped_model_is_looked_through():
    """torch.compile names modules `_orig_mod.<name>`; the sweep names the plain model's."""

    class Wrapper(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

        def forward(self, x):
            return self._orig_mod(x)

    net = Net()
    with FeatureHooks(Wrapper(net), ["body.1"], where="loss") as hooks:
        Wrapper(net)(torch.randn(1, 3, 8, 8))
        assert hooks.features["body.1"].shape == (1, 6, 4, 4)


def test_classifier_input_catches_the_features_before_the_classifier():
    from kdsweep.engine.features import CLASSIFIER_INPUT
    from kdsweep.engine.models import build_model

    torch.manual_seed(0)
    net, x = Net(), torch.randn(2, 3, 8, 8)
    with FeatureHooks(net, [CLASSIFIER_INPUT], where="loss") as hooks:
        net(x)
        caught = hooks.features[CLASSIFIER_INPUT]
    assert torch.equal(caught, net.body(net.stem(x)).mean((2, 3)))  # the last Linear's input
    cosine = build_model({"arch": "digits_student", "head": {"name": "cosine", "hidden": 5}}, 10)
    with FeatureHooks(cosine, [CLASSIFIER_INPUT], where="loss") as hooks:
        cosine(torch.randn(2, 3, 32, 32))
        assert hooks.features[CLASSIFIER_INPUT].shape == (2, 64)  # the cosine head's input, not its hidden layer's
    with pytest.raises(UserError, match="no nn.Linear classifier"):
        FeatureHooks(nn.Sequential(nn.Conv2d(3, 3, 1)), [CLASSIFIER_INPUT], where="loss.crd")
