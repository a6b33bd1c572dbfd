"""blurscope.frequency.corruptions: ImageNet-C's 15 types (+3 extras), size scaling, the shared set,
forwards, corruption errors (mCE) and a cross-check against the ``imagecorruptions`` package."""

from __future__ import annotations

import math

import corruptions_before  # tests/corruptions_before.py: the corruptions before the speed-up
import numpy as np
import pandas as pd
import pytest
import torch
from imagecorruptions_compat import imagecorruptions_module  # tests/bench/
from PIL import Image
from reference_impl import psnr
from scipy import ndimage
from torch import nn

from blurscope import blur, freq
from blurscope.frequency import corruptions as C


def natural_images(n: int = 4, size: int | tuple[int, int] = 64, seed: int = 0) -> np.ndarray:
    """uint8 ``[n, H, W, 3]`` with natural-image statistics: 1/f amplitude spectrum (blurscope.freq
    grid), mean 0.5, contrast 0.15, clipped to [0.02, 0.98]."""
    h, w = (size, size) if isinstance(size, int) else size
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, h, w, generator=g)
    r = freq.as_tensor(freq.radius_cpp(h, w), z).clamp_min(1.0 / max(h, w))
    x = torch.fft.ifft2(torch.fft.fft2(z) / r).real
    x = (x - x.mean((1, 2, 3), keepdim=True)) / x.std((1, 2, 3), keepdim=True)
    x = (0.5 + 0.15 * x).clamp(0.02, 0.98)
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def rng(seed: int = 0) -> np.random.RandomState:
    return np.random.RandomState(seed)


# ------------------------------------------------------------------ names, parameters, shapes
def test_the_fifteen_imagenet_c_types_and_extras() -> None:
    assert C.IMAGENET_C == (
        "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
        "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
        "jpeg_compression")
    assert set(C.EXTRAS) == {"speckle_noise", "gaussian_blur", "highpass_noise"}
    assert set(C.CORRUPTIONS) == set(C.ALL) and len(C.ALL) == 18
    for name in C.ALL:
        assert len(C.PARAMS[name]) == 5, name
    # a few published values (Hendrycks & Dietterich 2019)
    assert C.PARAMS["shot_noise"] == (60, 25, 12, 5, 3)
    assert C.PARAMS["defocus_blur"][4] == (10, 0.5) and C.PARAMS["motion_blur"][4] == (20, 15)
    # np.arange(1, 1.11, 0.01) as ImageNet-C writes it: float steps reach 1.11 (12 factors)
    assert len(C.PARAMS["zoom_blur"][0]) == 12 and C.PARAMS["zoom_blur"][0][-1] == pytest.approx(1.11)
    assert C.PARAMS["zoom_blur"][4][-1] == pytest.approx(1.30)
    assert C.PARAMS["jpeg_compression"] == (25, 18, 15, 10, 7)


@pytest.mark.parametrize("name", C.ALL)
def test_shape_dtype_determinism_every_severity(name: str) -> None:
    for size in (64, (48, 40)):
        img = natural_images(1, size, seed=1)[0]
        for s in C.SEVERITIES:
            a = C.corrupt_image(img, name, s, rng(5))
            assert a.shape == img.shape and a.dtype == np.uint8
            assert np.array_equal(a, C.corrupt_image(img, name, s, rng(5)))
            assert not np.array_equal(a, img), (name, s, size)
    if name.endswith("noise") or name in ("glass_blur", "motion_blur", "snow", "frost", "fog", "elastic_transform"):
        img = natural_images(1, 64)[0]
        assert not np.array_equal(C.corrupt_image(img, name, 3, rng(5)), C.corrupt_image(img, name, 3, rng(6)))


MONOTONE = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "highpass_noise", "defocus_blur",
            "motion_blur", "zoom_blur", "gaussian_blur", "brightness", "contrast", "pixelate",
            "jpeg_compression")
"""Types whose PSNR falls with every severity step. The others are not monotone by ImageNet-C's
own parameters: glass_blur (severity 2 has one shuffle pass, 3 has three), snow and frost (a
different layer per severity), elastic_transform (severities 1-2 are large smooth warps, 3-5
small local ones), fog (a new fractal per severity; the severity-2 fractal decays slower
than severity 3's)."""


@pytest.mark.parametrize("name", MONOTONE)
def test_severity_monotone_psnr(name: str) -> None:
    imgs = natural_images(6, 64, seed=2)
    p = [float(np.mean(psnr(imgs, C.corrupt_images(imgs, name, s, seed=3)))) for s in C.SEVERITIES]
    assert all(math.isfinite(v) for v in p)
    assert np.all(np.diff(p) < 0), f"{name}: PSNR per severity {p}"


def test_bad_names_and_inputs() -> None:
    img = natural_images(1)[0]
    with pytest.raises(ValueError, match="'frequency.corruptions'.*'rain'"):
        C.corrupt_image(img, "rain", 1, rng())
    with pytest.raises(ValueError, match="'frequency.severities'"):
        C.corrupt_image(img, "contrast", 6, rng())
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        C.corrupt_image(img.astype(np.float32), "contrast", 1, rng())
    with pytest.raises(ValueError, match="at least 16 px"):
        C.corrupt_image(img[:8, :8], "contrast", 1, rng())


# ------------------------------------------------------------------ known answers
def test_contrast_per_channel_and_brightness_in_hsv() -> None:
    img = natural_images(1, 64)[0]
    img[..., 0] //= 2  # channels with different means: contrast must keep each
    out = C.corrupt_image(img, "contrast", 5, rng()).astype(float)
    np.testing.assert_allclose(out.mean((0, 1)), img.mean((0, 1)), atol=1.0)
    np.testing.assert_allclose(out.std((0, 1)), 0.05 * img.std((0, 1)), atol=0.6)
    pix = np.array([[[0, 0, 0], [100, 100, 100], [150, 76, 30], [250, 10, 10]]], np.uint8)
    pix = np.tile(pix, (16, 4, 1))  # 16 x 16
    b = C.corrupt_image(pix, "brightness", 3, rng())[0, :4].astype(int)  # value + 0.3
    assert b[0].tolist() == [76, 76, 76]  # black -> grey 0.3
    assert b[1].tolist() == [176, 176, 176]  # grey 100/255 + 0.3
    np.testing.assert_allclose(b[2], np.floor(np.array([150, 76, 30]) * (150 / 255 + 0.3) / (150 / 255)), atol=1)
    assert b[3][0] == 255 and b[3][1] == b[3][2] == 10  # value clipped at 1: hue and saturation kept


def test_gaussian_blur_is_blurscope_blur_scaled_to_size() -> None:
    imgs = natural_images(2, 64)
    for s, sigma224 in zip(C.SEVERITIES, C.PARAMS["gaussian_blur"]):
        x = torch.from_numpy(imgs).permute(0, 3, 1, 2).double() / 255
        ref = blur.gaussian_blur(x, blur.sigma_to_px(sigma224, 64)).permute(0, 2, 3, 1).numpy()
        np.testing.assert_array_equal(C.corrupt_images(imgs, "gaussian_blur", s), C.quantise(ref))


def test_highpass_noise_has_no_low_frequency_power() -> None:
    flat = np.full((32, 32, 3), 128, np.uint8)
    d = C.CORRUPTIONS["highpass_noise"](flat, 0.08, rng(), 32 / 224) - 128 / 255
    p = (np.abs(np.fft.fft2(d, axes=(0, 1))) ** 2).sum(2)
    low = freq.normalized_radius(32, 32) <= C.HIGHPASS_CUTOFF
    assert p[low].sum() / p.sum() < 1e-20
    assert np.sqrt(np.mean(d**2)) == pytest.approx(0.08, rel=1e-9)


def test_pixelate_makes_blocks_of_their_mean() -> None:
    img = natural_images(1, 64)[0]
    out = C.corrupt_image(img, "pixelate", 5, rng()).astype(int)  # 64 -> 16 px -> 64: 4 x 4 blocks
    assert (out.reshape(16, 4, 16, 4, 3).std((1, 3)) == 0).all()
    blocks = img.reshape(16, 4, 16, 4, 3).mean((1, 3))
    np.testing.assert_allclose(out.reshape(16, 4, 16, 4, 3), np.broadcast_to(
        blocks[:, None, :, None], (16, 4, 16, 4, 3)), atol=1.0)  # PIL averages in 8-bit fixed point


def test_resample_kernel_identity_at_224_and_area_otherwise() -> None:
    k = C.disk_kernel(3, 0.1)
    assert k.shape == (17, 17) and k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(C.resample_kernel(k, 1.0), k, atol=1e-12)
    half = C.resample_kernel(np.pad(np.ones((1, 1)), 2), 0.5)  # a delta at 1/2 scale stays a delta
    assert half.shape == (3, 3) and half[1, 1] == pytest.approx(1.0)
    box = C.resample_kernel(np.full((3, 3), 1 / 9), 1 / 3)  # a 3 x 3 box at 1/3 scale: one tap
    assert box.shape == (1, 1)
    k64 = C.resample_kernel(C.disk_kernel(10, 0.5), 64 / 224)
    assert k64.shape == (7, 7) and k64.sum() == pytest.approx(1.0)
    assert np.allclose(k64, k64.T) and np.allclose(k64, k64[::-1])


def test_warp_affine_translation_and_identity() -> None:
    x = np.random.default_rng(0).random((20, 24, 3))
    np.testing.assert_allclose(C.warp_affine(x, np.array([[1.0, 0, 0], [0, 1, 0]])), x, atol=1e-12)
    shifted = C.warp_affine(x, np.array([[1.0, 0, 2], [0, 1, 1]]))  # out(x, y) = in(x - 2, y - 1)
    np.testing.assert_allclose(shifted[1:, 2:], x[:-1, :-2], atol=1e-12)
    src = np.float32([[0, 0], [10, 0], [0, 10]])
    m = C.affine_from_points(src, src * 2 + 3)
    np.testing.assert_allclose(m, [[2, 0, 3], [0, 2, 3]], atol=1e-12)


def _area(imgs: np.ndarray, size: int) -> np.ndarray:
    return np.stack([C.resample_area(i.astype(np.float64), (size, size)) for i in imgs])


@pytest.mark.parametrize("name", ["defocus_blur", "gaussian_blur", "motion_blur", "fog", "snow", "frost",
                                  "elastic_transform"])
def test_pixel_parameters_scale_with_the_image_size(name: str) -> None:
    """Corrupting a 64-px image ≈ corrupting its 224-px original and down-sampling (same seed):
    kernels and layers follow the image, so a severity means the same at any size. Kernels
    used unscaled (224-px values at 64 px) would be several times further off."""
    big = natural_images(3, 224, seed=4)
    small = _area(big, 64).round().astype(np.uint8)
    for sev in (3, 5):
        at_224 = _area(np.stack([C.corrupt_image(b, name, sev, rng(k)) for k, b in enumerate(big)]), 64)
        at_64 = np.stack([C.corrupt_image(s, name, sev, rng(k)) for k, s in enumerate(small)]).astype(float)
        err = np.abs(at_64 - at_224).mean()
        effect = np.abs(at_224 - small.astype(float)).mean()
        assert err < 0.5 * effect, f"{name} {sev}: |scaled - downsampled| {err:.2f} vs corruption {effect:.2f}"
        if name in ("defocus_blur", "gaussian_blur", "motion_blur"):
            unscaled = np.stack([C.quantise(C.CORRUPTIONS[name](s, C.PARAMS[name][sev - 1], rng(k), 1.0))
                                 for k, s in enumerate(small)]).astype(float)
            assert err < 0.3 * np.abs(unscaled - at_224).mean(), (name, sev)


def test_defocus_at_64_px_uses_the_resampled_disk() -> None:
    img = natural_images(1, 64)[0]
    k = C.resample_kernel(C.disk_kernel(6, 0.5), 64 / 224)
    want = C.quantise(corruptions_before.filter_reflect101(img / 255.0, k))  # direct summation
    np.testing.assert_array_equal(C.corrupt_image(img, "defocus_blur", 3, rng()), want)


def test_glass_blur_moves_pixels_within_the_scaled_distance() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    img[32, 32] = 255
    out = C.corrupt_image(img, "glass_blur", 5, rng(0))  # 4 px at 224 -> 1 px at 64
    assert out.max() > 0
    ys, xs = np.nonzero(out.max(2))
    assert abs(ys - 32).max() <= 6 and abs(xs - 32).max() <= 6


# ------------------------------------------------------------------ the speed-up keeps every pixel
def photos(size: tuple[int, int]) -> list[np.ndarray]:
    """scikit-image's astronaut, chelsea and coffee photos, centre crops of ``size``, uint8 RGB."""
    from skimage import data

    out = []
    for load in (data.astronaut, data.chelsea, data.coffee):
        a = load()[..., :3]
        top, left = (a.shape[0] - size[0]) // 2, (a.shape[1] - size[1]) // 2
        out.append(np.ascontiguousarray(a[top : top + size[0], left : left + size[1]]))
    return out


def stripes(size: tuple[int, int]) -> np.ndarray:
    """Flat white with black rows every 7 px: exact levels, saturation and flat regions."""
    img = np.full((*size, 3), 255, np.uint8)
    img[::7] = 0
    return img


@pytest.mark.parametrize("name", C.ALL)
def test_same_pixels_as_before_the_speed_up(name: str) -> None:
    """Every corruption gives, byte for byte, the pixels of the code before the speed-up
    (``tests/corruptions_before.py``: direct summation for the defocus disk, one SciPy call per
    channel, a new RandomState per image) at the embedded default's 64 px, at 224 px and at odd
    sizes, on photos, 1/f noise and a saturated striped image, every severity, through
    ``corruption_set`` (one RandomState, reseeded per image)."""
    for size in ((64, 64), (224, 224), (48, 40), (16, 16)):
        imgs = photos(size) + [natural_images(1, size, seed=3)[0], stripes(size)]
        if size == (224, 224):
            imgs = imgs[:1] + imgs[3:4]  # the old defocus takes ~0.3 s an image here
        imgs = np.stack(imgs)
        new = C.corruption_set(imgs, name, C.SEVERITIES, seed=5)
        for k, sev in enumerate(C.SEVERITIES):
            old = np.stack([corruptions_before.corrupt_image(img, name, sev, rng(C.image_seed(5, name, sev, i)))
                            for i, img in enumerate(imgs)])
            np.testing.assert_array_equal(new[k], old, err_msg=f"{name} severity {sev} at {size}")


def test_bilinear_sample_and_warp_are_scipys_numbers() -> None:
    """SciPy's order-1 map_coordinates (mirror, reflect) and affine_transform, to the last bit:
    far outside the image, on exact integers and halves (where the border folding has its edge
    cases, e.g. reflect's −2n → −1 + 1e-15), on 1-px axes, in several blocks."""
    g = np.random.RandomState(0)
    for trial in range(40):
        h, w = g.randint(1, 30, 2) if trial % 3 == 0 else g.randint(16, 90, 2)
        x = g.rand(h, w, 3)
        scale = (0.5, 3, 40, 600)[trial % 4]
        shape = (150, 100) if trial == 5 else (17, 23)  # 15 000 samples: two blocks of SAMPLE_BLOCK
        rows, cols = g.uniform(-scale, h + scale, shape), g.uniform(-scale, w + scale, shape)
        if trial % 2:
            rows, cols = np.round(rows * 2) / 2, np.round(cols * 2) / 2
        rows[0, :8] = [-2 * h, -4 * h, -h, -1, 0, h - 1, h, 2 * h - 1]
        for mode in ("mirror", "reflect"):
            want = np.stack([ndimage.map_coordinates(x[..., k], [rows, cols], order=1, mode=mode)
                             for k in range(3)], -1)
            np.testing.assert_array_equal(C.bilinear_sample(x, rows, cols, mode), want, err_msg=f"{mode} {h}x{w}")
        m = np.array([[1.0, 0, 0], [0, 1, 0]]) + g.uniform(-0.2, 0.2, (2, 3)) * [[1, 1, 30], [1, 1, 30]]
        np.testing.assert_array_equal(C.warp_affine(x, m), corruptions_before.warp_affine(x, m))


def test_filter_reflect101_is_direct_summation() -> None:
    """The FFT correlation equals direct summation (the old torch conv) to ~1e-15, pads larger
    than the image included."""
    g = np.random.RandomState(1)
    for h, w, k in ((64, 64, 7), (224, 224, 17), (48, 40, 21), (5, 9, 17), (1, 3, 5)):
        x, kernel = g.rand(h, w, 3), g.rand(k, k)
        want = corruptions_before.filter_reflect101(x, kernel)
        np.testing.assert_allclose(C.filter_reflect101(x, kernel), want, rtol=0, atol=1e-13 * kernel.sum())
    flat, disk = np.full((30, 30, 3), 0.7), C.disk_kernel(10, 0.5)  # sums to 1.011 (ImageNet-C's kernel)
    np.testing.assert_allclose(C.filter_reflect101(flat, disk), 0.7 * disk.sum(), rtol=0, atol=1e-15)


def test_gaussian_filter_is_blurscope_blur() -> None:
    """The separable Gaussian is blurscope.blur's filter (taps, mirror border) to ~1e-16, radii
    beyond the size included."""
    g = np.random.RandomState(2)
    for h, w in ((224, 224), (64, 40), (3, 2), (1, 5)):
        x = g.rand(h, w, 3)
        for sigma in (0.3, 1.0, 2.5, 6.0, 10.0):
            want = blur.gaussian_blur(torch.from_numpy(x).permute(2, 0, 1)[None], sigma)[0].permute(1, 2, 0).numpy()
            np.testing.assert_allclose(C.gaussian_filter(x, sigma), want, rtol=0, atol=1e-14)
            exact = corruptions_before.gaussian_filter(x, sigma)  # blur.gaussian_blur's own arithmetic
            np.testing.assert_array_equal(C.gaussian_filter_exact(x, sigma), exact)


def test_box_enlarge_index_is_pillows_box() -> None:
    """PIL's BOX enlargement copies the input pixel under each output pixel's centre (checked on
    an image whose pixels encode their own index, for pixelate's ratios at many sizes)."""
    for n_out in list(range(16, 120)) + list(range(120, 1200, 37)):
        for c in C.PARAMS["pixelate"]:
            n_in = max(1, int(n_out * c))
            idx = np.arange(n_in)
            row = np.stack([idx % 256, idx // 256, np.zeros_like(idx)], -1).astype(np.uint8)[None]
            for shape, size in ((row, (n_out, 1)), (row.transpose(1, 0, 2), (1, n_out))):
                big = np.asarray(Image.fromarray(np.ascontiguousarray(shape)).resize(size, Image.BOX)).astype(int)
                got = (big[..., 0] + 256 * big[..., 1]).ravel()
                np.testing.assert_array_equal(got, C.box_enlarge_index(n_in, n_out), err_msg=f"{n_in} -> {n_out}")


def test_clipped_zoom_per_channel_is_the_channel_zoom() -> None:
    g = np.random.RandomState(3)
    for trial in range(30):
        h, w = g.randint(16, 120, 2)
        x = g.rand(h, w, (1, 3)[trial % 2]).astype((np.float32, np.float64)[trial % 3 == 0])
        f = float(g.choice(np.concatenate(C.PARAMS["zoom_blur"])) if trial % 4 else g.uniform(1, 4))
        new, old = C.clipped_zoom(x, f), corruptions_before.clipped_zoom(x, f)
        assert new.dtype == old.dtype
        np.testing.assert_array_equal(new, old)


def test_quantise_levels_and_uint8() -> None:
    levels = np.arange(256, dtype=np.uint8)
    for dtype in (np.float64, np.float32):
        x = (levels / 255.0).astype(dtype)
        np.testing.assert_array_equal(C.quantise(x), levels)  # every exact level survives
        np.testing.assert_array_equal(x, (levels / 255.0).astype(dtype))  # input untouched
    np.testing.assert_array_equal(C.quantise(np.array([-0.5, 0.999, 1.0, 7.0])), [0, 254, 255, 255])
    assert C.quantise(levels) is levels  # 8-bit already (pixelate, JPEG, impulse noise)
    y = np.array([0.5, 2.0])
    np.testing.assert_array_equal(C.quantise(y, overwrite=True), [127, 255])



# ------------------------------------------------------------------ the shared set and forwards
def test_image_seeds_make_subsets_and_orders_agree() -> None:
    imgs = natural_images(5, 32)
    full = C.corrupt_images(imgs, "gaussian_noise", 2, seed=1)
    np.testing.assert_array_equal(C.corrupt_images(imgs[2:4], "gaussian_noise", 2, seed=1, first_index=2), full[2:4])
    assert not np.array_equal(C.corrupt_images(imgs, "gaussian_noise", 2, seed=2), full)
    assert C.image_seed(0, "snow", 1, 0) != C.image_seed(0, "fog", 1, 0) != C.image_seed(0, "fog", 2, 0)
    s = C.corruption_set(imgs, "jpeg_compression", [1, 5], seed=0)
    assert s.shape == (2, *imgs.shape) and s.dtype == np.uint8


class MeanColour(nn.Module):
    """Classifies by the dominant colour channel (robust to blur, hurt by heavy noise)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


def test_corruption_hits_runs_forwards_on_the_shared_sets() -> None:
    labels = np.arange(12) % 3
    imgs = np.full((12, 24, 24, 3), 70, np.uint8)
    imgs[np.arange(12), :, :, labels] = 180
    sets = {name: C.corruption_set(imgs, name, [1, 5]) for name in ("gaussian_blur", "contrast")}
    seen = []
    conds, hits = C.corruption_hits(MeanColour(), imgs, sets, [1, 5], labels, batch_size=5, progress=seen.append)
    assert list(conds["corruption"]) == ["clean", "gaussian_blur", "gaussian_blur", "contrast", "contrast"]
    assert list(conds["severity"]) == [0, 1, 5, 1, 5]
    assert hits.shape == (5, 12) and hits.dtype == bool and hits.all()
    assert sum(seen) == 5 * 12
    wrong = {"gaussian_blur": np.roll(sets["gaussian_blur"], 1, axis=1)}  # images no longer match labels
    _, hits = C.corruption_hits(MeanColour(), imgs, wrong, [1, 5], labels)
    assert hits[0].all() and not hits[1:].any()
    with pytest.raises(ValueError, match="labels"):
        C.corruption_hits(MeanColour(), imgs, sets, [1, 5], labels[:3])
    with pytest.raises(ValueError, match="corrupted set 'contrast' has shape"):
        C.corruption_hits(MeanColour(), imgs, {"contrast": sets["contrast"][:1]}, [1, 5], labels)


# ------------------------------------------------------------------ corruption errors
def _hits(errors: dict[tuple[str, int], int], n: int = 10) -> tuple[pd.DataFrame, np.ndarray]:
    """Hits with exactly ``errors[(type, severity)]`` wrong images out of ``n`` (the first ones)."""
    conds = pd.DataFrame(list(errors), columns=["corruption", "severity"])
    hits = np.ones((len(conds), n), dtype=bool)
    for k, e in enumerate(errors.values()):
        hits[k, :e] = False
    return conds, hits


def test_ce_and_relative_ce_known_answers() -> None:
    model = {("clean", 0): 1, ("fog", 1): 3, ("fog", 5): 5, ("snow", 1): 2, ("snow", 5): 4, ("highpass_noise", 1): 6,
             ("highpass_noise", 5): 6}
    ref = {("clean", 0): 2, ("fog", 1): 4, ("fog", 5): 8, ("snow", 1): 2, ("snow", 5): 8, ("highpass_noise", 1): 3,
           ("highpass_noise", 5): 3}
    conds, h = _hits(model)
    _, r = _hits(ref)
    t = C.corruption_errors(conds, h, reference_hits=r).set_index("corruption")
    assert t.loc["fog", "ce"] == pytest.approx((0.3 + 0.5) / (0.4 + 0.8))
    assert t.loc["fog", "relative_ce"] == pytest.approx((0.3 + 0.5 - 2 * 0.1) / (0.4 + 0.8 - 2 * 0.2))
    assert t.loc["snow", "ce"] == pytest.approx(0.6 / 1.0)
    assert t.loc["fog", "error"] == pytest.approx(0.4) and t.loc["fog", "n_severities"] == 2
    assert not t.loc["highpass_noise", "imagenet_c"]
    # relative CE of highpass_noise: the reference's excess over clean is 2 x (0.3 - 0.2) > 0
    assert t.loc["highpass_noise", "relative_ce"] == pytest.approx((1.2 - 0.2) / 0.2)
    # mCE averages the ImageNet-C types only
    assert t.loc["mCE", "ce"] == pytest.approx(np.mean([0.8 / 1.2, 0.6]))
    assert t.loc["mCE", "relative_ce"] == pytest.approx(np.mean([0.6 / 0.8, (0.6 - 0.2) / (1.0 - 0.4)]))
    assert t.loc["mCE", "n_types"] == 2 and t.loc["fog", "n_types"] == 1 and math.isnan(t.loc["mCE", "ce_ci_low"])


def test_ce_of_the_reference_itself_is_one_with_a_degenerate_interval() -> None:
    conds, h = _hits({("clean", 0): 1, ("fog", 1): 4, ("fog", 2): 6})
    w = np.random.default_rng(0).multinomial(10, np.full(10, 0.1), size=200)
    t = C.corruption_errors(conds, h, reference_hits=h, weights=w).set_index("corruption")
    assert t.loc["fog", "ce"] == 1.0 and t.loc["fog", "ce_ci_low"] == 1.0 and t.loc["fog", "ce_ci_high"] == 1.0
    assert t.loc["mCE", "relative_ce"] == 1.0


def test_ce_bootstrap_interval_brackets_the_estimate_and_nan_where_undefined() -> None:
    g = np.random.default_rng(1)
    n = 200
    conds = pd.DataFrame([("clean", 0), ("fog", 1), ("fog", 2)], columns=["corruption", "severity"])
    h = g.random((3, n)) > np.array([[0.1], [0.4], [0.5]])
    r = g.random((3, n)) > np.array([[0.2], [0.6], [0.7]])
    w = g.multinomial(n, np.full(n, 1 / n), size=500)
    t = C.corruption_errors(conds, h, reference_hits=r, weights=w).set_index("corruption")
    assert t.loc["fog", "ce_ci_low"] < t.loc["fog", "ce"] < t.loc["fog", "ce_ci_high"]
    assert 0.55 < t.loc["fog", "ce"] < 0.8
    perfect = np.ones_like(h)  # a reference that never errs: CE undefined
    t = C.corruption_errors(conds, h, reference_hits=perfect, weights=w).set_index("corruption")
    assert math.isnan(t.loc["fog", "ce"]) and math.isnan(t.loc["fog", "ce_ci_low"])


ALEXNET = {"gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640, "defocus_blur": 0.819880,
           "glass_blur": 0.826268, "motion_blur": 0.785948, "zoom_blur": 0.798360, "snow": 0.866816,
           "frost": 0.826572, "fog": 0.819324, "brightness": 0.564592, "contrast": 0.853204,
           "elastic_transform": 0.646056, "pixelate": 0.717840, "jpeg_compression": 0.606500, "clean": 0.435}


def test_ce_normalised_by_published_errors() -> None:
    errs = {("clean", 0): 3}
    errs.update({("fog", s): e for s, e in zip(C.SEVERITIES, (4, 5, 6, 7, 8))})
    conds, h = _hits(errs)
    t = C.corruption_errors(conds, h, published=ALEXNET).set_index("corruption")
    assert t.loc["fog", "ce"] == pytest.approx(0.6 / 0.819324)
    assert t.loc["fog", "relative_ce"] == pytest.approx((0.6 - 0.3) / (0.819324 - 0.435))
    assert t.loc["mCE", "ce"] == t.loc["fog", "ce"]
    with pytest.raises(ValueError, match="exactly one"):
        C.corruption_errors(conds, h)


def test_check_reference_names_the_key() -> None:
    names, sev, models = ["fog", "snow"], [1, 2, 3, 4, 5], ["sigma0", "sigma2", "blurpool"]
    C.check_reference("sigma2", None, names, [1, 5], models)
    C.check_reference("published", ALEXNET, names, sev, models)
    with pytest.raises(ValueError, match="'frequency.mce_reference': 'sigma9' is not a trained model"):
        C.check_reference("sigma9", None, names, sev, models)
    with pytest.raises(ValueError, match="'frequency.mce_reference_errors': required when"):
        C.check_reference("published", None, names, sev, models)
    with pytest.raises(ValueError, match=r"lacks \['snow'\]"):
        C.check_reference("published", {"fog": 0.8, "clean": 0.4}, names, sev, models)
    with pytest.raises(ValueError, match="'frequency.severities': must be all of"):
        C.check_reference("published", ALEXNET, names, [1, 5], models)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        C.check_reference("published", {**ALEXNET, "fog": 81.9}, names, sev, models)


# ------------------------------------------------------------------ cross-checks at 224 px
@pytest.fixture(scope="module")
def imagecorruptions():
    """The ``imagecorruptions`` package (test-only, pinned in requirements.lock), made importable on
    today's stack by ``tests/bench/imagecorruptions_compat.py`` (shared with the benchmark)."""
    with imagecorruptions_module() as ic:
        yield ic


@pytest.fixture(scope="module")
def image224() -> np.ndarray:
    return natural_images(1, 224, seed=7)[0]


def _theirs(ic, img: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    np.random.seed(seed)
    return ic.corrupt(img, severity=severity, corruption_name=name).astype(int)


EXACT = ("gaussian_noise", "shot_noise", "speckle_noise", "defocus_blur", "motion_blur", "zoom_blur", "fog",
         "brightness", "contrast", "pixelate", "jpeg_compression")


@pytest.mark.parametrize("name", EXACT)
def test_same_pixels_as_imagecorruptions(imagecorruptions, image224, name: str) -> None:
    """Same seed, same draws: within one grey level everywhere (float round-off at truncation)."""
    for s in C.SEVERITIES:
        d = np.abs(
            C.corrupt_image(image224, name, s, rng(11)).astype(int) - _theirs(imagecorruptions, image224, name, s, 11)
        )
        assert d.max() <= 1 and d.mean() < 0.06, f"{name} {s}: mean {d.mean():.3f} max {d.max()}"


@pytest.mark.parametrize("name,border,mean_tol", [("gaussian_blur", 25, 0.1), ("glass_blur", 12, 0.05),
                                                  ("snow", 0, 0.35)])
def test_near_imagecorruptions(imagecorruptions, image224, name: str, border: int, mean_tol: float) -> None:
    """gaussian_blur / glass_blur: blurscope.blur (mirror border, taps to 3σ) instead of
    scikit-image's (nearest border, 4σ): equal to one level away from the border. snow: the
    layer is 8-bit before the motion blur, as ImageNet-C's PNG round trip."""
    for s in C.SEVERITIES:
        d = np.abs(
            C.corrupt_image(image224, name, s, rng(11)).astype(int) - _theirs(imagecorruptions, image224, name, s, 11)
        )
        inner = d[border: 224 - border, border: 224 - border] if border else d
        assert inner.mean() < mean_tol and np.percentile(inner, 99) <= (9 if name == "snow" else 1), (name, s)


def test_impulse_noise_rate_as_imagecorruptions(imagecorruptions, image224) -> None:
    """scikit-image draws s&p from its own unseeded generator: compare the rate of 0/255 values."""
    f0 = np.isin(image224, (0, 255)).mean()
    for s, c in zip(C.SEVERITIES, C.PARAMS["impulse_noise"]):
        expect = c + (1 - c) * f0
        tol = 5 * math.sqrt(expect * (1 - expect) / image224.size)
        ours = np.isin(C.corrupt_image(image224, "impulse_noise", s, rng(s)), (0, 255)).mean()
        theirs = np.isin(_theirs(imagecorruptions, image224, "impulse_noise", s, s), (0, 255)).mean()
        assert abs(ours - expect) < tol and abs(theirs - expect) < tol, (s, ours, theirs, expect)
        ours_salt = (C.corrupt_image(image224, "impulse_noise", s, rng(s)) == 255).mean()
        assert ours_salt == pytest.approx(expect / 2, abs=tol)


def test_frost_brightness_as_imagecorruptions(imagecorruptions, image224) -> None:
    """imagecorruptions enlarges the frost texture 1.1x before cropping (ImageNet-C crops it at
    its own size): the same texture is chosen per seed, so mean intensities agree."""
    for s in C.SEVERITIES:
        ours = np.mean([C.corrupt_image(image224, "frost", s, rng(k)).mean() for k in range(8)])
        theirs = np.mean([_theirs(imagecorruptions, image224, "frost", s, k).mean() for k in range(8)])
        assert ours == pytest.approx(theirs, abs=1.0), s


def test_elastic_transform_is_imagenet_c_built_from_opencv_and_scipy(image224) -> None:
    """imagecorruptions 1.1 replaced ImageNet-C's elastic transform (no affine step, parameters
    relative to the size), so the reference here is ImageNet-C's definition composed from
    OpenCV's affine warp, SciPy's Gaussian and bilinear sampling."""
    import cv2

    def reference(img, c, r):
        x = img.astype(np.float32) / 255
        h, w = x.shape[:2]
        centre = np.float32((h, w)) // 2
        half = min(h, w) // 3
        pts1 = np.float32([centre + half, [centre[0] + half, centre[1] - half], centre - half])
        pts2 = pts1 + r.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
        x = cv2.warpAffine(x, cv2.getAffineTransform(pts1, pts2), (w, h), borderMode=cv2.BORDER_REFLECT_101)
        field = [ndimage.gaussian_filter(r.uniform(-1, 1, (h, w)), c[1], mode="reflect", truncate=3) * c[0]
                 for _ in range(2)]
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        coords = [yy + field[1], xx + field[0]]
        return C.quantise(np.stack([ndimage.map_coordinates(x[..., k], coords, order=1, mode="reflect")
                                    for k in range(3)], -1))

    for s in C.SEVERITIES:
        ours = C.corrupt_image(image224, "elastic_transform", s, rng(3)).astype(int)
        d = np.abs(ours - reference(image224, C.PARAMS["elastic_transform"][s - 1], rng(3)).astype(int))
        assert d.max() <= 1 and d.mean() < 0.01, (s, d.mean(), d.max())


def test_frost_textures_are_imagenet_c_s() -> None:
    sizes = [C.frost_texture(i).shape for i in range(5)]
    assert sizes == [(600, 900, 3), (315, 560, 3), (315, 560, 3), (350, 527, 3), (495, 660, 3)]
    with Image.open(C.FROST_DIR / "frost1.png") as im:
        assert im.mode == "RGBA"
    import hashlib

    digests = {f: hashlib.sha256((C.FROST_DIR / f).read_bytes()).hexdigest()[:16] for f in C.FROST_FILES}
    assert digests == {"frost1.png": "ff9f907860bd7a83", "frost2.png": "fe211a89b336999c",
                       "frost3.png": "2d0d50b4a9bb213f", "frost4.jpg": "3f8b91ca1a9fa716",
                       "frost5.jpg": "5fc6a19df4a429ba"}  # the imagecorruptions 1.1.2 files


def test_summary_table_takes_mce_from_the_ce_tables() -> None:
    from blurscope.frequency import preference as frequency

    models = ["sigma0", "sigma2"]
    pref = pd.DataFrame({"model": models, "sigma": [0.0, 2.0], "f_rev_cpp": 0.1, "f_rev_ci_low_cpp": 0.05,
                         "f_rev_ci_high_cpp": 0.2, "f_rev_status": "crossed", "f_half_cpp": 0.2,
                         "f_half_ci_low_cpp": 0.1, "f_half_ci_high_cpp": 0.3, "pgd_success_rate": 0.5})
    corr = pd.DataFrame([(m, c, a) for m in models for c, a in (("clean", 0.9), ("fog", 0.5), ("mean", 0.5))],
                        columns=["model", "corruption", "accuracy"]).assign(ci_low=0.4, ci_high=0.6)
    conds, h0 = _hits({("clean", 0): 1, ("fog", 1): 4, ("fog", 2): 6})
    _, h2 = _hits({("clean", 0): 1, ("fog", 1): 3, ("fog", 2): 3})
    ce = pd.concat([C.corruption_errors(conds, h, reference_hits=h0).assign(model=m, reference="sigma0")
                    for m, h in zip(models, (h0, h2))])
    s = frequency.summary_table(pref, corr, None, "none", ce=ce).set_index("model")
    assert s.loc["sigma0", "mce"] == 1.0 and s.loc["sigma2", "mce"] == pytest.approx(0.6)
    assert s.loc["sigma2", "relative_mce"] == pytest.approx((0.6 - 0.2) / (1.0 - 0.2))
    assert s.loc["sigma2", "mce_reference"] == "sigma0" and s.loc["sigma2", "mce_n_types"] == 1
    assert "mce" not in frequency.summary_table(pref, corr, None, "none").columns
    with pytest.raises(ValueError, match="no 'mCE' row for model"):
        frequency.summary_table(pref, corr, None, "none", ce=ce[ce["model"] == "sigma0"])
