"""Visual-complexity measures of image patches (seed 000 §3, §7.4; DESIGN.md "Complexity").

All measures work on raw uint8 RGB patches ``[N, H, W, 3]`` and are vectorised
over patches, except JPEG encoding (one Pillow call per patch).

**Grey conversion** (entropy, Sobel, wavelets): ITU-R BT.601 luma exactly as
Pillow's ``Image.convert("L")`` computes it,
``L = (19595·R + 38470·G + 7471·B + 32768) >> 16`` (uint8), so "8-bit grey"
means what it means in Pillow/OpenCV. (The Fourier spectra use mean RGB as
DESIGN.md fixes; for a grey patch R = G = B both give the same value.)

Measures (column names are the library contract):

``compression_ratio``
    raw bytes ``H·W·3`` / bytes of the whole JPEG file written by Pillow at
    quality 95 (default 4:2:0 chroma subsampling, standard Huffman tables).
    Higher = simpler. The file includes a fixed header of about 620 bytes, which
    dominates for small patches (16×16: a constant patch gives ≈1.2, uniform
    noise ≈0.8); comparisons across σ at one patch size are unaffected.
``entropy``
    Shannon entropy ``−Σ p log2 p`` of the 256-bin histogram of the grey patch,
    in bits (0 for a constant patch, at most ``min(8, log2(H·W))``).
``edge_density``
    fraction of pixels whose Sobel gradient magnitude exceeds the threshold
    (default 30). Sobel kernels are the unnormalised 3×3 ones
    (``[[-1,0,1],[-2,0,2],[-1,0,1]]`` and its transpose, as ``cv2.Sobel(ksize=3)``
    and ``scipy.ndimage.sobel``), applied to the grey patch in grey levels
    (0–255), magnitude ``sqrt(gx² + gy²)`` (at most ≈1442). Only the
    ``(H−2)×(W−2)`` interior pixels are used: no padding invents or hides edges
    at the border.
``edge_strength``
    mean Sobel magnitude over the same interior pixels (grey levels per pixel,
    Sobel scaling as above).
``wavelet_approx``, ``wavelet_h``, ``wavelet_v``, ``wavelet_d``
    fractions of the wavelet energy in the level-3 approximation and in the
    horizontal, vertical and diagonal detail coefficients summed over levels 1–3.
    Daubechies-4 (``pywt`` ``"db4"``), 3 levels, ``mode="periodization"`` (an
    orthogonal transform, so band energies add up to the patch energy exactly),
    on the grey patch **with its mean removed** (otherwise the mean brightness
    alone fills the approximation band). The patch is centre-cropped to the
    largest multiple of ``2**level`` per axis so every level halves exactly
    (e.g. 18 px → 16 px). The four fractions sum to 1; a patch with no energy
    (constant) gets approx = 1, details = 0.
``wavelet_energy``
    total energy of those coefficients divided by the number of (cropped)
    pixels: the mean squared deviation from the patch mean, grey levels².
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pywt
from PIL import Image

COLUMNS = (
    "compression_ratio",
    "entropy",
    "edge_density",
    "edge_strength",
    "wavelet_approx",
    "wavelet_h",
    "wavelet_v",
    "wavelet_d",
    "wavelet_energy",
)
"""The columns of :func:`complexity_metrics`, in order."""

_CHUNK_PIXELS = 1 << 22


def _check_patches(patches: np.ndarray) -> np.ndarray:
    arr = np.asarray(patches)
    if arr.dtype != np.uint8:
        raise ValueError(f"complexity metrics need raw uint8 RGB patches, got dtype {arr.dtype}")
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"patches must be [N,H,W,3] uint8, got shape {arr.shape}")
    if arr.shape[1] < 3 or arr.shape[2] < 3:
        raise ValueError(f"patches must be at least 3x3 pixels for the Sobel operator, got {arr.shape[1:3]}")
    return arr


def grey_luma(patches: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` luma of uint8 RGB ``[..., 3]`` → uint8 ``[...]``."""
    rgb = np.asarray(patches).astype(np.uint32)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    return luma.astype(np.uint8)


def jpeg_compression_ratio(patches: np.ndarray, quality: int = 95) -> np.ndarray:
    """Raw bytes / JPEG file bytes (Pillow, ``quality``) per patch, float64 ``[N]``."""
    arr = _check_patches(patches)
    raw = arr.shape[1] * arr.shape[2] * 3
    out = np.empty(arr.shape[0])
    buf = io.BytesIO()
    for i, patch in enumerate(arr):  # JPEG encoding has no batched form
        buf.seek(0)
        buf.truncate()
        Image.fromarray(patch, mode="RGB").save(buf, format="JPEG", quality=int(quality))
        out[i] = raw / buf.tell()
    return out


def shannon_entropy(grey: np.ndarray) -> np.ndarray:
    """Entropy in bits of each uint8 grey patch's 256-bin histogram: ``[N,H,W]`` → ``[N]``."""
    grey = np.asarray(grey)
    if grey.dtype != np.uint8:
        raise ValueError(f"entropy needs uint8 grey patches, got dtype {grey.dtype}")
    n = grey.shape[0]
    flat = grey.reshape(n, -1).astype(np.int64)
    counts = np.bincount((flat + 256 * np.arange(n)[:, None]).ravel(), minlength=256 * n).reshape(n, 256)
    p = counts / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=1) + 0.0  # + 0.0 turns -0.0 into 0.0


def sobel_magnitude(grey: np.ndarray) -> np.ndarray:
    """Unnormalised 3×3 Sobel gradient magnitude on the interior: ``[N,H,W]`` → ``[N,H−2,W−2]``."""
    g = np.asarray(grey, dtype=np.float64)
    # gx: derivative along x (columns) smoothed [1,2,1] along y; gy the transpose.
    dx = g[:, :, 2:] - g[:, :, :-2]  # [N, H, W-2]
    gx = dx[:, :-2] + 2.0 * dx[:, 1:-1] + dx[:, 2:]
    dy = g[:, 2:, :] - g[:, :-2, :]  # [N, H-2, W]
    gy = dy[:, :, :-2] + 2.0 * dy[:, :, 1:-1] + dy[:, :, 2:]
    return np.sqrt(gx**2 + gy**2)


def edge_metrics(grey: np.ndarray, threshold: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Edge density (fraction of interior pixels with Sobel magnitude > ``threshold``) and
    edge strength (mean magnitude), each ``[N]``; ``grey`` in grey levels ``[N,H,W]``."""
    mag = sobel_magnitude(grey)
    return (mag > threshold).mean(axis=(1, 2)), mag.mean(axis=(1, 2))


def wavelet_energies(grey: np.ndarray, wavelet: str = "db4", level: int = 3) -> np.ndarray:
    """Wavelet energy fractions and energy per pixel: ``[N,H,W]`` → ``[N, 5]``.

    Columns: approx, H, V, D fractions (sum to 1), total energy / pixel (grey levels²).
    See the module docstring for the mean removal, centre crop and periodization mode.
    """
    g = np.asarray(grey, dtype=np.float64)
    block = 2**level
    h, w = g.shape[1:3]
    hc, wc = (h // block) * block, (w // block) * block
    if hc == 0 or wc == 0:
        raise ValueError(f"a {level}-level wavelet transform needs patches of at least {block} px, got {h}x{w}")
    top, left = (h - hc) // 2, (w - wc) // 2
    g = g[:, top : top + hc, left : left + wc]
    g = g - g.mean(axis=(1, 2), keepdims=True)
    with warnings.catch_warnings():
        # pywt warns when level exceeds dwt_max_level for the filter length; with
        # periodization the transform stays exactly orthogonal, so the warning is moot.
        warnings.simplefilter("ignore", UserWarning)
        coeffs = pywt.wavedec2(g, wavelet, mode="periodization", level=level, axes=(1, 2))
    approx = (coeffs[0] ** 2).sum(axis=(1, 2))
    detail = np.zeros((g.shape[0], 3))
    for cH, cV, cD in coeffs[1:]:
        detail[:, 0] += (cH**2).sum(axis=(1, 2))
        detail[:, 1] += (cV**2).sum(axis=(1, 2))
        detail[:, 2] += (cD**2).sum(axis=(1, 2))
    total = approx + detail.sum(axis=1)
    zero = total <= 1e-12 * hc * wc
    safe = np.where(zero, 1.0, total)
    out = np.empty((g.shape[0], 5))
    out[:, 0] = np.where(zero, 1.0, approx / safe)
    out[:, 1:4] = np.where(zero[:, None], 0.0, detail / safe[:, None])
    out[:, 4] = np.where(zero, 0.0, total / (hc * wc))
    return out


def complexity_metrics(
    patches: np.ndarray,
    jpeg_quality: int = 95,
    edge_threshold: float = 30.0,
    wavelet: str = "db4",
    wavelet_level: int = 3,
) -> pd.DataFrame:
    """All complexity measures of uint8 RGB patches ``[N,H,W,3]``.

    Returns a DataFrame with one row per patch (index 0..N−1, input order) and
    exactly the columns :data:`COLUMNS`; definitions and units in the module
    docstring (grey = Pillow BT.601 luma; Sobel unnormalised, interior pixels).
    """
    arr = _check_patches(patches)
    n, h, w = arr.shape[:3]
    out = np.empty((n, len(COLUMNS)))
    out[:, 0] = jpeg_compression_ratio(arr, quality=jpeg_quality)
    step = max(1, _CHUNK_PIXELS // (h * w))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        grey = grey_luma(arr[sl])
        out[sl, 1] = shannon_entropy(grey)
        out[sl, 2], out[sl, 3] = edge_metrics(grey, threshold=edge_threshold)
        out[sl, 4:9] = wavelet_energies(grey, wavelet=wavelet, level=wavelet_level)
    return pd.DataFrame(out, columns=list(COLUMNS))
