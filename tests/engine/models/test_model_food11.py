"""The Food-11 students of 003.

There is no public repository of 003's code to run: its student is the course's sample
`StudentNet` (ML2023 Spring HW13), known from the homework's published layout (four
unpadded 3x3 convs 4, 16, 64, 84 with BN + ReLU, max-pools after the 2nd to 4th, global
average pool, Linear(84, 11)). The golden file `tests/engine/models/golden/models_003_food11_student.json`
was made once, outside the project, from that layout re-typed by hand with the course's
names (`cnn.*`, `fc.0`): kdsweep's seeded weights copied onto it in definition order, its
layer-by-layer shapes and eval-mode logits on a seeded 2x3x224x224 input saved. So this pins
the layout as the homework prints it and kdsweep's output to that network's; it is not a
run of the course's own file.
"""

import pytest
import torch
from _golden import read_golden, seeded_input, seeded_model

from kdsweep.engine.models import build_model, load_weights
from kdsweep.errors import UserError

GOLDEN = read_golden("models_003_food11_student.json")
CALIBRATE = (4, 3, 224, 224)  # the BN-statistics pass of `seeded_model`, as at generation


def _params(model):
    return sum(p.numel() for p in model.parameters())


def _student():
    return build_model({"arch": "food11_student"}, 11)


def test_food11_student_is_exactly_003s_size():
    model = _student()
    assert _params(model) == GOLDEN["params"] == 59_723
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)] == [4, 16, 64, 84]
    assert all(m.padding == (0, 0) for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_layer_by_layer_shapes_end_at_26x26():
    model = seeded_model(_student, CALIBRATE)
    expected = [shape for _, _, shape in GOLDEN["layer_shapes"]]
    got, h = [], seeded_input(tuple(GOLDEN["input"]))
    with torch.no_grad():
        for stage in model.features:
            for layer in stage:
                h = layer(h)
                got.append(list(h.shape[1:]))
        got.append(list(model.pool(h).shape[1:]))
    assert got == expected
    assert got[-2] == [84, 26, 26]


def test_eval_logits_equal_the_course_layout_on_the_same_weights():
    model = seeded_model(_student, CALIBRATE)
    with torch.no_grad():
        logits = model(seeded_input(tuple(GOLDEN["input"])))
    assert (logits - torch.tensor(GOLDEN["logits"])).abs().max().item() < 1e-4


def test_a_course_checkpoint_loads_through_the_original_layout(tmp_path):
    source = seeded_model(_student, CALIBRATE)
    state = dict(zip(GOLDEN["original_keys"], source.state_dict().values(), strict=True))
    torch.save(state, tmp_path / "student_best.ckpt")
    model = _student()
    load_weights(model, tmp_path / "student_best.ckpt", strict=True, where="student.init.checkpoint")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values(), strict=True))


def test_padding_option_restores_the_padded_variant():
    model = build_model({"arch": "food11_student", "kwargs": {"padding": 1}}, 11)
    assert _params(model) == 59_723
    with torch.no_grad():
        assert model.eval().features(torch.randn(1, 3, 224, 224)).shape == (1, 84, 28, 28)


def test_dwpw_student_default_under_budget_and_configurable():
    model = build_model({"arch": "dwpw_student"}, 11)
    assert _params(model) == 50_827 and _params(model) < 60_000
    assert isinstance(model.features[1][2], torch.nn.LeakyReLU) and model.features[1][2].negative_slope == 0.01
    assert model.features[1][0].groups == 32  # depthwise
    model.eval()
    with torch.no_grad():
        assert model.features(torch.randn(1, 3, 224, 224)).shape == (1, 256, 14, 14)
    small = build_model({"arch": "dwpw_student", "kwargs": {"channels": [8, 16, 32], "strides": [1, 2]}}, 11)
    with torch.no_grad():
        assert small.eval().features(torch.randn(1, 3, 32, 32)).shape == (1, 32, 8, 8)
    with pytest.raises(UserError, match="student.kwargs: dwpw_student does not accept these kwargs .*strides"):
        build_model({"arch": "dwpw_student", "kwargs": {"channels": [8, 16, 32], "strides": [1]}}, 11)
