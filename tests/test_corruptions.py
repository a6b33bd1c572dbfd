"""Tests for blurscope.corruptions: shapes, ranges, determinism, severity monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from blurscope import blur, corruptions, freq

NAMES = sorted(corruptions.CORRUPTIONS)


def natural_images(n: int = 4, h: int = 48, w: int = 48, seed: int = 0) -> torch.Tensor:
    """Random images with natural-image statistics: 1/f amplitude spectrum (on the
    blurscope.freq grid), mean 0.5, contrast 0.15, clipped to [0.02, 0.98]."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, h, w, generator=g)
    r = freq.as_tensor(freq.radius_cpp(h, w), z).clamp_min(1.0 / max(h, w))
    x = torch.fft.ifft2(torch.fft.fft2(z) / r).real
    x = (x - x.mean((1, 2, 3), keepdim=True)) / x.std((1, 2, 3), keepdim=True)
    return (0.5 + 0.15 * x).clamp(0.02, 0.98)


def test_required_corruptions_present() -> None:
    for name in ("gaussian_noise", "gaussian_blur", "contrast", "jpeg", "pixelate", "highpass_noise"):
        assert name in corruptions.CORRUPTIONS
        assert len(corruptions.PARAMS[name]) == 5


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(48, 48), (33, 40)])
def test_shape_range_dtype_preserved(name: str, shape: tuple[int, int]) -> None:
    x = natural_images(3, *shape)
    for s in corruptions.SEVERITIES:
        y = corruptions.corrupt(x, name, s, seed=1)
        assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
        assert y.min() >= 0 and y.max() <= 1
        assert not torch.equal(y, x)


@pytest.mark.parametrize("name", NAMES)
def test_severity_monotone_psnr(name: str) -> None:
    x = natural_images(6, seed=2)
    psnr = [corruptions.psnr(x, corruptions.corrupt(x, name, s, seed=3)).mean().item() for s in corruptions.SEVERITIES]
    assert all(math.isfinite(p) for p in psnr)
    assert np.all(np.diff(psnr) < 0), f"{name}: PSNR per severity {psnr}"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_seed(name: str) -> None:
    x = natural_images(2, seed=4)
    a = corruptions.corrupt(x, name, 3, seed=5)
    assert torch.equal(a, corruptions.corrupt(x, name, 3, seed=5))
    if "noise" in name:
        assert not torch.equal(a, corruptions.corrupt(x, name, 3, seed=6))


def test_gaussian_blur_goes_through_blurscope_blur_scaled_to_size() -> None:
    x = natural_images(2, 64, 64)
    for s, sigma224 in zip(corruptions.SEVERITIES, corruptions.PARAMS["gaussian_blur"]):
        ref = blur.gaussian_blur(x, sigma224 * 64 / 224).clamp(0, 1)
        torch.testing.assert_close(corruptions.corrupt(x, "gaussian_blur", s), ref)


def test_highpass_noise_has_no_low_frequency_power() -> None:
    x = torch.full((4, 3, 32, 32), 0.5)
    d = (corruptions.corrupt(x, "highpass_noise", 1, seed=0) - x).double()
    p = (torch.fft.fft2(d).abs() ** 2).sum((0, 1)).numpy()
    low = freq.normalized_radius(32, 32) <= corruptions.HIGHPASS_CUTOFF
    assert p[low].sum() / p.sum() < 1e-6
    rms = d.pow(2).mean().sqrt().item()
    assert rms == pytest.approx(corruptions.PARAMS["highpass_noise"][0], rel=0.02)


def test_contrast_keeps_mean_and_pixelate_makes_blocks() -> None:
    x = natural_images(2)
    y = corruptions.corrupt(x, "contrast", 5)
    torch.testing.assert_close(y.mean((1, 2, 3)), x.mean((1, 2, 3)))
    torch.testing.assert_close(y.std((1, 2, 3)), 0.05 * x.std((1, 2, 3)))
    p = corruptions.corrupt(x, "pixelate", 5)  # 48 px -> 12 px: blocks of 4 holding their mean
    blocks = x.unfold(-2, 4, 4).unfold(-2, 4, 4).mean((-1, -2))
    torch.testing.assert_close(p, blocks.repeat_interleave(4, -1).repeat_interleave(4, -2))
    torch.testing.assert_close(p.mean((1, 2, 3)), x.mean((1, 2, 3)))  # area resampling keeps the mean


def test_bad_names_and_inputs() -> None:
    x = natural_images(1)
    with pytest.raises(ValueError, match="frequency.corruptions"):
        corruptions.corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="frequency.severities"):
        corruptions.corrupt(x, "contrast", 6)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        corruptions.corrupt(x[:, :1], "contrast", 1)
    with pytest.raises(TypeError, match="float"):
        corruptions.corrupt((x * 255).to(torch.uint8), "contrast", 1)


class MeanColour(nn.Module):
    """Classifies by the dominant colour channel (robust to blur, contrast-sensitive)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


def test_corruption_hits_table() -> None:
    g = torch.Generator().manual_seed(0)
    labels = np.arange(12) % 3
    x = torch.full((12, 3, 24, 24), 0.3)
    x[torch.arange(12), torch.as_tensor(labels)] = 0.7
    x = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    conds, hits = corruptions.corruption_hits(MeanColour(), x, labels, ["gaussian_blur", "contrast"], [1, 5], batch_size=5)
    assert list(conds["corruption"]) == ["clean", "gaussian_blur", "gaussian_blur", "contrast", "contrast"]
    assert list(conds["severity"]) == [0, 1, 5, 1, 5]
    assert hits.shape == (5, 12) and hits.dtype == bool
    assert hits.all()  # mean colour survives blur and contrast
    u8 = (x * 255).round().to(torch.uint8)
    _, hits8 = corruptions.corruption_hits(MeanColour(), u8, labels, ["jpeg"], [1], batch_size=64)
    assert hits8[0].all()
    with pytest.raises(ValueError, match="labels"):
        corruptions.corruption_hits(MeanColour(), x, labels[:3], ["jpeg"], [1])
