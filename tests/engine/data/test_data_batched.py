import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from kdsweep.engine.data import batched
from kdsweep.errors import UserError

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 8, size: int = 12, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=gen(seed)).to(device)


@pytest.mark.parametrize("device", DEVICES)
def test_flip_is_a_per_sample_coin(device):
    x = images(64, device=device)
    out = batched.Flip(0.5, -1)(x, gen())
    flipped = [bool(torch.equal(o, s.flip(-1))) for o, s in zip(out, x, strict=True)]
    kept = [bool(torch.equal(o, s)) for o, s in zip(out, x, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert 15 < sum(flipped) < 49
    assert torch.equal(batched.Flip(1.0, -2)(x, gen()), x.flip(-2))
    assert torch.equal(batched.Flip(0.0, -1)(x, gen()), x)


@pytest.mark.parametrize("device", DEVICES)
def test_pad_crop_takes_one_window_of_the_zero_padded_image_per_sample(device):
    x = images(16, size=8, device=device)
    out = batched.PadCrop(v2.RandomCrop(8, padding=2))(x, gen(1))
    padded = F.pad(x, [2, 2, 2, 2])
    offsets = set()
    for o, p in zip(out, padded, strict=True):
        hits = [(i, j) for i in range(5) for j in range(5) if torch.equal(p[:, i : i + 8, j : j + 8], o)]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 4  # offsets differ between samples


def test_pad_crop_fill_reflect_and_pad_if_needed():
    x = torch.full((2, 3, 4, 4), 0.5)
    out = batched.PadCrop(v2.RandomCrop(8, pad_if_needed=True, fill=255))(x, gen())
    assert out.shape == (2, 3, 8, 8)
    assert set(out.unique().tolist()) == {0.5, 1.0}  # 255 on the 0..255 scale is 1.0 here
    same = batched.PadCrop(v2.RandomCrop(4, padding=1, padding_mode="reflect"))(x, gen())
    assert torch.equal(same, x)
    with pytest.raises(UserError, match="larger than the padded image"):
        batched.PadCrop(v2.RandomCrop(6))(x, gen())


def test_resized_crop_boxes_follow_torchvisions_rules():
    t = v2.RandomResizedCrop(32, scale=(0.3, 1.0), ratio=(0.8, 1.2))
    boxes = batched.ResizedCrop(t, "bilinear").boxes(gen(), 2000, 32, 32)
    i, j, h, w = boxes.unbind(1)
    assert bool(((i >= 0) & (j >= 0) & (i + h <= 32) & (j + w <= 32)).all())
    area = (h * w).double() / (32 * 32)
    assert 0.25 < float(area.min()) and float(area.max()) <= 1.0
    ratio = w.double() / h
    assert float(ratio.min()) > 0.7 and float(ratio.max()) < 1.3
    assert len({tuple(b) for b in boxes.tolist()}) > 500
    # A box that can never fit falls back to the central crop clipped to the ratio range.
    wide = batched.ResizedCrop(v2.RandomResizedCrop(8, scale=(2.0, 3.0), ratio=(1.0, 1.0)), "bilinear")
    assert wide.boxes(gen(), 3, 10, 20).tolist() == [[0, 5, 10, 10]] * 3


@pytest.mark.parametrize("device", DEVICES)
def test_resized_crop_equals_crop_then_resize(device):
    """On a GPU one grid_sample (no antialiasing); on the CPU torchvision's own antialiased
    resized_crop per sample, for float and uint8 batches alike."""
    x = images(6, size=16, device=device)
    op = batched.ResizedCrop(v2.RandomResizedCrop(10, scale=(0.2, 1.0)), "bilinear")
    uint8 = [(x * 255).round().to(torch.uint8)] if device == "cpu" else []  # takes_uint8: the CPU only
    for batch in [x, *uint8]:
        out = op(batch, gen(4))
        assert out.dtype == batch.dtype
        for sample, o, (i, j, h, w) in zip(batch, out, op.boxes(gen(4), 6, 16, 16).tolist(), strict=True):
            if device == "cpu":
                expected = TF.resized_crop(sample, i, j, h, w, [10, 10], antialias=True)
                assert torch.equal(o, expected)
            else:
                crop = sample[None, :, i : i + h, j : j + w]
                expected = F.interpolate(crop, size=(10, 10), mode="bilinear", align_corners=False)[0]
                assert torch.allclose(o, expected, atol=1e-5)
    identity = batched.ResizedCrop(v2.RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0)), "bilinear")
    assert torch.allclose(identity(x, gen()), x, atol=1e-5)


@pytest.mark.parametrize(
    "kind,fn", [(0, TF.adjust_brightness), (1, TF.adjust_contrast), (2, TF.adjust_saturation)]
)
def test_jitter_ops_match_torchvision(kind, fn):
    x = images(4)
    factors = torch.tensor([0.6, 1.0, 1.3, 1.7])
    out = batched.Jitter._apply(kind, x, factors)
    for o, s, f in zip(out, x, factors.tolist(), strict=True):
        assert torch.allclose(o, fn(s, f), atol=1e-6)


def test_jitter_brightness_factor_stays_in_range_and_varies():
    x = torch.rand(200, 3, 4, 4, generator=gen()) * 0.5 + 0.2  # no clamping at 1.2 x
    out = batched.Jitter(v2.ColorJitter(brightness=0.2))(x, gen(2))
    factor = (out / x).flatten(1)
    assert torch.allclose(factor.min(1).values, factor.max(1).values, atol=1e-5)  # one factor per sample
    assert 0.8 - 1e-6 <= float(factor.min()) and float(factor.max()) <= 1.2 + 1e-6
    assert float(factor[:, 0].std()) > 0.05


def test_jitter_order_is_random_per_sample():
    # brightness then contrast differs from contrast then brightness: both orders must occur.
    x = torch.rand(1, 3, 4, 4, generator=gen()).expand(64, -1, -1, -1).contiguous()
    op = batched.Jitter(v2.ColorJitter(brightness=(1.5, 1.5), contrast=(0.5, 0.5)))
    out = op(x, gen(3))
    b_then_c = TF.adjust_contrast(TF.adjust_brightness(x[0], 1.5), 0.5)
    c_then_b = TF.adjust_brightness(TF.adjust_contrast(x[0], 0.5), 1.5)
    first = [torch.allclose(o, b_then_c, atol=1e-6) for o in out]
    second = [torch.allclose(o, c_then_b, atol=1e-6) for o in out]
    assert all(a != b for a, b in zip(first, second, strict=True))
    assert 10 < sum(first) < 54


@pytest.mark.parametrize("device", DEVICES)
def test_erasing_blanks_one_rectangle_per_sample(device):
    x = images(32, size=20, device=device) + 1.0  # strictly positive, so erased pixels are the zeros
    out = batched.Erase(v2.RandomErasing(p=1.0))(x, gen(5))
    for o in out:
        zeros = (o == 0).all(0)
        rows, cols = zeros.any(1).nonzero().squeeze(1), zeros.any(0).nonzero().squeeze(1)
        assert len(rows) and len(cols)
        assert int(zeros.sum()) == len(rows) * len(cols)  # a filled rectangle
        assert 0.02 * 400 - 20 <= int(zeros.sum()) <= 0.33 * 400 + 20
    assert torch.equal(batched.Erase(v2.RandomErasing(p=0.0))(x, gen()), x)


def test_normalize_and_whole_batch_ops():
    x = torch.full((2, 3, 6, 6), 0.5)
    out = batched.Normalize((0.5, 0.25, 0.0), (0.5, 0.25, 0.5))(x, gen())
    assert torch.allclose(out[:, :, 0, 0], torch.tensor([[0.0, 1.0, 1.0]] * 2))
    assert batched.WholeBatch(v2.Resize(3))(x, gen()).shape == (2, 3, 3, 3)


def test_per_sample_fallback_is_seeded_by_the_generator_only():
    x = images(6, size=16)
    x = (x * 255).round() / 255
    op = batched.PerSample([v2.RandomRotation(30)], ["RandomRotation"], "data.t")
    torch.manual_seed(0)
    a = op(x, gen(1))
    torch.manual_seed(99)
    state = torch.get_rng_state()
    b = op(x, gen(1))
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left where it was
    assert torch.equal(a, b)
    assert not torch.equal(a, op(x, gen(2)))


def test_compile_reports_which_ops_are_batched():
    specs = [
        {"name": "RandomResizedCrop", "size": 8},
        "RandomHorizontalFlip",
        "RandAugment",
        "ToTensor",
        {"name": "ColorJitter", "brightness": 0.2, "hue": 0.1},
        "RandomErasing",
    ]
    pipeline = batched.compile_pipeline(specs, (0.5,) * 3, (0.5,) * 3, "data.t")
    assert pipeline.describe() == [
        "RandomResizedCrop:batched",
        "RandomHorizontalFlip:batched",
        "RandAugment:per-sample",
        "ColorJitter:per-sample",
        "RandomErasing:batched",
        "Normalize:batched",
    ]
    x = (torch.rand(5, 3, 16, 16, generator=gen()) * 255).to(torch.uint8)
    out = pipeline(x, gen())
    assert out.shape == (5, 3, 8, 8) and out.dtype == torch.float32
    assert torch.equal(out, pipeline(x, gen()))


def test_compile_normalises_uint8_batches_with_the_given_statistics():
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = batched.compile_pipeline([], (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "x")(x, gen())
    assert torch.allclose(out, torch.full_like(out, 2.0))


def test_per_sample_ops_that_change_size_fail_clearly():
    x = (torch.rand(4, 3, 16, 16, generator=gen()) * 255).to(torch.uint8)
    pipeline = batched.compile_pipeline(
        [{"name": "RandomResize", "min_size": 8, "max_size": 16}], (0,) * 3, (1,) * 3, "data.train_transforms"
    )
    with pytest.raises(
        UserError, match="data.train_transforms: RandomResize gives images of different sizes"
    ):
        pipeline(x, gen())


@pytest.mark.parametrize("fill", [0, 255, 0.5])
def test_a_uint8_batch_gives_what_its_float_copy_gives(fill):
    """On the CPU the crops and flips run on uint8 and Normalize converts; a fill that is no whole
    0..255 level (0.5) makes RandomCrop take floats instead. Same values either way."""
    specs = [{"name": "RandomCrop", "size": 8, "padding": 3, "fill": fill}, "RandomHorizontalFlip",
             "RandomVerticalFlip", {"name": "RandomResizedCrop", "size": 6}]
    pipeline = batched.compile_pipeline(specs, (0.4, 0.5, 0.6), (0.2, 0.3, 0.25), "x")
    x = (torch.rand(32, 3, 10, 10, generator=gen()) * 255).round().to(torch.uint8)
    from_uint8, from_float = pipeline(x, gen(5)), pipeline(x.float() / 255, gen(5))
    assert from_uint8.dtype == torch.float32
    # RandomResizedCrop rounds to uint8 levels where it is given uint8 (as v2 does): 1/255 apart at most
    assert (from_uint8 - from_float).abs().max() <= 1 / 255 / 0.2 + 1e-5
    no_resize = batched.compile_pipeline(specs[:3], (0.4, 0.5, 0.6), (0.2, 0.3, 0.25), "x")
    assert torch.allclose(no_resize(x, gen(5)), no_resize(x.float() / 255, gen(5)), atol=1e-5)
