"""Known-answer tests for blurscope.spectra.spectrum (radial power spectra, HF power fraction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_impl import loglog_slope, mean_spectrum

from blurscope import freq
from blurscope.blur import gaussian_blur
from blurscope.spectra import spectrum as spectra


def _power_law_images(n: int, size: int, exponent: float, seed: int) -> np.ndarray:
    """Real images whose 2-D power spectrum is |f|^-exponent (random phases)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    r = np.sqrt(fy**2 + fx**2)
    amp = np.zeros_like(r)
    amp[r > 0] = r[r > 0] ** (-exponent / 2.0)
    noise = rng.normal(size=(n, size, size))
    # White Gaussian noise shaped in the Fourier domain keeps Hermitian symmetry: the image is real.
    return np.real(np.fft.ifft2(np.fft.fft2(noise) * amp))


def _cosine(size: int, cycles_y: int, cycles_x: int, amplitude: float = 50.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    return 128.0 + amplitude * np.cos(2 * np.pi * (cycles_y * y + cycles_x * x) / size)


def test_one_over_f_squared_gives_slope_minus_two() -> None:
    images = _power_law_images(8, 128, exponent=2.0, seed=1)
    for window in spectra.WINDOWS:
        freqs, power = spectra.radial_power_spectrum(images, n_bins=64, window=window)
        slope = loglog_slope(freqs, mean_spectrum(power), fmin=0.02, fmax=0.5)
        assert slope == pytest.approx(-2.0, abs=0.1)


def test_one_over_f_squared_slope_at_18_px_includes_the_first_bin() -> None:
    # 18 px crops of large 1/f^2 fields (not periodic at 18 px): the embedded default's patch size.
    # With bins labelled half a bin low the first bin alone bent the slope to about -1.55.
    fields = _power_law_images(48, 256, exponent=2.0, seed=7)
    crops = np.concatenate([fields[:, y : y + 18, x : x + 18] for y, x in ((0, 0), (97, 141), (200, 31))])
    for window in spectra.WINDOWS:
        freqs, power = spectra.radial_power_spectrum(crops, n_bins=9, window=window)
        mean = mean_spectrum(power)
        slope = loglog_slope(freqs, mean)  # every bin, the first one included
        assert slope == pytest.approx(-2.0, abs=0.2), window
        assert freqs[0] == pytest.approx(1.2071067811865475 / 18)  # mean radius of (0,±1),(±1,0),(±1,±1)


def test_white_noise_is_flat_and_parseval_holds() -> None:
    rng = np.random.default_rng(2)
    images = rng.normal(0.0, 10.0, size=(16, 64, 64))
    for window in spectra.WINDOWS:
        freqs, power = spectra.radial_power_spectrum(images, n_bins=16, window=window)
        assert abs(loglog_slope(freqs, mean_spectrum(power))) < 0.1
        # flat at the variance level (100): the Hann window is power-normalised (mean w^2 = 1)
        assert mean_spectrum(power).mean() == pytest.approx(100.0, rel=0.05)
    # without a window the periodogram |F|^2/(H W) averages exactly to the pixel variance
    p2 = spectra.periodogram(images, window="none")
    np.testing.assert_allclose(p2.mean(axis=(1, 2)), images.var(axis=(1, 2)), rtol=1e-10)
    w = spectra.patch_window(18, 18, "hann")
    assert (w**2).mean() == pytest.approx(1.0) and w[0].max() == 0 and w[:, 0].max() == 0


def test_cosine_power_lands_in_its_bin() -> None:
    size, n_bins = 32, 16  # bin width 1/32 cycles/pixel, bin k centred on (k+1)/32
    img = _cosine(size, 0, 6)  # 6/32 = 0.1875 cycles/pixel -> bin 5, radii (5.5/32, 6.5/32]
    freqs, power = spectra.radial_power_spectrum(img[None], n_bins, window="none")
    assert np.argmax(power[0]) == 5
    r = freq.radius_cpp(size, size)
    in_bin = (r > 5.5 / 32) & (r <= 6.5 / 32)
    assert freqs[5] == pytest.approx(r[in_bin].mean())
    assert abs(freqs[5] - 0.1875) < 0.25 / 32  # within a quarter bin (the old label was 0.171875)
    # all other bins hold no power; the cosine's variance is amplitude^2/2 = 1250 over 2 samples
    assert np.all(np.delete(power[0], 5) < 1e-9)
    expected = (1250.0 * size * size / 2 * 2) / in_bin.sum()  # two samples of 1250*HW/2 each, averaged
    assert power[0, 5] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("window", ["hann", "none"])
@pytest.mark.parametrize("size", [15, 16, 17, 18, 32, 33])
def test_cosines_at_every_grid_frequency_are_labelled_within_a_quarter_bin(size: int, window: str) -> None:
    n_bins = size // 2
    width = (size // 2) / size / n_bins  # = 1/size: one bin per frequency step
    counts = spectra._binning(size, size, n_bins).counts
    # the top frequency of an odd size wraps onto its mirror image under the window
    top = size // 2 if size % 2 == 0 or window == "none" else size // 2 - 1
    cases = [(0, k, k / size) for k in range(1, top + 1)] + [(k, 0, k / size) for k in (1, top)]
    cases.append((3, 4, 5 / size))  # oblique, radius exactly on the grid
    for ky, kx, f0 in cases:
        freqs, power = spectra.radial_power_spectrum(_cosine(size, ky, kx)[None], n_bins, window=window)
        total = power[0] * counts  # the power each bin holds
        best = int(np.argmax(total))
        assert best == int(np.argmax(power[0]))
        assert abs(freqs[best] - f0) <= 0.25 * width, (ky, kx, freqs[best] * size)
        assert total[best] >= 0.499 * total.sum()  # the window spreads some to neighbouring bins


def test_bin_labels_are_mean_radii_and_bins_cover_the_grid() -> None:
    freqs, _ = spectra.radial_power_spectrum(np.zeros((1, 16, 16)), n_bins=8)
    r = freq.radius_cpp(16, 16)
    for k in range(8):
        sel = (r > (k + 0.5) / 16) & (r <= (k + 1.5) / 16)
        if k == 0:
            sel |= (r > 0) & (r <= 0.5 / 16)
        assert freqs[k] == pytest.approx(r[sel].mean())
    assert freqs[0] == pytest.approx((4 + 4 * np.sqrt(2)) / 8 / 16)
    assert np.all(np.diff(freqs) > 0) and freqs.max() < 0.5 + 0.5 / 16
    # odd size: the grid steps are 1/17 and the largest axis frequency 8/17 (< 0.5)
    f17, _ = spectra.radial_power_spectrum(np.zeros((1, 17, 17)), n_bins=8)
    np.testing.assert_allclose(f17[1:7] * 17, np.round(f17[1:7] * 17), atol=0.25)
    # coarser bins (width 2/16) are centred on 2/16, 4/16, ...
    f4, _ = spectra.radial_power_spectrum(np.zeros((1, 16, 16)), n_bins=4)
    assert np.all(np.abs(f4 - np.arange(1, 5) * 2 / 16) < 0.5 * 2 / 16)


def test_ramp_has_no_high_frequency_power_with_the_window() -> None:
    y, x = np.mgrid[0:18, 0:18].astype(np.float64)
    ramps = np.stack([255 * x / 17, 255 * y / 17, 100 + 3 * x + 5 * y])
    hann = spectra.hf_power_fraction(ramps, 0.25, "hann")
    none = spectra.hf_power_fraction(ramps, 0.25, "none")
    assert np.all(hann < 2e-4)
    # unwindowed, the ramp's jump between opposite borders is what puts power above 0.25 c/px
    np.testing.assert_allclose(none, 0.1059, atol=5e-4)
    # the window removes border wrap-around, not the content: a 0.375 c/px cosine stays all HF
    assert spectra.hf_power_fraction(_cosine(32, 0, 12)[None], 0.25, "hann")[0] == pytest.approx(1.0)


def test_hann_window_spreads_a_cosine_to_its_neighbours_only() -> None:
    img = _cosine(32, 0, 6, amplitude=40.0)
    p = spectra.periodogram(img[None], "hann")[0]
    # periodic Hann: amplitudes 1/4 : 1/2 : 1/4 per axis around (0, ±6); nothing elsewhere
    nz = np.argwhere(p > 1e-9 * p.max())
    assert set(map(tuple, nz)) == {(ky % 32, kx % 32) for ky in (-1, 0, 1) for kx in (5, 6, 7, -5, -6, -7)}
    assert p[0, 6] / p[0, 5] == pytest.approx(4.0) and p[0, 6] / p[1, 6] == pytest.approx(4.0)


def test_rgb_uses_mean_of_channels() -> None:
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    _, p_rgb = spectra.radial_power_spectrum(rgb, 8)
    _, p_grey = spectra.radial_power_spectrum(rgb.astype(np.float64).mean(axis=-1), 8)
    np.testing.assert_allclose(p_rgb, p_grey)


def test_constant_patch_has_no_power_and_zero_hf_fraction() -> None:
    patch = np.full((2, 16, 16, 3), 77, dtype=np.uint8)
    _, power, hf = spectra.patch_spectra(patch, 8, hf_cutoff=0.25, window="hann")
    assert np.all(power == 0)
    assert np.all(hf == 0)


def test_hf_fraction_of_cosines() -> None:
    low = _cosine(32, 0, 4)  # 0.125 cycles/pixel
    high = _cosine(32, 12, 0)  # 0.375 cycles/pixel
    hf = spectra.hf_power_fraction(np.stack([low, high, low + high - 128]), cutoff=0.25, window="hann")
    np.testing.assert_allclose(hf, [0.0, 1.0, 0.5], atol=1e-12)


def test_corner_frequencies_count_in_hf_fraction_but_not_in_bins() -> None:
    corner = _cosine(32, 14, 14)  # radius 0.619 cycles/pixel: beyond the binned range
    _, power, hf = spectra.patch_spectra(corner[None], 8, hf_cutoff=0.25, window="hann")
    assert np.all(power < 1e-9)
    assert hf[0] == pytest.approx(1.0)


def test_blur_lowers_hf_fraction() -> None:
    rng = np.random.default_rng(4)
    imgs = rng.uniform(0, 255, size=(8, 32, 32))
    blurred = gaussian_blur(torch.as_tensor(imgs[:, None]), 1.5)[:, 0].numpy()
    hf_sharp = spectra.hf_power_fraction(imgs, 0.25, "hann")
    hf_blur = spectra.hf_power_fraction(blurred, 0.25, "hann")
    assert np.all(hf_blur < 0.1 * hf_sharp)


def test_odd_sizes_and_chunking_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, size=(7, 17, 17, 3), dtype=np.uint8)
    full = spectra.patch_spectra(imgs, 8, hf_cutoff=0.2, window="hann")
    monkeypatch.setattr(spectra, "_CHUNK_PIXELS", 17 * 17 * 2)  # two patches per chunk
    chunked = spectra.patch_spectra(imgs, 8, hf_cutoff=0.2, window="hann")
    np.testing.assert_allclose(full[1], chunked[1])
    np.testing.assert_allclose(full[2], chunked[2])


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(ValueError, match="n_bins <= 8"):
        spectra.radial_power_spectrum(np.zeros((1, 16, 16)), n_bins=12)
    with pytest.raises(ValueError, match=r"\[N,H,W,3\]"):
        spectra.radial_power_spectrum(np.zeros((1, 16, 16, 4)), n_bins=4)
    with pytest.raises(ValueError, match="hf_cutoff"):
        spectra.patch_spectra(np.zeros((1, 16, 16)), 4, hf_cutoff=0.9, window="hann")
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        spectra.radial_power_spectrum(np.zeros((1, 16, 16)), n_bins=0)
    with pytest.raises(ValueError, match="spectra.window must be one of"):
        spectra.radial_power_spectrum(np.zeros((1, 16, 16)), n_bins=4, window="hamming")


def test_random_patches_are_exact_crops_and_seeded() -> None:
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, size=(10, 24, 20, 3), dtype=np.uint8)
    patches, index, pos = spectra.random_patches(images, 8, n_images=4, per_image=3, seed=1)
    assert patches.shape == (4, 3, 8, 8, 3) and patches.dtype == np.uint8
    assert len(set(index.tolist())) == 4 and np.all(np.diff(index) > 0)
    for i in range(4):
        for j in range(3):
            top, left = pos[i, j]
            assert 0 <= top <= 16 and 0 <= left <= 12
            np.testing.assert_array_equal(patches[i, j], images[index[i], top : top + 8, left : left + 8])
    again = spectra.random_patches(images, 8, n_images=4, per_image=3, seed=1)
    np.testing.assert_array_equal(again[0], patches)
    with pytest.raises(ValueError, match="only 10 images"):
        spectra.random_patches(images, 8, n_images=11, per_image=1, seed=0)
    with pytest.raises(ValueError, match="does not fit"):
        spectra.random_patches(images, 21, n_images=1, per_image=1, seed=0)


def test_figures_are_written(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    from PIL import Image

    from blurscope.spectra import plot as plot_spectra

    freqs = (np.arange(8) + 0.5) / 16
    spec_rows, comp_rows = [], []
    models = [("sigma0", 0.0), ("sigma2", 2.0), ("sigma6", 6.0), ("blurpool", 0.0), ("baseline", np.nan)]
    for k, (model, sigma) in enumerate(models):
        decay = 2.0 + (0.2 * sigma if np.isfinite(sigma) else 0.0)
        power = 100 * freqs ** (-decay)
        for f, p in zip(freqs, power):
            spec_rows.append({"model": model, "sigma": sigma, "freq": f, "mean": p, "ci_low": 0.9 * p,
                              "ci_high": 1.1 * p, "ratio": 1.0 + 0.1 * k, "ratio_ci_low": 0.95,
                              "ratio_ci_high": 1.3})
        for metric in ("compression_ratio", "entropy", "edge_density", "edge_strength", "wavelet_approx",
                       "wavelet_detail", "wavelet_energy"):
            comp_rows.append({"model": model, "sigma": sigma, "metric": metric, "mean": 1.0 + k, "sem": 0.1})
    p1, p2 = tmp_path / "rel.png", tmp_path / "comp.png"
    plot_spectra.plot_relative_to_baseline(pd.DataFrame(spec_rows), "layer4", p1)
    plot_spectra.plot_complexity_comparison(pd.DataFrame(comp_rows), "layer4", p2)
    for path in (p1, p2):
        with Image.open(path) as im:
            assert im.size[0] > 600 and im.size[1] > 600
    assert plot_spectra.model_order(pd.DataFrame(comp_rows))[:3] == [("sigma0", 0.0), ("sigma2", 2.0),
                                                                      ("sigma6", 6.0)]
    with pytest.raises(ValueError, match="no baseline rows"):
        plot_spectra.plot_relative_to_baseline(pd.DataFrame(spec_rows[:8]), "layer4", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
