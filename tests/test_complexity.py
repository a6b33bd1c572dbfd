"""Known-answer tests for blurscope.complexity."""

from __future__ import annotations

import io

import numpy as np
import pytest
import pywt
import torch
from PIL import Image
from scipy import ndimage

from blurscope import complexity
from blurscope.blur import gaussian_blur

# the contract: four pixel/edge measures, then the wavelet family (the approximation's share, the three
# detail orientations of pywt's (cA, (cH, cV, cD)), the total energy they divide up)
WAVELET_PARTS = ("approx", "h", "v", "d", "energy")
COLUMNS = ["compression_ratio", "entropy", "edge_density", "edge_strength"] + [f"wavelet_{p}" for p in WAVELET_PARTS]


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(grey, dtype=np.uint8)[..., None], 3, axis=-1)


def test_columns_are_the_contract() -> None:
    rng = np.random.default_rng(0)
    df = complexity.complexity_metrics(rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    assert list(complexity.COLUMNS) == COLUMNS
    assert list(df.columns) == COLUMNS + ["wavelet_levels"]  # the measures, then the levels used
    assert len(df) == 4
    assert np.isfinite(df.to_numpy()).all()
    assert df["wavelet_levels"].dtype == np.int64 and (df["wavelet_levels"] == 1).all()


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
    assert 2.0 < ratios[0] < 3.0  # 1.5 bytes/pixel after subsampling, a little less after q95 quantisation
    assert ratios[1:].min() > 2 * ratios[0]


@pytest.mark.parametrize("size", [8, 16, 18, 32, 64])
def test_jpeg_ratio_counts_the_scan_so_constant_beats_noise_at_every_size(size: int) -> None:
    rng = np.random.default_rng(11)
    noise = rng.integers(0, 256, (4, size, size, 3), dtype=np.uint8)
    const = np.full((4, size, size, 3), 137, dtype=np.uint8)
    r_noise = complexity.jpeg_compression_ratio(noise)
    r_const = complexity.jpeg_compression_ratio(const)
    assert r_const.min() >= 5 * r_noise.max()
    if size == 18:
        # the whole file (the VITAL report's count) is dominated by the fixed header at 18 px
        f_noise = complexity.jpeg_compression_ratio(noise, data="file")
        f_const = complexity.jpeg_compression_ratio(const, data="file")
        assert f_const[0] == pytest.approx(1.51, abs=0.02) and f_noise.max() < 0.8
        assert r_const[0] > 50 and r_noise.max() < 1.6  # 17 scan bytes for 972 raw bytes


def _scan_bytes_by_hand(data: bytes) -> int:
    """Independent count: the first FFDA marker, its length field, up to the final FFD9."""
    sos = data.index(b"\xff\xda")
    return len(data) - 2 - (sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big"))


def test_jpeg_scan_bytes_parses_the_markers() -> None:
    rng = np.random.default_rng(12)
    patches = np.concatenate([rng.integers(0, 256, (20, 18, 18, 3), dtype=np.uint8),
                              np.repeat(np.arange(0, 250, 50, dtype=np.uint8), 18 * 18 * 3).reshape(5, 18, 18, 3)])
    expected = []
    for p in patches:
        buf = io.BytesIO()
        Image.fromarray(p).save(buf, format="JPEG", quality=95)
        data = buf.getvalue()
        assert complexity.jpeg_scan_bytes(data) == _scan_bytes_by_hand(data)
        expected.append(18 * 18 * 3 / _scan_bytes_by_hand(data))
    # the fast path of jpeg_compression_ratio (header length reused across patches) gives the same
    np.testing.assert_array_equal(complexity.jpeg_compression_ratio(patches), expected)
    with pytest.raises(ValueError, match="SOI"):
        complexity.jpeg_scan_bytes(b"\x89PNG" + data[4:])
    with pytest.raises(ValueError, match="EOI"):
        complexity.jpeg_scan_bytes(data[:-2])
    with pytest.raises(ValueError, match="no SOS"):
        complexity.jpeg_scan_bytes(data[: data.index(b"\xff\xda")] + b"\xff\xd9")
    with pytest.raises(ValueError, match="jpeg_data"):
        complexity.jpeg_compression_ratio(patches, data="header")


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
    # the scale stated in the docs: a 10-level step gives magnitude 40 (unnormalised kernels)
    ten = np.full((1, 8, 8), 50.0)
    ten[0, :, 4:] = 60.0
    assert complexity.sobel_magnitude(ten).max() == pytest.approx(40.0)
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
    out, levels = complexity.wavelet_energies(np.concatenate([horizontal, horizontal.transpose(0, 2, 1)]))
    assert levels == 1
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
    assert (df["wavelet_levels"] == 3).all()  # db4 supports 3 levels at 64 px
    assert df["wavelet_approx"][0] > 0.95
    # white noise: ideally 1/64 in the level-3 approximation; the mirrored border adds a little
    assert df["wavelet_approx"][1] < 0.08


def test_wavelet_levels_are_capped_by_the_patch_size() -> None:
    assert pywt.dwt_max_level(18, 8) == 1
    assert [complexity.wavelet_levels(n) for n in (14, 18, 27, 28, 55, 56, 224)] == [1, 1, 1, 2, 2, 3, 3]
    assert complexity.wavelet_levels(224, "db4", level=5) == 5 and complexity.wavelet_levels(18, "haar", 3) == 3
    with pytest.raises(ValueError, match="spectra.wavelet 'db4'.*no decomposition level on 12 px"):
        complexity.wavelet_levels(12)
    with pytest.raises(ValueError, match="spectra.wavelet: 'nope'"):
        complexity.wavelet_levels(18, "nope")


def test_ramp_has_no_wavelet_detail_at_18_px() -> None:
    y, x = np.mgrid[0:18, 0:18].astype(np.float64)
    ramps = np.stack([255 * x / 17, 255 * y / 17, 60 + 5 * x + 3 * y])
    out, levels = complexity.wavelet_energies(ramps)
    assert levels == 1
    assert np.all(1 - out[:, 0] < 0.01)  # detail fraction (acceptance: < 0.1)
    # periodisation wraps the opposite border round: detail where the patch has none
    per, _ = complexity.wavelet_energies(ramps[:2], mode="periodization")
    np.testing.assert_allclose(1 - per[:, 0], 0.05, atol=0.005)
    # the grey variance is the energy, whatever the boundary mode
    np.testing.assert_allclose(out[:, 4], ramps.var(axis=(1, 2)))
    df = complexity.complexity_metrics(_grey_rgb(np.round(ramps)))
    assert (df["wavelet_levels"] == 1).all() and (df[["wavelet_h", "wavelet_v", "wavelet_d"]].sum(axis=1) < 0.01).all()


def test_white_noise_one_level_detail_is_three_quarters() -> None:
    rng = np.random.default_rng(8)
    noise = rng.normal(128, 30, (400, 18, 18))
    out, _ = complexity.wavelet_energies(noise)
    assert 1 - out[:, 0].mean() == pytest.approx(0.75, abs=0.01)
    sym, _ = complexity.wavelet_energies(noise, mode="symmetric")  # repeats the border sample: biased
    assert 1 - sym[:, 0].mean() < 0.7
    with pytest.raises(ValueError, match="spectra.wavelet_mode"):
        complexity.wavelet_energies(noise, mode="mirror")


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="uint8"):
        complexity.complexity_metrics(np.zeros((1, 16, 16, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\[N,H,W,3\]"):
        complexity.complexity_metrics(np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="no decomposition level on 6 px"):
        complexity.complexity_metrics(np.zeros((1, 6, 6, 3), dtype=np.uint8))
