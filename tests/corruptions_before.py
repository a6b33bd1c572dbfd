"""The ImageNet-C corruptions as blurscope 0.5.0 computed them, before the speed-up: the reference
for ``tests/test_corruptions.py::test_same_pixels_as_before_the_speed_up``.

A frozen copy of the functions whose code changed (direct summation for the defocus disk, one
SciPy call per channel for zoom, affine warp and bilinear sampling, torch's matrix products for
the Gaussian, a fresh array per step); the unchanged pieces (parameters, kernels' definitions,
frost textures, fractal, random-field matrices, area resampling) come from the library, and so do
the corruption functions whose source did not change, with their names resolved here (they call
the helpers above as they were).
Do not edit: it is what the library's pixels are compared with.
"""

from __future__ import annotations

import io
import math
import types

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import ndimage

from blurscope import blur, freq  # noqa: F401 (freq: read by highpass_noise, taken from the library)
from blurscope.frequency import corruption_ops, corruptions
from blurscope.frequency.corruptions import (  # noqa: F401 (HIGHPASS_CUTOFF, frost_texture: read by the functions taken from the library)
    HIGHPASS_CUTOFF,
    PARAMS,
    REFERENCE_SIZE,
    Rng,
    _reference_shape,
    affine_from_points,
    check_names,
    field_smoothing_matrix,
    frost_texture,
    gaussian_taps,
    plasma_fractal,
    resample_area,
    resample_kernel,
)


def _as_before(fn: types.FunctionType) -> types.FunctionType:
    """A library function whose source did not change in the speed-up, with its global names resolved
    in this module: it calls the helpers (blur, zoom, motion kernel, ...) as they were before."""
    out = types.FunctionType(fn.__code__, globals(), fn.__name__, fn.__defaults__, fn.__closure__)
    out.__kwdefaults__, out.__doc__ = fn.__kwdefaults__, fn.__doc__
    return out


_torch, _numpy = _as_before(corruption_ops._torch), _as_before(corruption_ops._numpy)
highpass_noise, gaussian_blur, motion_blur, zoom_blur, snow, frost, brightness = (
    _as_before(getattr(corruptions, n))
    for n in ("highpass_noise", "gaussian_blur", "motion_blur", "zoom_blur", "snow", "frost", "brightness")
)


def gaussian_filter(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of ``[H, W]`` / ``[H, W, C]`` with :func:`blurscope.blur.gaussian_blur` (σ in px of ``x``)."""
    return _numpy(blur.gaussian_blur(_torch(x), sigma_px), x)


def filter_reflect101(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel of ``[H, W, C]`` with an odd ``[k, k]`` kernel, mirror border
    (edge not repeated; OpenCV's default ``BORDER_REFLECT_101``)."""
    r = kernel.shape[0] // 2
    t = _torch(x)
    if r:
        t = F.pad(t, (r, r, r, r), mode="reflect") if r < min(x.shape[:2]) else blur._reflect_pad(t, (r, r, r, r))
    kt = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float64))[None, None]
    c = t.shape[1]
    return _numpy(F.conv2d(t, kt.expand(c, 1, -1, -1), groups=c), x)


def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """ImageNet-C's defocus kernel at 224 px: a disk of ``radius`` px on a grid of at least
    ±8 px, normalised, then smoothed by a 3×3 (radius ≤ 8) or 5×5 Gaussian of σ ``alias_sigma``."""
    half = 8 if radius <= 8 else int(radius)
    grid = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float32)
    disk /= disk.sum()
    g = gaussian_taps(3 if radius <= 8 else 5, alias_sigma)
    return filter_reflect101(disk[..., None].astype(np.float64), np.outer(g, g))[..., 0]


def motion_kernel_blur(x: np.ndarray, radius: float, sigma: float, angle: float) -> np.ndarray:
    """ImageMagick's ``MotionBlurImage`` (as ported by ``imagecorruptions``): a one-sided
    Gaussian streak of ``2·ceil(radius) + 1`` taps (std ``sigma`` px) along ``angle`` degrees."""
    width = 2 * math.ceil(radius - 1e-9) + 1
    k = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2))
    k /= k.sum()
    py, px = width * math.sin(math.radians(angle)), width * math.cos(math.radians(angle))
    hyp = math.hypot(py, px)
    h, w = x.shape[:2]
    shifts = []
    for i in range(width):
        dy = -math.ceil(i * py / hyp - 0.5)
        dx = -math.ceil(i * px / hyp - 0.5)
        if abs(dy) >= h or abs(dx) >= w:
            break  # the streak left the image (the reference stops here too)
        shifts.append((i, dx, dy))
    m = max(max(abs(dx), abs(dy)) for _, dx, dy in shifts)
    pad = [(m, m), (m, m)] + [(0, 0)] * (x.ndim - 2)
    padded = np.pad(np.asarray(x, dtype=np.float64), pad, mode="edge")  # edge pixels repeated
    out = np.zeros(x.shape, dtype=np.float64)
    for i, dx, dy in shifts:  # out[r, c] += k[i] · x[clip(r − dy), clip(c − dx)]
        out += k[i] * padded[m - dy : m - dy + h, m - dx : m - dx + w]
    return out


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Zoom ``[H, W, C]`` by ``factor`` ≥ 1 about the centre (bilinear), cropped back to ``[H, W, C]``."""
    h, w = x.shape[:2]
    ch, cw = math.ceil(h / factor), math.ceil(w / factor)
    top, left = (h - ch) // 2, (w - cw) // 2
    z = ndimage.zoom(x[top : top + ch, left : left + cw], (factor, factor, 1), order=1)
    th, tw = (z.shape[0] - h) // 2, (z.shape[1] - w) // 2
    return z[th : th + h, tw : tw + w]


def warp_affine(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``out(p) = x(M⁻¹ p)`` for every pixel p = (x, y) (OpenCV's ``warpAffine``), bilinear,
    mirror border (edge not repeated)."""
    full = np.vstack([m, [0, 0, 1]])
    inv = np.linalg.inv(full)
    # (x, y) → (row, col) order for scipy
    mat = np.array([[inv[1, 1], inv[1, 0]], [inv[0, 1], inv[0, 0]]])
    off = np.array([inv[1, 2], inv[0, 2]])
    return np.stack([ndimage.affine_transform(x[..., c], mat, off, order=1, mode="mirror")
                     for c in range(x.shape[2])], axis=-1)


# ------------------------------------------------------------------ the corruptions
# Each: (image uint8 [H, W, 3], parameter, rng, s) -> float [H, W, 3] in [0, 1] units (clipped later).
def gaussian_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Additive white Gaussian noise of std ``c``."""
    x = img / 255.0
    return x + rng.normal(size=x.shape, scale=c)


def shot_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Poisson noise: ``Poisson(x · c) / c``."""
    x = img / 255.0
    return rng.poisson(x * c) / float(c)


def impulse_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Salt and pepper: each value is replaced with probability ``c``, by 0 or 1 with equal odds."""
    x = img / 255.0
    flip = rng.random_sample(x.shape) < c
    salt = rng.random_sample(x.shape) < 0.5
    out = x.copy()
    out[flip & salt] = 1.0
    out[flip & ~salt] = 0.0
    return out


def speckle_noise(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Multiplicative noise ``x + x · N(0, c²)``."""
    x = img / 255.0
    return x + x * rng.normal(size=x.shape, scale=c)


def defocus_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Convolution with ImageNet-C's anti-aliased disk (radius ``c[0]`` px at 224, resampled to ``s``)."""
    k = disk_kernel(c[0], c[1])
    return filter_reflect101(img / 255.0, k if s == 1 else resample_kernel(k, s))


def glass_blur(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Blur (σ ``c[0]``), ``c[2]`` passes of local pixel moves up to ``c[1]`` px, blur again.

    Each pass visits pixels bottom-right to top-left and copies into each the pixel at a
    random offset in ``[−d, d)²`` (ImageNet-C's "swap" assigns through numpy views, which
    copies one way: reproduced as such).
    """
    sigma, d, passes = c[0] * s, max(1, round(c[1] * s)), c[2]
    h, w = img.shape[:2]
    x = (gaussian_filter(img / 255.0, sigma) * 255).astype(np.uint8)
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
    return gaussian_filter(x / 255.0, sigma)


def fog(img: np.ndarray, c: tuple, rng: Rng, s: float) -> np.ndarray:
    """Fog: a plasma fractal (decay ``c[1]``) of strength ``c[0]`` added, rescaled by the image maximum."""
    x = img / 255.0
    hr, wr, _ = _reference_shape(*img.shape[:2])
    size = 1 << (max(hr, wr) - 1).bit_length()  # the next power of 2 (256 at 224 px, as ImageNet-C)
    layer = resample_area(plasma_fractal(size, c[1], rng)[:hr, :wr], img.shape[:2])
    peak = x.max()
    return (x + c[0] * layer[..., None]) * peak / (peak + c[0])


def contrast(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """Deviations from each channel's mean scaled by ``c``."""
    x = img / 255.0
    m = x.mean(axis=(0, 1), keepdims=True)
    return (x - m) * c + m


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
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    coords = np.stack([yy + dy, xx + dx])
    return np.stack([ndimage.map_coordinates(x[..., k], coords, order=1, mode="reflect")
                     for k in range(x.shape[2])], axis=-1)


def pixelate(img: np.ndarray, c: float, rng: Rng, s: float) -> np.ndarray:
    """PIL ``BOX`` down-sampling to ``int(c · W) × int(c · H)`` and ``BOX`` back up."""
    h, w = img.shape[:2]
    im = Image.fromarray(img).resize((max(1, int(w * c)), max(1, int(h * c))), Image.BOX)
    return np.asarray(im.resize((w, h), Image.BOX)) / 255.0


def jpeg_compression(img: np.ndarray, c: int, rng: Rng, s: float) -> np.ndarray:
    """Pillow JPEG round trip at quality ``c``."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(c))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB")) / 255.0


def quantise(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and truncate to uint8 as ImageNet-C's ``np.uint8(255 · x)`` (+1e-6 against
    float round-off of exact levels)."""
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 1e-6).astype(np.uint8)


def corrupt_image(img: np.ndarray, name: str, severity: int, rng: Rng) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (1–5) to one uint8 ``[H, W, 3]`` image.

    Raises:
        ValueError: unknown name or severity, or not a uint8 RGB image of at least 16 px.
    """
    check_names([name], [severity])
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 16:
        raise ValueError(f"corruptions expect uint8 [H, W, 3] images of at least 16 px, got {img.dtype} {img.shape}")
    s = min(img.shape[:2]) / REFERENCE_SIZE
    return quantise(CORRUPTIONS[name](img, PARAMS[name][severity - 1], rng, s))


CORRUPTIONS = {name: globals()[name] for name in PARAMS}
"""The 18 corruptions as they were: ``(image uint8 [H,W,3], parameter, rng, s) → float [H,W,3]``."""
