"""Known-answer tests for blurscope.complexity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from blurscope import complexity
from blurscope.blur import gaussian_blur

COLUMNS = [
    "compression_ratio",
    "entropy",
    "edge_density",
    "edge_strength",
    "wavelet_approx",
    "wavelet_h",
    "wavelet_v",
    "wavelet_d",
    "wavelet_energy",
]


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(grey, dtype=np.uint8)[..., None], 3, axis=-1)


def test_columns_are_the_contract() -> None:
    rng = np.random.default_rng(0)
    df = complexity.complexity_metrics(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    assert list(df.columns) == COLUMNS
    assert len(df) == 4
    assert np.isfinite(df.to_numpy()).all()


def test_constant_patch() -> None:
    df = complexity.complexity_metrics(np.full((2, 16, 16, 3), 140, dtype=np.uint8))
    assert (df["entropy"] == 0).all()
    assert (df["edge_density"] == 0).all()
    assert (df["edge_strength"] == 0).all()
    assert (df["wavelet_approx"] == 1).all()
    assert (df[["wavelet_h", "wavelet_v", "wavelet_d", "wavelet_energy"]] == 0).all().all()


def test_uniform_noise_entropy_and_jpeg_ratio_minimum() -> None:
    rng = np.random.default_rng(1)
    # entropy: 65536 uniform 8-bit grey samples carry 8 bits up to sampling noise
    grey_noise = _grey_rgb(rng.integers(0, 256, (1, 256, 256)))
    assert complexity.complexity_metrics(grey_noise)["entropy"][0] == pytest.approx(8.0, abs=0.01)
    # JPEG: i.i.d. uniform RGB noise is incompressible apart from 4:2:0 chroma subsampling
    # (1 luma + 2 x 1/4 chroma bytes per pixel -> ratio about 2 at most), the minimum over patterns
    noise = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    y, x = np.mgrid[0:64, 0:64]
    smooth = _grey_rgb((128 + 60 * np.sin(2 * np.pi * x / 64) * np.cos(2 * np.pi * y / 32))[None])
    stripes = _grey_rgb((((x // 8) % 2) * 200 + 20)[None])
    const = np.full((1, 64, 64, 3), 90, dtype=np.uint8)
    ratios = complexity.complexity_metrics(np.concatenate([noise, smooth, stripes, const]))["compression_ratio"]
    assert ratios[0] == ratios.min()
    assert 1.5 < ratios[0] < 2.4
    assert ratios[1:].min() > 2 * ratios[0]
    # at 16 px the ~620-byte JPEG header dominates; noise still sits at the minimum
    small = complexity.jpeg_compression_ratio(np.concatenate([noise[:, :16, :16], const[:, :16, :16]]))
    assert small[0] < 1.0 < small[1]


def test_luma_matches_pillow() -> None:
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (3, 20, 24, 3), dtype=np.uint8)
    ours = complexity.grey_luma(rgb)
    pil = np.stack([np.asarray(Image.fromarray(p).convert("L")) for p in rgb])
    np.testing.assert_array_equal(ours, pil)


def test_entropy_known_values() -> None:
    half = np.zeros((1, 16, 16), dtype=np.uint8)
    half[0, :, 8:] = 255
    quarters = np.zeros((1, 16, 16), dtype=np.uint8)
    quarters[0, :, 4:8], quarters[0, :, 8:12], quarters[0, :, 12:] = 50, 100, 150
    np.testing.assert_allclose(complexity.shannon_entropy(np.concatenate([half, quarters])), [1.0, 2.0])


def test_sobel_step_edge_known_answer() -> None:
    grey = np.full((1, 16, 16), 20.0)
    grey[0, :, 8:] = 120.0  # vertical step of 100 grey levels between columns 7 and 8
    mag = complexity.sobel_magnitude(grey)
    # scipy's unnormalised Sobel on the interior is the reference
    ref = np.hypot(ndimage.sobel(grey[0], axis=1), ndimage.sobel(grey[0], axis=0))[1:-1, 1:-1]
    np.testing.assert_allclose(mag[0], ref)
    density, strength = complexity.edge_metrics(grey, threshold=30)
    # interior columns 1..14; columns 7 and 8 carry |gx| = 4 * 100 = 400
    assert density[0] == pytest.approx(2 / 14)
    assert strength[0] == pytest.approx(2 * 400 / 14)
    # threshold is strict (> 30) and in grey-level Sobel units
    weak = np.full((1, 8, 8), 20.0)
    weak[0, :, 4:] = 27.5  # |gx| = 4 * 7.5 = 30 exactly: not an edge
    assert complexity.edge_metrics(weak, 30)[0][0] == 0


def test_wavelet_fractions_sum_to_one_and_energy_is_variance() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    df = complexity.complexity_metrics(rgb)
    total = df[["wavelet_approx", "wavelet_h", "wavelet_v", "wavelet_d"]].sum(axis=1)
    np.testing.assert_allclose(total, 1.0, rtol=1e-12)
    grey = complexity.grey_luma(rgb).astype(np.float64)
    np.testing.assert_allclose(df["wavelet_energy"], grey.var(axis=(1, 2)), rtol=1e-10)


def test_wavelet_orientation() -> None:
    horizontal = np.zeros((1, 16, 16))
    horizontal[0, ::2, :] = 100  # stripes that vary along y: horizontal detail
    out = complexity.wavelet_energies(np.concatenate([horizontal, horizontal.transpose(0, 2, 1)]))
    assert out[0, 1] == pytest.approx(1.0)
    assert out[1, 2] == pytest.approx(1.0)
    assert out[0, 4] == pytest.approx(2500.0)  # variance of a 0/100 square wave


def test_blur_moves_every_measure_towards_simple() -> None:
    rng = np.random.default_rng(4)
    noise = rng.uniform(0, 255, (40, 1, 18, 18))
    previous = None
    for sigma in (0.0, 1.0, 2.0):
        blurred = gaussian_blur(torch.as_tensor(noise), sigma)[:, 0].numpy() if sigma else noise[:, 0]
        df = complexity.complexity_metrics(_grey_rgb(np.clip(np.round(blurred), 0, 255))).mean()
        if previous is not None:
            assert df["compression_ratio"] > previous["compression_ratio"]
            assert df["entropy"] < previous["entropy"]
            assert df["edge_density"] < previous["edge_density"]
            assert df["edge_strength"] < previous["edge_strength"]
            assert df["wavelet_approx"] > previous["wavelet_approx"]
            assert df["wavelet_energy"] < previous["wavelet_energy"]
        previous = df


def test_wavelet_approx_holds_the_smooth_content_of_larger_patches() -> None:
    rng = np.random.default_rng(5)
    x = np.arange(64)[None, :] * np.ones((64, 1))
    smooth = _grey_rgb((128 + 50 * np.cos(2 * np.pi * x / 64))[None])
    noise = rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    df = complexity.complexity_metrics(np.concatenate([smooth, noise]))
    assert df["wavelet_approx"][0] > 0.95
    assert df["wavelet_approx"][1] < 0.05


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="uint8"):
        complexity.complexity_metrics(np.zeros((1, 16, 16, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[N,H,W,3\]"):
        complexity.complexity_metrics(np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="at least 8 px"):
        complexity.complexity_metrics(np.zeros((1, 6, 6, 3), dtype=np.uint8))
