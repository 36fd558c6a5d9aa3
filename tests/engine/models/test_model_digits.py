import pytest
import torch
import torch.nn.functional as F

from kdsweep.engine.models import MODELS, build_model


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_sizes_and_output_shape():
    teacher = MODELS.get("digits_teacher")(num_classes=10)
    student = MODELS.get("digits_student")(num_classes=10)
    assert _count(teacher) == 391_466
    assert _count(student) == 25_298
    x = torch.randn(4, 3, 32, 32)
    assert teacher(x).shape == (4, 10) and student(x).shape == (4, 10)
    assert student.get_submodule("features.0")(x).shape == (4, 8, 16, 16)
    assert student.get_submodule("features.2")(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def _digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=32, mode="nearest").repeat(1, 3, 1, 1)
    x = (x - 0.3) / 0.4
    y = torch.tensor(d.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    cut = int(0.8 * len(y))
    return x[perm[:cut]], y[perm[:cut]], x[perm[cut:]], y[perm[cut:]]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("arch", "epochs"), [("digits_student", 2), ("digits_teacher", 2)])
def test_trains_past_90_percent_in_seconds(arch, epochs):
    torch.manual_seed(0)
    xt, yt, xv, yv = _digits()
    model = build_model({"arch": arch}, 10)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        model.train()
        for i in range(0, len(yt), 64):
            loss = F.cross_entropy(model(xt[i:i + 64]), yt[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    assert acc > 0.9
