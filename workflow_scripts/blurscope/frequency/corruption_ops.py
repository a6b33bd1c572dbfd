"""The image operations blurscope's ImageNet-C corruptions (:mod:`blurscope.frequency.corruptions`) are built from.

numpy ``[H, W, C]`` float images (or ``[H, W]`` where stated), pixel units. Several reproduce a
reference library's numbers exactly while doing less work (so the corruptions keep their
pixels): :func:`bilinear_sample` and :func:`warp_affine` are SciPy 1.17's order-1
``map_coordinates`` / ``affine_transform``, :func:`clipped_zoom` its ``zoom`` of each channel,
:func:`box_enlarge_index` Pillow's ``BOX`` enlargement; :func:`filter_reflect101` and
:func:`gaussian_filter` agree with direct summation and :func:`blurscope.blur.gaussian_blur` to
float64 round-off. ``tests/test_corruptions.py`` checks each against its reference.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft
import torch
from scipy import ndimage

from blurscope import blur


def box_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Area (box) resampling weights ``[n_out, n_in]``: overlap of output cell ``i``
    (``[i·n_in/n_out, (i+1)·n_in/n_out)`` in input pixels) with input pixel ``j``, rows sum to 1."""
    scale = n_in / n_out
    lo = np.arange(n_out, dtype=np.float64)[:, None] * scale
    j = np.arange(n_in, dtype=np.float64)[None, :]
    w = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    return w / w.sum(1, keepdims=True)


def resample_area(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-resample ``[h, w, ...]`` to ``[H, W, ...]`` (exact fractional box weights; identity if equal)."""
    h, w = a.shape[:2]
    if (h, w) == tuple(shape):
        return a
    rows, cols = box_matrix(h, shape[0]), box_matrix(w, shape[1])
    out = np.tensordot(rows, a, axes=(1, 0))  # [H, w, ...]
    return np.moveaxis(np.tensordot(out, cols, axes=(1, 1)), -1, 1)  # [H, W, ...]


def resample_kernel(k: np.ndarray, s: float) -> np.ndarray:
    """Resample a centred odd ``[n, n]`` kernel defined in 224-px pixels to pixels of pitch ``1/s``.

    Output tap ``j`` covers ``[(j − ½)/s, (j + ½)/s)`` around the centre; its weight is the
    kernel's integral over that cell (piecewise-constant pixels); renormalised to sum 1.
    ``s = 1`` returns the kernel unchanged.
    """
    n = k.shape[0]
    half = (n - 1) / 2
    m = max(0, math.ceil((half + 0.5) * s - 0.5 - 1e-9))
    lo_out = (np.arange(-m, m + 1) - 0.5) / s
    lo_in = np.arange(n) - half - 0.5
    a = np.clip(
        np.minimum(lo_out[:, None] + 1 / s, lo_in[None] + 1) - np.maximum(lo_out[:, None], lo_in[None]), 0, None
    )
    out = a @ k @ a.T
    return out / out.sum()


def _torch(x: np.ndarray) -> torch.Tensor:
    """``[H, W]`` or ``[H, W, C]`` numpy → float64 ``[1, C, H, W]``."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    return (t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]).contiguous()


def _numpy(t: torch.Tensor, like: np.ndarray) -> np.ndarray:
    out = t[0].permute(1, 2, 0).numpy()
    return out[..., 0] if like.ndim == 2 else out


@functools.lru_cache(maxsize=64)
def _gaussian_taps(sigma_px: float) -> np.ndarray:
    """:func:`blurscope.blur.gaussian_kernel1d` in float64 as numpy (read-only: cached)."""
    taps = blur.gaussian_kernel1d(sigma_px, torch.float64).numpy()
    taps.setflags(write=False)
    return taps


def gaussian_filter(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of float ``[H, W]`` / ``[H, W, C]`` (σ in px of ``x``): the filter of
    :func:`blurscope.blur.gaussian_blur` (its taps, :func:`blurscope.blur.gaussian_kernel1d`, and its
    mirror border) as two 1-D correlations (``scipy.ndimage.correlate1d``): equal to it to float64
    round-off, and at 224 px ~4× faster than its dense-matrix products."""
    taps = _gaussian_taps(float(sigma_px))
    out = ndimage.correlate1d(np.asarray(x, dtype=np.float64), taps, axis=1, mode="mirror")
    return ndimage.correlate1d(out, taps, axis=0, mode="mirror")


def gaussian_filter_exact(x: np.ndarray, sigma_px: float) -> np.ndarray:
    """:func:`gaussian_filter` computed by :func:`blurscope.blur.gaussian_blur` itself (the same numbers
    to the last bit), for ``glass_blur``, which truncates its blur to 8 bits without a guard."""
    return _numpy(blur.gaussian_blur(_torch(x), sigma_px), x)


@functools.lru_cache(maxsize=16)
def _kernel_spectrum(kernel: bytes, k: int, shape: tuple[int, int]) -> np.ndarray:
    """Real FFT ``[L0, L1 // 2 + 1]`` of the flipped float64 ``[k, k]`` kernel zero-padded to ``shape``."""
    taps = np.frombuffer(kernel, dtype=np.float64).reshape(k, k)
    out = scipy.fft.rfft2(taps[::-1, ::-1], s=shape, workers=1)
    out.setflags(write=False)
    return out


def filter_reflect101(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel of ``[H, W, C]`` (any real dtype) with an odd ``[k, k]`` kernel, mirror
    border (edge not repeated; OpenCV's default ``BORDER_REFLECT_101``): float64 ``[H, W, C]``.

    A product of float64 real FFTs of the padded image, whose size ``H + k − 1`` is rounded up to
    a fast length (nothing wraps round into the result): equal to direct summation to ~1e-15 of
    the values' scale, so the same 8-bit pixels after :func:`blurscope.frequency.corruptions.quantise`; at
    224 px ~100× faster than direct summation for ImageNet-C's 17 × 17 disk.
    """
    h, w, ch = x.shape
    r = kernel.shape[0] // 2
    shape = (scipy.fft.next_fast_len(h + 2 * r, real=True), scipy.fft.next_fast_len(w + 2 * r, real=True))
    kernel_spec = _kernel_spectrum(np.ascontiguousarray(kernel, dtype=np.float64).tobytes(), kernel.shape[0], shape)
    # np.pad's "reflect" is the mirror without the edge, repeated for pads beyond the size
    padded = np.pad(x, ((r, shape[0] - h - r), (r, shape[1] - w - r), (0, 0)), mode="reflect")
    out = np.empty((ch, h, w))
    for c in range(ch):  # one channel at a time: its half-megabyte buffers are reused, not page-faulted anew
        spec = scipy.fft.rfft(padded[..., c].astype(np.float64), axis=1, workers=1, overwrite_x=True)
        spec = scipy.fft.fft(spec, axis=0, workers=1, overwrite_x=True)
        spec *= kernel_spec
        # inverse over columns, then over rows only for the rows kept
        spec = scipy.fft.ifft(spec, axis=0, workers=1, overwrite_x=True)[2 * r : 2 * r + h]
        out[c] = scipy.fft.irfft(spec, n=shape[1], axis=1, workers=1, overwrite_x=True)[:, 2 * r : 2 * r + w]
    return out.transpose(1, 2, 0)


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
    out, term = np.zeros(x.shape, dtype=np.float64), np.empty(x.shape, dtype=np.float64)
    for i, dx, dy in shifts:  # out[r, c] += k[i] · x[clip(r − dy), clip(c − dx)]
        out += np.multiply(padded[m - dy : m - dy + h, m - dx : m - dx + w], k[i], out=term)
    return out


def clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Zoom ``[H, W, C]`` by ``factor`` ≥ 1 about the centre (bilinear), cropped back to ``[H, W, C]``.

    SciPy's ``zoom`` (order 1) of each channel: the same numbers as zooming ``[h, w, C]`` by
    ``(factor, factor, 1)`` (the channel axis only adds taps of weight 0) in half the time.
    """
    h, w = x.shape[:2]
    ch, cw = math.ceil(h / factor), math.ceil(w / factor)
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[top : top + ch, left : left + cw]
    out = np.empty_like(x)
    for k in range(x.shape[2]):
        z = ndimage.zoom(crop[..., k], (factor, factor), order=1)
        th, tw = (z.shape[0] - h) // 2, (z.shape[1] - w) // 2
        out[..., k] = z[th : th + h, tw : tw + w]
    return out


def affine_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2×3 affine matrix mapping three (x, y) points ``src`` onto ``dst``."""
    a = np.hstack([src.astype(np.float64), np.ones((3, 1))])
    return np.linalg.solve(a, dst.astype(np.float64)).T


def _map_coordinate(c: np.ndarray, n: int, mode: str) -> np.ndarray:
    """SciPy's ``map_coordinate`` (``ndimage/src/ni_interpolation.c``, 1.17): coordinates ``c`` along
    an axis of ``n`` samples folded into it, ``mirror`` (edge not repeated) or ``reflect`` (repeated)."""
    c = np.array(c, dtype=np.float64)
    if n <= 1:
        c[(c < 0) | (c > n - 1)] = 0.0
        return c
    lo, hi = c < 0, c > n - 1
    v, u = c[lo], c[hi]
    if mode == "mirror":
        sz2 = 2 * n - 2
        v = sz2 * np.trunc(-v / sz2) + v
        c[lo] = np.where(v <= 1 - n, v + sz2, -v)
        u = u - sz2 * np.trunc(u / sz2)
        c[hi] = np.where(u >= n, sz2 - u, u)
    else:
        sz2 = 2 * n
        v = np.where(v < -sz2, sz2 * np.trunc(-v / sz2) + v, v)
        c[lo] = np.where(v < -n, v + sz2, np.where(v > -1e-15, 1e-15, -v) - 1)
        u = u - sz2 * np.trunc(u / sz2)
        c[hi] = np.where(u >= n, sz2 - u - 1, u)
    return c


SAMPLE_BLOCK = 8192
"""Output pixels per block of :func:`bilinear_sample`: its temporaries stay small (64 kB) and are
reused, instead of a dozen image-sized arrays allocated (and page-faulted) per call."""


def bilinear_sample(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, mode: str) -> np.ndarray:
    """Sample float ``[H, W, C]`` at fractional pixel positions ``rows``, ``cols`` (``[h, w]``) bilinearly:
    float64 ``[h, w, C]``, ``mode`` ``"mirror"`` or ``"reflect"`` beyond the border.

    The numbers of ``scipy.ndimage.map_coordinates(x[..., k], [rows, cols], order=1, mode=mode)``
    (1.17: its coordinate folding, tap indices, weights ``1 − f`` and ``1 − (1 − f)``, and the
    four products summed in its order), with the taps and weights computed once for all
    channels, in blocks of rows.
    """
    h, w, ch = x.shape
    fold_y = _map_coordinate(np.arange(-1, h + 1), h, mode).astype(np.intp)  # taps -1 … n, folded
    fold_x = _map_coordinate(np.arange(-1, w + 1), w, mode).astype(np.intp)
    src = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    rows, cols = np.broadcast_arrays(rows, cols)
    out = np.empty((*rows.shape, ch))
    step = max(1, SAMPLE_BLOCK // max(1, rows.shape[-1]))
    for r0 in range(0, rows.shape[0], step):
        taps = []
        for c, n, fold in ((rows[r0 : r0 + step], h, fold_y), (cols[r0 : r0 + step], w, fold_x)):
            c = _map_coordinate(c, n, mode)  # in [-1, n)
            f = np.floor(c)
            w0 = 1.0 - (c - f)
            i = f.astype(np.intp)
            i += 1
            taps.append((fold[i], fold[i + 1], w0, 1.0 - w0))
        (y0, y1, wy0, wy1), (x0, x1, wx0, wx1) = taps
        y0 *= w * ch
        y1 *= w * ch
        x0 *= ch
        x1 *= ch
        block = out[r0 : r0 + step]
        for k in range(ch):
            acc = None
            for iy, wy in ((y0, wy0), (y1, wy1)):
                for ix, wx in ((x0, wx0), (x1, wx1)):
                    v = np.take(src, iy + ix + k)
                    v *= wy
                    v *= wx
                    acc = v if acc is None else np.add(acc, v, out=acc)
            block[..., k] = acc
    return out


def warp_affine(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``out(p) = x(M⁻¹ p)`` for every pixel p = (x, y) (OpenCV's ``warpAffine``), bilinear,
    mirror border (edge not repeated); the numbers of SciPy's ``affine_transform`` (order 1)."""
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
    h, w = x.shape[:2]
    r, c = np.arange(h, dtype=np.float64)[:, None], np.arange(w, dtype=np.float64)[None, :]
    # (x, y) → (row, col); SciPy adds the offset first, then each coordinate × its matrix entry
    rows = (inv[1, 2] + r * inv[1, 1]) + c * inv[1, 0]
    cols = (inv[0, 2] + r * inv[0, 1]) + c * inv[0, 0]
    return bilinear_sample(x, rows, cols, "mirror")


@functools.lru_cache(maxsize=64)
def box_enlarge_index(n_in: int, n_out: int) -> np.ndarray:
    """Source pixel of each of ``n_out`` pixels when PIL's ``BOX`` filter enlarges ``n_in ≤ n_out``
    pixels: the one under the output pixel's centre, ``floor((i + ½) · n_in / n_out)`` (its box,
    one input pixel wide, covers exactly that pixel, with weight 1)."""
    idx = np.floor((np.arange(n_out) + 0.5) * (n_in / n_out)).astype(np.intp)
    idx.setflags(write=False)
    return idx
