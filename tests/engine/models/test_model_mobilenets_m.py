import torch

from kdsweep.engine.models import build_model
from kdsweep.engine.models.mobilenets_m import OverlapGroupConv, overlap_chunks


def test_overlap_order_a_b_b_c_c_d_d_a():
    x = torch.arange(8.0).view(1, 8, 1, 1)  # chunks a=[0,1] b=[2,3] c=[4,5] d=[6,7]
    assert overlap_chunks(x).flatten().tolist() == [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 0, 1]


def test_group_k_sees_chunks_k_and_k_plus_1():
    conv = OverlapGroupConv(8, 4)  # 4 groups, one output each
    assert conv.conv.weight.shape == (4, 4, 1, 1)
    with torch.no_grad():
        conv.conv.weight.fill_(1.0)
    x = torch.zeros(1, 8, 1, 1)
    x[0, 6] = 1.0  # a channel of chunk d: seen by group 2 (c, d) and group 3 (d, a)
    assert conv(x).flatten().tolist() == [0.0, 0.0, 1.0, 1.0]


def test_size_and_forward():
    model = build_model({"arch": "mobilenets_m"}, 101)
    count = sum(p.numel() for p in model.parameters())
    assert count == 1_490_853 and 1.4e6 < count < 1.6e6  # 002: "about 1.5M"
    expand = model.features[2].expand.conv
    assert expand.groups == 4 and expand.in_channels == 32 and expand.out_channels == 64
    assert model.features[1].expand.__class__.__name__ == "Identity"  # t = 1
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 101)
    assert model.features[2].residual is False and model.features[3].residual is True
