"""Feature Affinity (000): global, fast and local variants against explicit formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.engine.losses.fa import FeatureAffinity, box_sum, probe_vector
from kdsweep.errors import UserError


def ctx_of(fs: torch.Tensor, ft: torch.Tensor) -> LossContext:
    b = fs.shape[0]
    return LossContext(torch.zeros(b, 3), torch.zeros(b, dtype=torch.long), torch.zeros(b, 3),
                       student_feats={"s": fs}, teacher_feats={"t": ft})


def fa(**kw) -> FeatureAffinity:
    return FeatureAffinity("s", "t", **kw)


def reference_affinities(fs: torch.Tensor, ft: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel loops, as the formula reads: A_ij = <f_i / |f_i|, f_j / |f_j|>."""
    ft = F.interpolate(ft, size=fs.shape[-2:], mode="bilinear", align_corners=True)  # as 000

    def aff(f):
        b, c, h, w = f.shape
        pix = [[f[k, :, i // w, i % w] for i in range(h * w)] for k in range(b)]
        return torch.stack([torch.stack([torch.stack([torch.dot(p / p.norm(), q / q.norm()) for q in row])
                                         for p in row]) for row in pix])

    return aff(fs), aff(ft)


def chebyshev_weights(h: int, w: int, r: int, lw: float) -> torch.Tensor:
    n = h * w
    out = torch.ones(n, n)
    for i in range(n):
        for j in range(n):
            if max(abs(i // w - j // w), abs(i % w - j % w)) <= r:
                out[i, j] = lw
    return out


def test_hand_example():
    # student pixels (3, 0) and (0, 5): unit vectors e1, e2 -> A_s = I
    fs = torch.tensor([[[[3.0, 0.0]], [[0.0, 5.0]]]])  # (1, 2, 1, 2)
    # teacher pixels both along e1 -> A_t = all ones; |A_s - A_t| sums to 2; / (HW)^2 = 4
    ft = torch.tensor([[[[1.0, 2.0]], [[0.0, 0.0]], [[0.0, 0.0]]]])  # 3 channels: fine
    assert float(fa().value(ctx_of(fs, ft))) == pytest.approx(0.5)


def test_matches_per_pixel_reference_with_resize_and_channel_mismatch():
    torch.manual_seed(0)
    fs, ft = torch.randn(2, 5, 3, 4), torch.randn(2, 7, 6, 8)  # teacher map twice the size
    a_s, a_t = reference_affinities(fs, ft)
    want = (a_s - a_t).abs().sum() / (12 * 12)
    assert float(fa().value(ctx_of(fs, ft))) == pytest.approx(float(want), rel=1e-5)


def test_summed_over_the_batch_and_weighted():
    torch.manual_seed(1)
    fs, ft = torch.randn(3, 4, 4, 4), torch.randn(3, 6, 4, 4)
    whole = float(fa().value(ctx_of(fs, ft)))
    parts = sum(float(fa().value(ctx_of(fs[i:i + 1], ft[i:i + 1]))) for i in range(3))
    assert whole == pytest.approx(parts, rel=1e-6)
    assert float(fa(weight=2.5)(ctx_of(fs, ft))) == pytest.approx(2.5 * whole, rel=1e-6)
    assert float(fa().value(ctx_of(fs, fs * 3.0))) == pytest.approx(0.0, abs=1e-6)


def test_gradient_reaches_student_only():
    fs = torch.randn(1, 4, 3, 3, requires_grad=True)
    ft = torch.randn(1, 4, 3, 3, requires_grad=True)
    fa().value(ctx_of(fs, ft)).backward()
    assert fs.grad is not None and fs.grad.abs().sum() > 0 and ft.grad is None


def test_fast_is_the_affinity_difference_times_a_seeded_gaussian_vector():
    torch.manual_seed(2)
    fs, ft = torch.randn(2, 5, 4, 4), torch.randn(2, 3, 4, 4)
    torch.manual_seed(123)
    got = float(fa(fast=True).value(ctx_of(fs, ft)))
    torch.manual_seed(123)
    v = probe_vector(16, fs.device)
    a_s, a_t = reference_affinities(fs, ft)
    want = ((a_s - a_t) @ v).abs().sum() / (16 * 16)
    assert got == pytest.approx(float(want), rel=1e-5)
    torch.manual_seed(123)
    assert float(fa(fast=True).value(ctx_of(fs, ft))) == got  # reproducible under the seed
    assert float(fa(fast=True).value(ctx_of(fs, ft))) != got  # a fresh vector per call


def test_probe_vector_is_seeded_from_the_global_rng():
    torch.manual_seed(7)
    a = probe_vector(10, torch.device("cpu"))
    torch.manual_seed(7)
    seed = int(torch.randint(0, 2**62, ()).item())
    assert torch.equal(a, torch.randn(10, generator=torch.Generator().manual_seed(seed)))


def test_local_radius_weights_near_pairs():
    torch.manual_seed(3)
    fs, ft = torch.randn(2, 4, 3, 4), torch.randn(2, 5, 3, 4)
    a_s, a_t = reference_affinities(fs, ft)
    weights = chebyshev_weights(3, 4, 1, 2.0)
    assert weights.sum() == 144 + (2 + 3 + 2) * (2 + 3 + 3 + 2)  # 70 near pairs (rows x columns) weigh 2
    want = (weights * (a_s - a_t)).abs().sum() / 144
    got = fa(local_radius=1, local_weight=2.0).value(ctx_of(fs, ft))
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    plain = float(fa().value(ctx_of(fs, ft)))
    assert float(fa(local_radius=1, local_weight=1.0).value(ctx_of(fs, ft))) == pytest.approx(plain, rel=1e-6)
    assert float(got) > plain


def test_fast_local_matches_weighted_affinity_times_vector():
    torch.manual_seed(4)
    fs, ft = torch.randn(2, 4, 5, 3), torch.randn(2, 6, 5, 3)
    for r in (0, 1, 2, 10):
        torch.manual_seed(9)
        got = float(fa(fast=True, local_radius=r, local_weight=3.0).value(ctx_of(fs, ft)))
        torch.manual_seed(9)
        v = probe_vector(15, fs.device)
        a_s, a_t = reference_affinities(fs, ft)
        want = ((chebyshev_weights(5, 3, r, 3.0) * (a_s - a_t)) @ v).abs().sum() / 225
        assert got == pytest.approx(float(want), rel=1e-5), r


def test_box_sum_is_a_zero_padded_window_sum():
    torch.manual_seed(5)
    x = torch.randn(2, 3, 6, 5)
    for r in (0, 1, 2, 7):
        k = 2 * r + 1
        want = F.conv2d(x.reshape(6, 1, 6, 5), torch.ones(1, 1, k, k), padding=r).reshape(2, 3, 6, 5)
        torch.testing.assert_close(box_sum(x, r), want, rtol=1e-5, atol=1e-5)


def test_float32_under_autocast():
    torch.manual_seed(6)
    fs = torch.randn(2, 8, 4, 4).to(torch.bfloat16)
    ft = torch.randn(2, 8, 4, 4).to(torch.bfloat16)
    losses = build_losses({"fa": {"student_layer": "s", "teacher_layer": "t"}})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = losses(ctx_of(fs, ft))["fa"]
    assert got.dtype == torch.float32
    want = fa().value(ctx_of(fs.float(), ft.float()))
    assert float(got) == pytest.approx(float(want), rel=1e-6)


def test_shape_and_config_mistakes():
    with pytest.raises(UserError, match=r"\(B, C, H, W\)") as err:
        fa().value(ctx_of(torch.randn(2, 4), torch.randn(2, 4, 3, 3)))
    assert err.value.where == "loss.fa.student_layer"
    with pytest.raises(ValueError, match="'s'.*FeatureHooks"):
        fa().value(LossContext(torch.zeros(1, 2), torch.tensor([0]), torch.zeros(1, 2)))
    with pytest.raises(UserError) as err:
        build_losses({"fa": {"teacher_layer": "t"}})
    assert err.value.where == "loss.fa.student_layer"
    with pytest.raises(UserError) as err:
        build_losses({"fa": {"student_layer": "s", "teacher_layer": "t", "local_radius": 1.5}})
    assert err.value.where == "loss.fa.local_radius"
