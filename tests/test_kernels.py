"""Stem-kernel HF energy fraction: hand-computed answers for known kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurscope.models.kernels import hf_energy_fraction, kernel_power


def _cosine(f, k=7, theta=0.0):
    y, x = np.mgrid[:k, :k] - (k - 1) / 2
    return np.cos(2 * np.pi * f * (x * np.cos(theta) + y * np.sin(theta)))


def test_cosine_kernel_above_the_cutoff_is_almost_all_hf():
    w = np.stack([_cosine(0.4)[None], _cosine(0.45, theta=np.pi / 2)[None]])  # [2, 1, 7, 7]
    frac = hf_energy_fraction(w, cutoff=0.25)
    assert frac.shape == (2,)
    assert np.all(frac > 0.9), frac


def test_wide_gaussian_kernel_is_almost_no_hf():
    y, x = np.mgrid[:7, :7] - 3
    g = np.exp(-(x**2 + y**2) / (2 * 1.5**2))  # wide, yet ~0 at the 7x7 border (no truncation leakage)
    frac = hf_energy_fraction(np.tile(g, (4, 3, 1, 1)), cutoff=0.25)
    assert np.all(frac < 0.01), frac


def test_white_noise_kernels_give_the_area_above_the_cutoff():
    """Flat expected spectrum: the fraction is the area of radius > 0.25 in [-0.5, 0.5]², 1 - π/16."""
    w = np.random.default_rng(0).standard_normal((4000, 3, 7, 7))
    frac = hf_energy_fraction(w, cutoff=0.25, pad=64)
    # exact expectation on the discrete 64x64 grid, then the continuous area
    from blurscope.freq import radius_cpp

    area = float((radius_cpp(64, 64) > 0.25).mean())
    assert abs(area - (1 - np.pi / 16)) < 0.01
    assert abs(frac.mean() - area) < 0.005


def test_parseval_and_channel_sum():
    w = np.random.default_rng(1).standard_normal((2, 3, 5, 5))
    p = kernel_power(w, pad=16)
    np.testing.assert_allclose(p.sum(axis=(1, 2)) / 256, (w**2).sum(axis=(1, 2, 3)))


def test_accepts_torch_kernels_and_names_bad_input():
    conv = torch.nn.Conv2d(3, 8, 7)
    assert hf_energy_fraction(conv.weight.detach().numpy()).shape == (8,)
    with pytest.raises(ValueError, match=r"\[C_out, C_in, kh, kw\]"):
        hf_energy_fraction(np.zeros((3, 7, 7)))
    with pytest.raises(ValueError, match="cutoff"):
        hf_energy_fraction(np.ones((1, 1, 3, 3)), cutoff=0.8)
    assert np.isnan(hf_energy_fraction(np.zeros((1, 1, 3, 3))))[0]
