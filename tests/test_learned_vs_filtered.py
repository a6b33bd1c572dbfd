"""Learned, not filtered: the preference path (top-k → VITAL patches → HF power) on real networks.

Two known answers, with untrained narrow ResNets so that nothing but the manipulation differs:

(a) the *filter* path: the same network behind a Gaussian blur prefers clear patches with less
    high-frequency power than the network alone (a filter effect, non-zero, with no training), and
    the reference at σ 0 is the network itself (the trained-minus-reference difference is exactly 0);
(b) the *learned* path: a network whose stem kernels were explicitly low-passed — no blur layer
    anywhere, clear images in — prefers patches with less HF power than the unmodified network, and
    the stem diagnostic (:func:`blurscope.models.kernels.hf_energy_fraction`) sees the change.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from blurscope.blur import gaussian_kernel1d
from blurscope.features.patches import make_patches
from blurscope.features.topk import extract_topk
from blurscope.models.kernels import hf_energy_fraction, stem_weight
from blurscope.models.network import BlurscopeNet, build_model
from blurscope.spectra.spectrum import hf_power_fraction

SIZE, LAYER, CUTOFF = 64, "layer2.0", 0.25


def _images(n: int = 160, seed: int = 0) -> np.ndarray:
    """uint8 ``[n, 64, 64, 3]`` gratings of random orientation, phase and colour, spatial
    frequency spread evenly over 0.02–0.45 cycles/px: half mostly below, half above the cutoff."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    freqs = np.linspace(0.02, 0.45, n)
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i, f in enumerate(rng.permutation(freqs)):
        theta, phase = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
        g = np.cos(2 * np.pi * f * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
        colour = rng.uniform(0.3, 1.0, 3)
        out[i] = np.clip(127.5 + 120 * g[..., None] * colour, 0, 255).astype(np.uint8)
    return out


def _network(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("resnet_narrow", 4, False, widths=(8, 16, 16, 32)).eval()


def _preferred_hf(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """Mean HF power fraction of each neuron's preferred clear patches, ``[n_neurons]``."""
    top = extract_topk(model, images, [LAYER], k=8, neurons_per_layer=16, batch_size=64)[LAYER]
    ps = make_patches("vital", model, images, top, LAYER, n_show=8, window_224=128, batch_size=256)
    n, s, p = ps.patches.shape[:3]
    grey = ps.patches.astype(np.float64).mean(-1).reshape(n * s, p, p)
    return hf_power_fraction(grey, CUTOFF, "hann").reshape(n, s).mean(1)


def _low_passed_stem(backbone: torch.nn.Module, sigma_px: float) -> torch.nn.Module:
    """``backbone`` with every stem kernel convolved (same size, zero padding) with a Gaussian."""
    conv = backbone.conv1 if hasattr(backbone, "conv1") else None
    assert isinstance(conv, torch.nn.Conv2d), "the narrow ResNet's stem is conv1"
    k = conv.weight.shape[-1]
    g = torch.as_tensor(gaussian_kernel1d(sigma_px), dtype=conv.weight.dtype)
    g2 = (g[:, None] * g[None, :])[None, None]
    w = conv.weight.detach().reshape(-1, 1, k, k)
    lp = torch.nn.functional.conv2d(w, g2, padding=g2.shape[-1] // 2)
    with torch.no_grad():
        conv.weight.copy_(lp.reshape(conv.weight.shape))
    return backbone


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_filter_alone_lowers_preferred_hf_and_the_sigma0_reference_is_the_network(seed: int) -> None:
    images = _images()
    backbone = _network(seed)
    alone = _preferred_hf(BlurscopeNet(backbone, 0.0).eval(), images)
    blurred = _preferred_hf(BlurscopeNet(backbone, 2.0).eval(), images)  # same weights, blur in front
    filter_effect = blurred.mean() - alone.mean()
    assert filter_effect < -0.15, (alone.mean(), blurred.mean())  # non-zero, and downward, with no training
    assert (blurred < alone).mean() > 0.5  # most neurons, not one outlier
    again = _preferred_hf(BlurscopeNet(backbone, 0.0).eval(), images)
    assert np.array_equal(again, alone)  # ref-sigma0 == sigma0: trained − reference is exactly 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_low_passed_stem_kernels_lower_preferred_hf_without_any_blur_layer(seed: int) -> None:
    images = _images()
    plain = _network(seed)
    before = _preferred_hf(BlurscopeNet(plain, 0.0).eval(), images)
    stem_before = hf_energy_fraction(stem_weight(plain), CUTOFF).mean()
    smooth = _low_passed_stem(_network(seed), 1.5)  # same initialisation, stem low-passed
    after = _preferred_hf(BlurscopeNet(smooth, 0.0).eval(), images)
    stem_after = hf_energy_fraction(stem_weight(smooth), CUTOFF).mean()
    assert stem_after < 0.5 * stem_before, (stem_before, stem_after)  # the diagnostic sees the change
    assert after.mean() < before.mean() - 0.15, (before.mean(), after.mean())  # the learned path detects it
    assert (after < before).mean() > 0.5
