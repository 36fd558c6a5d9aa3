"""MobileNets-M and the MobileNetV2 teacher against 002's own code.

Golden file `tests/engine/models/golden/models_002_mobilenet.json`, made once outside the project by
running 002's model_s.py (`mobilenet_s_medium(101)`) and model_v2.py (`MobileNetV2(101)`)
from Fronik-Lihaotian/knowledgeDistillation @ 7a017bf: kdsweep's seeded model
(`_golden.seeded_model`, BN statistics from an 8x3x96x96 pass) had its state dict copied tensor by tensor, in definition order,
onto the original's names; the original's eval-mode logits on `seeded_input((2, 3, 96, 96))`
were saved, with the original's tensor names and the per-tensor |x| sums of the original's
own initialisation under `torch.manual_seed(0)`. At generation, kdsweep's logits equalled
the original's exactly (max |diff| 0.0) and so did the seed-0 initial weights.
"""

import pytest
import torch
from _golden import abs_sums, names_digest, read_golden, seeded_input, seeded_model

from kdsweep.engine.models import build_model, load_weights
from kdsweep.engine.models.mobilenets_m import OverlapGroupConv, overlap_chunks

GOLDEN = read_golden("models_002_mobilenet.json")
CALIBRATE = (8, 3, 96, 96)  # the BN-statistics pass of `seeded_model`, as at generation
BUILD = {
    "mobilenets_m": lambda: build_model({"arch": "mobilenets_m"}, 101),
    "mobilenet_v2": lambda: build_model({"arch": "mobilenet_v2"}, 101),  # 002's teacher is torchvision's
}


def test_overlap_order_a_b_b_c_c_d_d_a():
    x = torch.arange(8.0).view(1, 8, 1, 1)  # chunks a=[0,1] b=[2,3] c=[4,5] d=[6,7]
    assert overlap_chunks(x).flatten().tolist() == [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 0, 1]


def test_group_k_sees_chunks_k_and_k_plus_1():
    conv = OverlapGroupConv(8, 4).eval()  # 4 groups, one output each; BN at its identity init
    assert conv.conv.weight.shape == (4, 4, 1, 1)
    with torch.no_grad():
        conv.conv.weight.fill_(1.0)
    x = torch.zeros(1, 8, 1, 1)
    x[0, 6] = 1.0  # a channel of chunk d: seen by group 2 (c, d) and group 3 (d, a)
    assert conv(x).flatten().tolist() == pytest.approx([0.0, 0.0, 1.0, 1.0], abs=1e-4)


def test_size_and_layout_are_002s():
    model = build_model({"arch": "mobilenets_m"}, 101)
    assert sum(p.numel() for p in model.parameters()) == 1_500_901
    assert model.features[1].expand.conv.in_channels == 64 and model.features[1].expand.conv.out_channels == 32  # t = 1
    assert model.features[2].expand.conv.groups == 4 and model.features[2].expand.conv.out_channels == 64
    assert isinstance(model.features[2].expand.bn, torch.nn.BatchNorm2d)
    # the only train-mode regulariser is the dropout 0.2 before the classifier
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 1 and dropouts[0].p == 0.2 and model.classifier[0] is dropouts[0]
    assert model.features[2].residual is False and model.features[3].residual is True


@pytest.mark.parametrize("arch", BUILD)
def test_eval_logits_equal_002s_original_on_the_same_weights(arch):
    model = seeded_model(BUILD[arch], CALIBRATE)
    with torch.no_grad():
        logits = model(seeded_input(tuple(GOLDEN["input"])))
    assert (logits - torch.tensor(GOLDEN[arch]["logits"])).abs().max().item() < 1e-4


@pytest.mark.parametrize("arch", BUILD)
def test_initialisation_is_002s(arch):
    torch.manual_seed(0)
    ours = abs_sums(BUILD[arch]().state_dict())
    assert ours == pytest.approx(GOLDEN[arch]["init_abs_sums_seed0"], rel=1e-6)


def test_teacher_names_are_002s_so_its_checkpoints_load_as_they_are():
    names = list(BUILD["mobilenet_v2"]().state_dict())
    assert names_digest(names) == GOLDEN["mobilenet_v2"]["original_keys_sha1"]


def test_a_002_checkpoint_loads_through_the_original_layout(tmp_path):
    """A state dict under 002's own names (model_s.py) loads into kdsweep's model, teacher-strict."""
    source = seeded_model(BUILD["mobilenets_m"], CALIBRATE)
    original_names = GOLDEN["mobilenets_m"]["original_keys"]
    assert names_digest(original_names) == GOLDEN["mobilenets_m"]["original_keys_sha1"]
    state = dict(zip(original_names, source.state_dict().values(), strict=True))  # same definition order
    torch.save(state, tmp_path / "MobileNets.pth")
    model = BUILD["mobilenets_m"]()
    loaded = load_weights(model, tmp_path / "MobileNets.pth", strict=True, where="teacher.checkpoint")
    assert len(loaded) == len(original_names)
    with torch.no_grad():
        logits = model.eval()(seeded_input(tuple(GOLDEN["input"])))
    assert (logits - torch.tensor(GOLDEN["mobilenets_m"]["logits"])).abs().max().item() < 1e-4
