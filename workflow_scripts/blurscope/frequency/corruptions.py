"""ImageNet-C common corruptions (15 types × 5 severities), three extras, and corruption errors.

Every corruption maps one uint8 ``[H, W, 3]`` RGB image to a uint8 image of the
same shape, drawing its randomness from a ``numpy.random.RandomState`` in the
order ImageNet-C's reference code draws it (Hendrycks & Dietterich 2019,
``make_imagenet_c.py``), so a seeded run is reproducible and comparable
draw-for-draw with the reference implementation. Severity parameters are the
published ones (:data:`PARAMS`); they are defined at 224 px, and where a
parameter is a length in pixels it is scaled to the image size with
``s = min(H, W) / 224``:

* kernels (``defocus_blur``'s disk, ``glass_blur``'s and ``gaussian_blur``'s σ and
  shuffle distance, ``motion_blur``'s radius and σ) are scaled by ``s``; the disk is
  built at 224 px and area-resampled (:func:`resample_kernel`);
* random *layers* defined per 224-px pixel (``snow``'s flakes, ``frost``'s texture
  crop, ``fog``'s plasma fractal, ``elastic_transform``'s displacement field and
  affine jitter) are drawn at the 224-px reference shape exactly as ImageNet-C
  draws them and area-resampled to the image (displacements also × ``s``);
* per-pixel noises, ``brightness``, ``contrast``, ``zoom_blur`` (zoom factors),
  ``pixelate`` (relative size) and ``jpeg_compression`` (JPEG's 8-px blocks are
  fixed in pixels) need no scaling.

At 224 px (``s = 1``) every corruption is the reference definition; the
deviations from it (border modes, the ImageMagick motion blur, JPEG-85 storage)
are listed in ``docs/frequency.md`` and checked against the ``imagecorruptions``
package in ``tests/test_corruptions.py``. The result is clipped to [0, 1] and
quantised like ImageNet-C's ``np.uint8`` (truncation). The image operations they are
built from (filters, resampling, bilinear sampling) are :mod:`blurscope.frequency.corruption_ops`;
at 224 px every type costs at most what the ``imagecorruptions`` package costs per image
(``tests/bench/bench_frequency.py``).

Extras (not in the ImageNet-C mean): ``speckle_noise`` and ``gaussian_blur``
(ImageNet-C's held-out corruptions) and ``highpass_noise`` (Gaussian noise with
all its power above half the Nyquist radius, the high-frequency probe).

**Corruption error** (Hendrycks & Dietterich 2019): for model f and type c,
``CE_c = Σ_s E_{s,c}(f) / Σ_s E_{s,c}(ref)``; ``mCE`` = mean of CE over the
ImageNet-C types; relative ``CE_c = Σ_s (E_{s,c}(f) − E_clean(f)) / Σ_s (E_{s,c}(ref)
− E_clean(ref))``. The reference is a trained model (paired bootstrap over the
same images) or published errors (e.g. AlexNet's; each the mean over 5 severities).
"""

from __future__ import annotations

import functools
import io
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

from blurscope import blur, freq
from blurscope.frequency.corruption_config import (  # noqa: F401 (names and checks live there, re-exported here)
    ALL,
    EXTRAS,
    IMAGENET_C,
    PUBLISHED,
    SEVERITIES,
    check_names,
    check_reference,
)
from blurscope.frequency.corruption_ops import (  # noqa: F401 (the image operations live there, re-exported here)
    affine_from_points,
    bilinear_sample,
    box_enlarge_index,
    box_matrix,
    clipped_zoom,
    filter_reflect101,
    gaussian_filter,
    gaussian_filter_exact,
    motion_kernel_blur,
    resample_area,
    resample_kernel,
    warp_affine,
)

REFERENCE_SIZE = blur.REFERENCE_SIZE
"""Image size (px) at which ImageNet-C's pixel parameters are defined."""

PARAMS: dict[str, tuple] = {
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # std in [0, 1] units
    "shot_noise": (60, 25, 12, 5, 3),  # photons at intensity 1 (Poisson)
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),  # fraction of values set to 0 or 1
    "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),  # disk radius, anti-alias σ (px)
    "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),  # σ px, max shift px, iterations
    "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),  # radius px, σ px
    "zoom_blur": (
        tuple(np.arange(1, 1.11, 0.01)), tuple(np.arange(1, 1.16, 0.01)), tuple(np.arange(1, 1.21, 0.02)),
        tuple(np.arange(1, 1.26, 0.02)), tuple(np.arange(1, 1.31, 0.03)),
    ),  # zoom factors averaged
    "snow": (
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7), (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65), (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ),  # flake mean, std, zoom, threshold, motion radius px, motion σ px, image weight
    "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),  # image weight, frost weight
    "fog": ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)),  # fog strength, fractal decay
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),  # added to HSV value
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),  # deviation from the per-channel mean × c
    "elastic_transform": (
        (244 * 2, 244 * 0.7, 244 * 0.1), (244 * 2, 244 * 0.08, 244 * 0.2), (244 * 0.05, 244 * 0.01, 244 * 0.02),
        (244 * 0.07, 244 * 0.01, 244 * 0.02), (244 * 0.12, 244 * 0.01, 244 * 0.02),
    ),  # field amplitude px, field smoothing σ px, affine jitter px (ImageNet-C's "244 · f")
    "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),  # down-sampling factor (PIL BOX both ways)
    "jpeg_compression": (25, 18, 15, 10, 7),  # Pillow JPEG quality
    "speckle_noise": (0.15, 0.20, 0.35, 0.45, 0.60),  # multiplicative std
    "gaussian_blur": (1, 2, 3, 4, 6),  # σ px at 224
    "highpass_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # RMS (as gaussian_noise), radius > HIGHPASS_CUTOFF
}
"""Severity parameters (index = severity − 1), ImageNet-C's values; units in the comments."""

HIGHPASS_CUTOFF = 0.5
"""``highpass_noise`` keeps normalised radius > this (1 = Nyquist, :mod:`blurscope.freq`)."""

FROST_DIR = Path(__file__).with_name("frost")
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg")
"""ImageNet-C's frost textures; its reference code draws ``randint(5)``, so a sixth is never used."""

Rng = np.random.RandomState


# ------------------------------------------------------------------ helpers (numpy, [H, W, C] float)
def _reference_shape(h: int, w: int) -> tuple[int, int, float]:
    """(H_ref, W_ref, s): the image's shape at 224 px on its shorter side, and s = min(H, W) / 224."""
    s = min(h, w) / REFERENCE_SIZE
    return max(1, round(h / s)), max(1, round(w / s)), s


def gaussian_taps(ksize: int, sigma: float) -> np.ndarray:
    """``ksize`` normalised Gaussian taps of std ``sigma`` centred on the middle tap (OpenCV's kernel)."""
    x = np.arange(ksize) - (ksize - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


@functools.lru_cache(maxsize=16)
def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """ImageNet-C's defocus kernel at 224 px: a disk of ``radius`` px on a grid of at least
    ±8 px, normalised, then smoothed by a 3×3 (radius ≤ 8) or 5×5 Gaussian of σ ``alias_sigma``
    (read-only: cached)."""
    half = 8 if radius <= 8 else int(radius)
    grid = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float32)
    disk /= disk.sum()
    g = gaussian_taps(3 if radius <= 8 else 5, alias_sigma)
    k = np.ascontiguousarray(filter_reflect101(disk[..., None].astype(np.float64), np.outer(g, g))[..., 0])
    k.setflags(write=False)
    return k


def plasma_fractal(mapsize: int, decay: float, rng: Rng) -> np.ndarray:
    """Diamond-square height map ``[mapsize, mapsize]`` in [0, 1] (``mapsize`` a power of 2).

    Displacements start at ±100² and shrink by ``decay`` per octave (ImageNet-C's fog;
    draws ``rng.uniform`` once per square step and twice per diamond step).
    """
    if mapsize & (mapsize - 1):
        raise ValueError(f"plasma_fractal: mapsize must be a power of 2, got {mapsize}")
    m = np.empty((mapsize, mapsize), dtype=np.float64)
    m[0, 0] = 0.0
    step, wibble = mapsize, 100.0

    def displaced(mean4: np.ndarray) -> np.ndarray:
        return mean4 / 4 + wibble * rng.uniform(-wibble, wibble, mean4.shape)

    while step >= 2:
        half = step // 2
        corners = m[0:mapsize:step, 0:mapsize:step]
        acc = corners + np.roll(corners, -1, axis=0)
        acc = acc + np.roll(acc, -1, axis=1)
        m[half:mapsize:step, half:mapsize:step] = displaced(acc)
        centres = m[half:mapsize:step, half:mapsize:step]
        corners = m[0:mapsize:step, 0:mapsize:step]
        m[0:mapsize:step, half:mapsize:step] = displaced(
            centres + np.roll(centres, 1, axis=0) + corners + np.roll(corners, -1, axis=1))
        m[half:mapsize:step, 0:mapsize:step] = displaced(
            centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=0))
        step //= 2
        wibble /= decay
    m -= m.min()
    return m / m.max()


@functools.lru_cache(maxsize=len(FROST_FILES))
def frost_texture(index: int) -> np.ndarray:
    """ImageNet-C frost texture ``index`` (0–4) as uint8 RGB ``[h, w, 3]`` (alpha dropped)."""
    path = FROST_DIR / FROST_FILES[index]
    if not path.is_file():
        raise FileNotFoundError(f"frost texture {path} is missing (blurscope ships ImageNet-C's frost images)")
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    arr.setflags(write=False)
    return arr


@functools.lru_cache(maxsize=32)
def field_smoothing_matrix(n: int, sigma: float) -> np.ndarray:
    """``[n, n]`` matrix of scipy's 1-D Gaussian (σ px, edge-repeating ``reflect`` border, taps to 3σ):
    ``M @ v`` equals ``scipy.ndimage.gaussian_filter1d(v, sigma, mode="reflect", truncate=3)``."""
    m = ndimage.gaussian_filter1d(np.eye(n), sigma, axis=0, mode="reflect", truncate=3.0)
    m.setflags(write=False)
    return m


# ------------------------------------------------------------------ the corruptions
# Each: (image uint8 [H, W, 3], parameter, rng, s) -> float [H, W, 3] in [0, 1] units (clipped later),
# or uint8 [H, W, 3] where the result is 8-bit already (the pixels quantise() would give).
# In-place arithmetic where it gives the same numbers: at 224 px, allocating a fresh
# 1.2 MB array costs about as much as the arithmetic on it.
def gaussian_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Additive white Gaussian noise of std ``c``."""
    out = rng.normal(size=img.shape, scale=c)
    out += img / 255.0
    return out


def shot_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Poisson noise: ``Poisson(x · c) / c``."""
    x = img / 255.0
    x *= c
    return np.divide(rng.poisson(x), float(c), out=x)


def impulse_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Salt and pepper: each value is replaced with probability ``c``, by 0 or 1 with equal odds (uint8)."""
    u = rng.random_sample((2, *img.shape))  # all "replaced?" draws, then all "salt?" draws
    salt = (u[1] < 0.5).astype(np.uint8)
    salt *= 255
    return np.where(u[0] < c, salt, img)


def speckle_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Multiplicative noise ``x + x · N(0, c²)``."""
    out = rng.normal(size=img.shape, scale=c)
    x = img / 255.0
    out *= x
    out += x
    return out


def highpass_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Gaussian noise keeping only normalised radius > :data:`HIGHPASS_CUTOFF`, RMS ``c`` per image."""
    x = img / 255.0
    h, w = x.shape[:2]
    n = rng.standard_normal(x.shape)
    keep = (freq.normalized_radius(h, w) > HIGHPASS_CUTOFF)[..., None]
    n = np.fft.ifft2(np.fft.fft2(n, axes=(0, 1)) * keep, axes=(0, 1)).real
    return x + c * n / max(float(np.sqrt(np.mean(n**2))), 1e-12)


def gaussian_blur(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Gaussian blur of σ = ``c`` px at 224 (``c · s`` px here)."""
    return gaussian_filter(img / 255.0, c * s)


def defocus_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Convolution with ImageNet-C's anti-aliased disk (radius ``c[0]`` px at 224, resampled to ``s``)."""
    k = disk_kernel(c[0], c[1])
    return filter_reflect101(img, (k if s == 1 else resample_kernel(k, s)) / 255.0)  # x / 255 ⊛ k = x ⊛ k / 255


def glass_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Blur (σ ``c[0]``), ``c[2]`` passes of local pixel moves up to ``c[1]`` px, blur again.

    Each pass visits pixels bottom-right to top-left and copies into each the pixel at a
    random offset in ``[−d, d)²`` (ImageNet-C's "swap" assigns through numpy views, which
    copies one way: reproduced as such).
    """
    sigma, d, passes = c[0] * s, max(1, round(c[1] * s)), c[2]
    h, w = img.shape[:2]
    # ImageNet-C truncates this blur (np.uint8(255 · x)) without quantise()'s guard: a flat region's
    # last bit decides its level, so the blur keeps blurscope.blur's own arithmetic (with
    # gaussian_filter's round-off 0.1 % of the pixels moved by one level, measured)
    x = (gaussian_filter_exact(img / 255.0, sigma) * 255).astype(np.uint8)
    hs, ws = np.arange(h - d, d, -1), np.arange(w - d, d, -1)
    dst = (hs[:, None] * w + ws[None, :]).ravel()
    packed = (x[..., 0].astype(np.int64) << 16 | x[..., 1].astype(np.int64) << 8 | x[..., 2]).ravel().tolist()
    for _ in range(passes):
        off = rng.randint(-d, d, size=(dst.size, 2))  # (dx, dy) per visited pixel, as drawn one by one
        src = (dst + off[:, 1] * w + off[:, 0]).tolist()
        for t, u in zip(dst.tolist(), src):
            packed[t] = packed[u]
    p = np.asarray(packed, dtype=np.int64).reshape(h, w)
    x = np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], axis=-1).astype(np.uint8)
    return gaussian_filter_exact(x / 255.0, sigma)


def motion_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Motion streak of radius ``c[0]``, σ ``c[1]`` px (at 224) in a random direction in (−45°, 45°)."""
    angle = rng.uniform(-45, 45)
    return motion_kernel_blur(img / 255.0, c[0] * s, c[1] * s, angle)


def zoom_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Mean of the image and its centre zooms by each factor of ``c``."""
    x = (img / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in c:
        out += clipped_zoom(x, factor)
    return (x + out) / (len(c) + 1)


def snow(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Snow: a thresholded, zoomed noise layer streaked by a motion blur, over a brightened image.

    The layer is made at the 224-px reference shape (8-bit as in ImageNet-C's PNG round
    trips) and area-resampled to the image.
    """
    x = (img / 255.0).astype(np.float32)
    hr, wr, _ = _reference_shape(*img.shape[:2])
    layer = rng.normal(size=(hr, wr), loc=c[0], scale=c[1])
    layer = clipped_zoom(layer[..., None], c[2])[..., 0]
    layer[layer < c[3]] = 0
    layer = (np.clip(layer, 0, 1) * 255).astype(np.uint8).astype(np.float64)
    layer = np.round(np.clip(motion_kernel_blur(layer, c[4], c[5], rng.uniform(-135, -45)), 0, 255)) / 255.0
    layer = resample_area(layer, img.shape[:2])[..., None]
    grey = (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., None]
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey * 1.5 + 0.5)
    return x + layer + np.rot90(layer, k=2)


def frost(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """``c[0] · x + c[1] · frost``: a random 224-px-scale crop of one of ImageNet-C's frost images."""
    texture = frost_texture(rng.randint(5))
    hr, wr, _ = _reference_shape(*img.shape[:2])
    fh, fw = texture.shape[:2]
    if fh <= hr or fw <= wr:  # only for reference shapes wider than a frost image (never at 224 x 224)
        f = max((hr + 1) / fh, (wr + 1) / fw)
        texture = np.asarray(Image.fromarray(texture).resize((math.ceil(fw * f), math.ceil(fh * f)), Image.BICUBIC))
        fh, fw = texture.shape[:2]
    top, left = rng.randint(0, fh - hr), rng.randint(0, fw - wr)
    crop = resample_area(texture[top : top + hr, left : left + wr] / 255.0, img.shape[:2])
    return c[0] * (img / 255.0) + c[1] * crop


def fog(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Fog: a plasma fractal (decay ``c[1]``) of strength ``c[0]`` added, rescaled by the image maximum."""
    x = img / 255.0
    hr, wr, _ = _reference_shape(*img.shape[:2])
    size = 1 << (max(hr, wr) - 1).bit_length()  # the next power of 2 (256 at 224 px, as ImageNet-C)
    layer = resample_area(plasma_fractal(size, c[1], rng)[:hr, :wr], img.shape[:2])
    peak = x.max()
    x += c[0] * layer[..., None]
    x *= peak
    x /= peak + c[0]
    return x


def brightness(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """HSV value + ``c`` (clipped to 1), hue and saturation kept (black becomes grey ``c``)."""
    x = img / 255.0
    v = x.max(axis=2, keepdims=True)
    v_new = np.clip(v + c, 0, 1)
    return np.where(v > 0, x * (v_new / np.where(v > 0, v, 1.0)), v_new)


def contrast(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Deviations from each channel's mean scaled by ``c``."""
    x = img / 255.0
    m = x.mean(axis=(0, 1), keepdims=True)
    x -= m
    x *= c
    x += m
    return x


def elastic_transform(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Random affine (corner jitter ``c[2]`` px), then a smooth random displacement field
    (uniform noise blurred with σ ``c[1]`` px, × ``c[0]``), all in 224-px pixels, bilinear."""
    x = (img / 255.0).astype(np.float32)
    h, w = img.shape[:2]
    hr, wr, _ = _reference_shape(h, w)
    sy, sx = h / hr, w / wr
    centre = np.float32((hr, wr)) // 2
    half = min(hr, wr) // 3
    pts1 = np.float32([centre + half, [centre[0] + half, centre[1] - half], centre - half])
    pts2 = pts1 + rng.uniform(-c[2], c[2], size=pts1.shape).astype(np.float32)
    to_image = np.array([sx, sy])  # points are (x, y), as OpenCV reads them
    x = warp_affine(x.astype(np.float64), affine_from_points(pts1 * to_image, pts2 * to_image))
    # The field is ImageNet-C's random-field definition, not an image blur: smoothed as there
    # (scipy's Gaussian, edge-repeating border, taps to 3σ). blurscope.blur's mirror border
    # moves the field near the borders, which the field's amplitude (up to 488 px) turns
    # into pixel differences of up to 170 levels (measured at 224 px).
    rows, cols = field_smoothing_matrix(hr, c[1]), field_smoothing_matrix(wr, c[1])
    dx = rows @ rng.uniform(-1, 1, size=(hr, wr)) @ cols.T * c[0]
    dy = rows @ rng.uniform(-1, 1, size=(hr, wr)) @ cols.T * c[0]
    dx, dy = resample_area(dx, (h, w)) * sx, resample_area(dy, (h, w)) * sy
    dy += np.arange(h)[:, None]
    dx += np.arange(w)[None, :]
    return bilinear_sample(x, dy, dx, "reflect")


def pixelate(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """PIL ``BOX`` down-sampling to ``int(c · W) × int(c · H)`` and ``BOX`` back up (uint8; the
    enlargement as the index gather :func:`box_enlarge_index`, the same pixels in a fifth of the time)."""
    h, w = img.shape[:2]
    small = np.asarray(Image.fromarray(img).resize((max(1, int(w * c)), max(1, int(h * c))), Image.BOX))
    sh, sw, ch = small.shape
    byte = (ch * box_enlarge_index(sw, w)[:, None] + np.arange(ch)).ravel()  # gather bytes: 2× faster than pixels
    cols = np.take(small.reshape(sh, sw * ch), byte, axis=1)
    return np.take(cols, box_enlarge_index(sh, h), axis=0).reshape(h, w, ch)


def jpeg_compression(img: np.ndarray, c: int, rng: Rng, s: float) -> np.ndarray:
    """Pillow JPEG round trip at quality ``c`` (uint8)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(c))
    buf.seek(0)
    with Image.open(buf, formats=("JPEG",)) as im:
        return np.array(im if im.mode == "RGB" else im.convert("RGB"))


CORRUPTIONS: dict[str, Callable[[np.ndarray, object, Rng, float], np.ndarray]] = {
    name: globals()[name] for name in ALL
}
"""All corruptions by name: ``(image uint8 [H,W,3], parameter, rng, s) → float [H,W,3]`` in [0, 1]
units (or uint8 where 8-bit already), always a new array (:func:`corrupt_image` clips it in place)."""


# ------------------------------------------------------------------ applying them
def image_seed(seed: int, name: str, severity: int, index: int) -> int:
    """Seed of image ``index`` (position in the analysis set) under ``name`` at ``severity``:
    independent of the other configured corruptions, the batch size and the model."""
    key = zlib.crc32(name.encode())
    return int(np.random.SeedSequence([int(seed), key, int(severity), int(index)]).generate_state(1)[0])


def quantise(x: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Clip to [0, 1] and truncate to uint8 as ImageNet-C's ``np.uint8(255 · x)`` (+1e-6 against
    float round-off of exact levels); a uint8 image (already 8-bit) is returned as it is.
    ``overwrite``: ``x`` is a temporary of the caller's and may be used as the work array."""
    if x.dtype == np.uint8:
        return x
    y = np.clip(x, 0.0, 1.0, out=x if overwrite else None)
    y *= 255.0
    y += 1e-6
    return y.astype(np.uint8, order="C")  # truncation: the floor of y > 0


def corrupt_image(img: np.ndarray, name: str, severity: int, rng: Rng) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (1–5) to one uint8 ``[H, W, 3]`` image.

    Raises:
        ValueError: unknown name or severity, or not a uint8 RGB image of at least 16 px.
    """
    check_names([name], [severity])
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 16:
        raise ValueError(f"corruptions expect uint8 [H, W, 3] images of at least 16 px, got {img.dtype} {img.shape}")
    s = min(img.shape[:2]) / REFERENCE_SIZE
    return quantise(CORRUPTIONS[name](img, PARAMS[name][severity - 1], rng, s), overwrite=True)  # a new array


def corrupt_images(images: np.ndarray, name: str, severity: int, seed: int = 0, first_index: int = 0) -> np.ndarray:
    """Corrupt uint8 ``[N, H, W, 3]``; image ``i`` uses ``RandomState(image_seed(seed, name, severity,
    first_index + i))``, so any subset or order of images gives the same pixels."""
    out = np.empty_like(images)
    rng = Rng()
    for i, img in enumerate(images):
        rng.seed(image_seed(seed, name, severity, first_index + i))  # = a new RandomState(seed), 25× faster
        out[i] = corrupt_image(img, name, severity, rng)
    return out


def corruption_set(images: np.ndarray, name: str, severities: Sequence[int], seed: int = 0) -> np.ndarray:
    """One corruption at several severities: uint8 ``[S, N, H, W, 3]`` (the shared, model-independent set)."""
    check_names([name], list(severities))
    return np.stack([corrupt_images(images, name, int(s), seed) for s in severities])


def write_corruption_set(path: str | Path, name: str, images: np.ndarray, severities: Sequence[int],
                         ids: np.ndarray) -> None:
    """Write one corruption's shared set: ``images`` uint8 ``[S, N, H, W, 3]``, ``severities [S]``,
    ``ids [N]`` (manifest rows of the analysis images) and the ``name`` (atomic, *uncompressed*
    ``.npz``: noise hardly compresses, and every model's job reads every set)."""
    from blurscope.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, images=images, severities=np.asarray(severities, dtype=np.int64),
                 ids=np.asarray(ids, dtype=np.int64), name=np.asarray(name))


def load_corruption_set(path: str | Path, name: str, severities: Sequence[int]) -> dict[str, np.ndarray]:
    """Read a set written by :func:`write_corruption_set`, checking it is ``name`` at ``severities``.

    Raises:
        ValueError: naming the file and what differs (a stale or foreign file).
    """
    with np.load(path) as z:
        out = {k: z[k] for k in z.files}
    if str(out.get("name", "")) != name or out.get("severities", np.empty(0)).tolist() != [int(s) for s in severities]:
        raise ValueError(f"{path}: holds {out.get('name')!s} at severities {out.get('severities')}, "
                         f"expected {name} at {list(severities)}")
    imgs = out["images"]
    if imgs.dtype != np.uint8 or imgs.ndim != 5 or imgs.shape[0] != len(severities) or imgs.shape[1] != len(out["ids"]):
        raise ValueError(f"{path}: expected uint8 images [S, N, H, W, 3] with S = {len(severities)}, got "
                         f"{imgs.dtype} {imgs.shape}")
    return out


@torch.inference_mode()
def corruption_hits(
    model: nn.Module,
    clean: np.ndarray,
    corrupted: Mapping[str, np.ndarray],
    severities: Sequence[int],
    labels: np.ndarray,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Correct / wrong per image on the clean images and every corrupted set (forwards only).

    Args:
        model: classifier on float ``[B,3,H,W]`` in [0,1] → logits.
        clean: uint8 ``[N,H,W,3]``.
        corrupted: name → uint8 ``[S,N,H,W,3]`` (:func:`corruption_set`, severities in order).
        labels: int ``[N]``.

    Returns:
        ``(conditions, hits)``: ``conditions`` has columns ``corruption severity`` (first row
        ``clean``, severity 0); ``hits`` is bool ``[n_conditions, N]``.
    """
    labels_t = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    n = clean.shape[0]
    if labels_t.numel() != n:
        raise ValueError(f"{n} images but {labels_t.numel()} labels")
    sets = [("clean", 0, clean)]
    for name, arr in corrupted.items():
        if arr.shape[0] != len(severities) or arr.shape[1:] != clean.shape:
            raise ValueError(f"corrupted set {name!r} has shape {arr.shape}, expected "
                             f"[{len(severities)}, {', '.join(map(str, clean.shape))}]")
        sets += [(name, int(s), arr[k]) for k, s in enumerate(severities)]
    hits = np.zeros((len(sets), n), dtype=bool)
    for k, (_, _, arr) in enumerate(sets):
        for start in range(0, n, batch_size):
            x = torch.from_numpy(arr[start : start + batch_size]).to(device).permute(0, 3, 1, 2).float().div_(255.0)
            pred = model(x).argmax(1).cpu()
            hits[k, start : start + len(pred)] = (pred == labels_t[start : start + len(pred)]).numpy()
            if progress is not None:
                progress(len(pred))
    return pd.DataFrame([(c, s) for c, s, _ in sets], columns=["corruption", "severity"]), hits


def write_hits(path: str | Path, conditions: pd.DataFrame, hits: np.ndarray, ids: np.ndarray) -> None:
    """Per-image correctness of one model (``hits`` bool ``[C, N]``) with its conditions and image ids."""
    from blurscope.io import save_npz

    save_npz(path, hits=hits, corruption=conditions["corruption"].to_numpy(str),
             severity=conditions["severity"].to_numpy(np.int64), ids=np.asarray(ids, dtype=np.int64))


def load_hits(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``(conditions, hits [C, N], ids [N])`` written by :func:`write_hits`."""
    with np.load(path) as z:
        conds = pd.DataFrame({"corruption": z["corruption"].astype(str), "severity": z["severity"]})
        return conds, z["hits"].astype(bool), z["ids"]


# ------------------------------------------------------------------ corruption errors (mCE)
def _condition_errors(hits: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Errors per condition: ``[C]`` (point) or ``[B, C]`` with bootstrap count ``weights [B, N]``."""
    n = hits.shape[1]
    if weights is None:
        return 1.0 - hits.mean(1)
    return 1.0 - weights @ hits.T.astype(np.float64) / n


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def corruption_errors(
    conditions: pd.DataFrame,
    hits: np.ndarray,
    reference_hits: np.ndarray | None = None,
    published: Mapping[str, float] | None = None,
    weights: np.ndarray | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Corruption error (CE) and relative CE per type, and their means (mCE) over ImageNet-C types.

    Args:
        conditions: rows ``corruption severity`` of :func:`corruption_hits` (first ``clean``).
        hits: bool ``[C, N]`` of the model.
        reference_hits: bool ``[C, N]`` of the reference model on the same images and
            conditions (paired bootstrap), or None with ``published``.
        published: type → reference error (mean over severities 1–5) and ``clean``.
        weights: bootstrap counts ``[B, N]`` (:func:`blurscope.frequency.preference.bootstrap_counts`)
            for percentile intervals; None gives NaN intervals.
        level: interval coverage.

    Returns:
        One row per corruption type and a last row ``mCE``: ``corruption imagenet_c error``
        (mean over severities) ``ce ce_ci_low ce_ci_high relative_ce relative_ce_ci_low
        relative_ce_ci_high n_severities n_types``; ``mCE`` averages the ``n_types`` ImageNet-C
        types present (NaN CE where the reference's error, or its excess over clean, is ≤ 0).
    """
    if (reference_hits is None) == (published is None):
        raise ValueError("corruption_errors: give exactly one of reference_hits and published")
    cond = conditions.reset_index(drop=True)
    if cond.loc[0, "corruption"] != "clean":
        raise ValueError("corruption_errors: the first condition must be 'clean'")
    if reference_hits is not None and reference_hits.shape != hits.shape:
        raise ValueError(f"reference hits {reference_hits.shape} differ from the model's {hits.shape}")
    draws = [None] if weights is None else [None, weights]
    per_draw = []
    for w in draws:
        e = _condition_errors(hits, w)  # [C] or [B, C]
        e_ref = None if reference_hits is None else _condition_errors(reference_hits, w)
        rows = {}
        for name in dict.fromkeys(cond["corruption"][1:]):
            idx = np.flatnonzero(cond["corruption"].to_numpy() == name)
            k = len(idx)
            tot = e[..., idx].sum(-1)
            excess = tot - k * e[..., 0]
            if e_ref is not None:
                ref_tot, ref_excess = e_ref[..., idx].sum(-1), e_ref[..., idx].sum(-1) - k * e_ref[..., 0]
            else:
                ref_tot = np.full_like(tot, k * float(published[name]))
                ref_excess = np.full_like(tot, k * (float(published[name]) - float(published["clean"])))
            rows[name] = (tot / k, _ratio(tot, ref_tot), _ratio(excess, ref_excess), k)
        per_draw.append(rows)
    point = per_draw[0]
    q = [(1 - level) / 2, 1 - (1 - level) / 2]
    out = []

    def interval(samples: np.ndarray) -> tuple[float, float]:
        ok = samples[np.isfinite(samples)]
        return tuple(np.quantile(ok, q)) if len(ok) == len(samples) else (math.nan, math.nan)

    for name, (err, ce, rel, k) in point.items():
        lo = hi = rlo = rhi = math.nan
        if weights is not None:
            _, ce_b, rel_b, _ = per_draw[1][name]
            lo, hi = interval(ce_b)
            rlo, rhi = interval(rel_b)
        out.append({"corruption": name, "imagenet_c": name in IMAGENET_C, "error": float(err), "ce": float(ce),
                    "ce_ci_low": lo, "ce_ci_high": hi, "relative_ce": float(rel), "relative_ce_ci_low": rlo,
                    "relative_ce_ci_high": rhi, "n_severities": k, "n_types": 1})
    types = [n for n in point if n in IMAGENET_C]
    mean_row = {"corruption": "mCE", "imagenet_c": True, "n_types": len(types),
                "n_severities": max((point[n][3] for n in types), default=0)}
    if types:
        mean_row["error"] = float(np.mean([point[n][0] for n in types]))
        mean_row["ce"] = float(np.mean([point[n][1] for n in types]))
        mean_row["relative_ce"] = float(np.mean([point[n][2] for n in types]))
        if weights is not None:
            mean_row["ce_ci_low"], mean_row["ce_ci_high"] = interval(
                np.mean([per_draw[1][n][1] for n in types], axis=0))
            mean_row["relative_ce_ci_low"], mean_row["relative_ce_ci_high"] = interval(
                np.mean([per_draw[1][n][2] for n in types], axis=0))
    out.append(mean_row)
    cols = ["corruption", "imagenet_c", "error", "ce", "ce_ci_low", "ce_ci_high", "relative_ce",
            "relative_ce_ci_low", "relative_ce_ci_high", "n_severities", "n_types"]
    return pd.DataFrame(out).reindex(columns=cols)
