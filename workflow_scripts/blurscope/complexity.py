"""Visual-complexity measures of image patches (VITAL feature-analysis report §3, §7.4).

All measures work on raw uint8 RGB patches ``[N, H, W, 3]`` and are vectorised
over patches, except JPEG encoding (one Pillow call per patch).

**Grey conversion** (entropy, Sobel, wavelets): ITU-R BT.601 luma exactly as
Pillow's ``Image.convert("L")`` computes it,
``L = (19595·R + 38470·G + 7471·B + 32768) >> 16`` (uint8), so "8-bit grey"
means what it means in Pillow/OpenCV. (The Fourier spectra,
:mod:`blurscope.spectra.spectrum`, use mean RGB; for a grey patch R = G = B both give
the same value.)

Measures (column names are the library contract):

``compression_ratio``
    raw bytes ``H·W·3`` / bytes of the **entropy-coded scan data** of the JPEG
    file Pillow writes at quality 95 (baseline, 4:2:0 chroma subsampling,
    standard Huffman tables): the bytes between the end of the SOS (start of
    scan) segment header and the EOI marker, found by walking the file's
    markers. The fixed part of the file (SOI, JFIF APP0, quantisation and
    Huffman tables, frame and scan headers: 623 bytes here, whatever the
    patch) is not counted: it would dominate small patches (18 px: a constant
    patch gives 1.51 and uniform noise 0.77 with the whole file, 54 and 1.52
    with the scan data). Higher = simpler. ``jpeg_data="file"`` counts the
    whole file (the VITAL feature-analysis report's definition).
``entropy``
    Shannon entropy ``−Σ p log2 p`` of the 256-bin histogram of the grey patch,
    in bits (0 for a constant patch, at most ``min(8, log2(H·W))``).
``edge_density``
    fraction of pixels whose Sobel gradient magnitude exceeds the threshold
    (default 30). **Scale**: the Sobel kernels are the unnormalised 3×3 ones
    (``[[-1,0,1],[-2,0,2],[-1,0,1]]`` and its transpose, as ``cv2.Sobel(ksize=3)``
    and ``scipy.ndimage.sobel``), applied to the grey patch in grey levels
    (0–255), magnitude ``sqrt(gx² + gy²)``: a straight step of 10 grey levels
    gives magnitude 40 (4 × the step), the maximum is ≈1442. Numbers on other
    scales (normalised kernels, 0–1 grey) are not comparable. Only the
    ``(H−2)×(W−2)`` interior pixels are used: no padding invents or hides edges
    at the border.
``edge_strength``
    mean Sobel magnitude over the same interior pixels (grey levels per pixel,
    Sobel scaling as above).
``wavelet_approx``, ``wavelet_h``, ``wavelet_v``, ``wavelet_d``
    fractions of the wavelet coefficient energy in the approximation band of
    the last level and in the horizontal, vertical and diagonal detail bands
    summed over all levels, of the grey patch **with its mean removed**
    (otherwise the mean brightness alone fills the approximation band).
    Daubechies-4 (``pywt`` ``"db4"``) with **at most** ``wavelet_level``
    levels: never more than ``pywt.dwt_max_level(min(H, W), filter length)``
    (db4: 1 level at 14–27 px, 2 at 28–55 px, 3 at 56–111 px), because deeper
    levels of a short signal are made of border extension rather than patch
    content; the number used is the ``wavelet_levels`` column. Boundary
    ``mode="reflect"`` (whole-sample mirror; pywt's default would be
    ``"symmetric"``): a mirrored border continues smooth content without a
    jump, so a linear ramp has detail fraction 0.001 at 18 px, where
    ``"periodization"`` wraps the opposite border round and gives 0.05 at one
    level, and mirroring around a
    whole sample keeps white noise at its ideal one-level detail fraction
    (0.75; ``"symmetric"`` repeats the border sample and gives 0.66). The
    transform is then not orthogonal (extension coefficients), so the
    fractions are shares of the coefficient energy; they sum to 1; a patch
    with no energy (constant) gets approx = 1, details = 0.
``wavelet_energy``
    energy of the mean-removed grey patch per pixel, i.e. its grey-level
    variance (grey levels²): the total that the wavelet fractions divide up.
``wavelet_levels``
    number of wavelet levels actually used (an integer; the same for every
    patch of one size). Not a measure: :data:`COLUMNS` does not include it.
"""

from __future__ import annotations

import io

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
"""The measure columns of :func:`complexity_metrics`, in order (the library contract)."""

LEVELS_COLUMN = "wavelet_levels"
"""The extra, non-measure column of :func:`complexity_metrics`: wavelet levels used."""

JPEG_DATA = ("scan", "file")
"""What the JPEG compression ratio counts: the entropy-coded scan data (default) or the whole file."""

WAVELET_MODES = tuple(pywt.Modes.modes)
"""pywt boundary modes accepted by :func:`wavelet_energies` (default ``"reflect"``)."""

_CHUNK_PIXELS = 1 << 22

_STANDALONE_MARKERS = frozenset([0x01, *range(0xD0, 0xD9)])
"""JPEG markers without a length field (TEM, RST0–7, SOI)."""


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


def jpeg_scan_bytes(data: bytes) -> int:
    """Bytes of entropy-coded data in a JPEG file: from the end of the first SOS
    segment header to the EOI marker that ends the file.

    The markers before the first SOS (APPn, DQT, SOF, DHT, ...) are walked by
    their length fields; a file that does not start with SOI, has no SOS or
    does not end with EOI is an error.
    """
    buf = bytes(data)
    if buf[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG file: it does not start with the SOI marker FFD8")
    if buf[-2:] != b"\xff\xd9":
        raise ValueError("JPEG file does not end with the EOI marker FFD9")
    i, n = 2, len(buf)
    while i + 1 < n:
        if buf[i] != 0xFF:
            raise ValueError(f"JPEG marker expected at byte {i}, found 0x{buf[i]:02x}")
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE_MARKERS:
            i += 2
            continue
        if i + 4 > n:
            break
        length = int.from_bytes(buf[i + 2 : i + 4], "big")
        if marker == 0xDA:  # SOS: the entropy-coded data follow its header
            start = i + 2 + length
            if start > n - 2:
                raise ValueError("JPEG SOS header runs past the end of the file")
            return n - 2 - start
        i += 2 + length
    raise ValueError("JPEG file has no SOS (start of scan) segment")


def jpeg_compression_ratio(patches: np.ndarray, quality: int = 95, data: str = "scan") -> np.ndarray:
    """Raw bytes / JPEG bytes (Pillow, ``quality``) per patch, float64 ``[N]``.

    ``data="scan"`` (default) counts the entropy-coded scan data only
    (:func:`jpeg_scan_bytes`), ``"file"`` the whole file (fixed header included).
    """
    if data not in JPEG_DATA:
        raise ValueError(f"spectra.jpeg_data must be one of {JPEG_DATA}, got {data!r}")
    arr = _check_patches(patches)
    raw = arr.shape[1] * arr.shape[2] * 3
    out = np.empty(arr.shape[0])
    buf = io.BytesIO()
    scan = data == "scan"
    header = -1  # bytes before the scan data; Pillow writes the same header for every patch of one size
    for i, patch in enumerate(arr):  # JPEG encoding has no batched form
        buf.seek(0)
        buf.truncate()
        Image.fromarray(patch, mode="RGB").save(buf, format="JPEG", quality=int(quality))
        size = buf.tell()
        if scan:
            view = buf.getbuffer()
            try:
                # fast path: the SOS segment (FFDA + 12-byte length for 3 components) ends where it did
                # for the first patch and the file ends with EOI; otherwise walk the markers again
                if header < 0 or view[header - 14 : header - 12] != b"\xff\xda" or view[size - 2 : size] != b"\xff\xd9":
                    header = size - 2 - jpeg_scan_bytes(view.tobytes())
                size -= header + 2
            finally:
                view.release()
        out[i] = raw / size
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
    """Unnormalised 3×3 Sobel gradient magnitude on the interior: ``[N,H,W]`` → float64 ``[N,H−2,W−2]``.

    uint8 grey is differenced in int32 (exact, and faster than float64: the
    same numbers); other inputs in float64.
    """
    grey = np.asarray(grey)
    g = grey.astype(np.int32) if grey.dtype == np.uint8 else grey.astype(np.float64)
    # gx: derivative along x (columns) smoothed [1,2,1] along y; gy the transpose.
    dx = g[:, :, 2:] - g[:, :, :-2]  # [N, H, W-2]
    gx = dx[:, :-2] + 2 * dx[:, 1:-1] + dx[:, 2:]
    dy = g[:, 2:, :] - g[:, :-2, :]  # [N, H-2, W]
    gy = dy[:, :, :-2] + 2 * dy[:, :, 1:-1] + dy[:, :, 2:]
    gx *= gx
    gy *= gy
    gx += gy
    return np.sqrt(gx, dtype=np.float64)


def edge_metrics(grey: np.ndarray, threshold: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Edge density (fraction of interior pixels with Sobel magnitude > ``threshold``) and
    edge strength (mean magnitude), each ``[N]``; ``grey`` in grey levels ``[N,H,W]``."""
    mag = sobel_magnitude(grey)
    return (mag > threshold).mean(axis=(1, 2)), mag.mean(axis=(1, 2))


def wavelet_levels(size: int, wavelet: str = "db4", level: int = 3) -> int:
    """Levels used for ``size``-px patches: ``min(level, pywt.dwt_max_level(size, filter length))``.

    A wavelet that supports no level at this size is an error naming ``spectra.wavelet``.
    """
    if level < 1:
        raise ValueError(f"spectra.wavelet_levels must be >= 1, got {level}")
    try:
        wav = pywt.Wavelet(wavelet)
    except ValueError:
        raise ValueError(f"spectra.wavelet: {wavelet!r} is not a pywt discrete wavelet") from None
    supported = pywt.dwt_max_level(int(size), wav.dec_len)
    if supported < 1:
        raise ValueError(
            f"spectra.wavelet {wavelet!r} (filter length {wav.dec_len}) supports no decomposition level on "
            f"{size} px patches (pywt.dwt_max_level = 0; needs >= {2 * (wav.dec_len - 1)} px); "
            "use a shorter wavelet (e.g. haar or db2)"
        )
    return int(min(level, supported))


def wavelet_energies(
    grey: np.ndarray, wavelet: str = "db4", level: int = 3, mode: str = "reflect"
) -> tuple[np.ndarray, int]:
    """Wavelet energy fractions and energy per pixel: ``[N,H,W]`` → ``([N, 5], levels used)``.

    Columns: approx, H, V, D fractions (sum to 1), grey variance (grey levels²).
    ``level`` is the most levels to use (capped by :func:`wavelet_levels`);
    ``mode`` a pywt boundary mode. See the module docstring.
    """
    if mode not in WAVELET_MODES:
        raise ValueError(f"spectra.wavelet_mode must be one of {WAVELET_MODES}, got {mode!r}")
    g = np.asarray(grey, dtype=np.float64)
    h, w = g.shape[1:3]
    levels = wavelet_levels(min(h, w), wavelet, level)
    g = g - g.mean(axis=(1, 2), keepdims=True)
    coeffs = pywt.wavedec2(g, wavelet, mode=mode, level=levels, axes=(1, 2))
    approx = np.einsum("nij,nij->n", coeffs[0], coeffs[0])
    detail = np.zeros((g.shape[0], 3))
    for bands in coeffs[1:]:
        for k, c in enumerate(bands):  # H, V, D
            detail[:, k] += np.einsum("nij,nij->n", c, c)
    energy = np.einsum("nij,nij->n", g, g)
    total = approx + detail.sum(axis=1)
    zero = energy <= 1e-12 * h * w
    safe = np.where(zero, 1.0, total)
    out = np.empty((g.shape[0], 5))
    out[:, 0] = np.where(zero, 1.0, approx / safe)
    out[:, 1:4] = np.where(zero[:, None], 0.0, detail / safe[:, None])
    out[:, 4] = np.where(zero, 0.0, energy / (h * w))
    return out, levels


def complexity_metrics(
    patches: np.ndarray,
    jpeg_quality: int = 95,
    edge_threshold: float = 30.0,
    wavelet: str = "db4",
    wavelet_level: int = 3,
    wavelet_mode: str = "reflect",
    jpeg_data: str = "scan",
) -> pd.DataFrame:
    """All complexity measures of uint8 RGB patches ``[N,H,W,3]``.

    Returns a DataFrame with one row per patch (index 0..N−1, input order):
    the measure columns :data:`COLUMNS`, then ``wavelet_levels`` (int, levels
    actually used: at most ``wavelet_level``, capped by the patch size).
    Definitions and units in the module docstring (grey = Pillow BT.601 luma;
    Sobel unnormalised, interior pixels; JPEG scan data by default).
    """
    arr = _check_patches(patches)
    n, h, w = arr.shape[:3]
    levels = wavelet_levels(min(h, w), wavelet, wavelet_level)  # fail before the JPEG loop
    out = np.empty((n, len(COLUMNS)))
    out[:, 0] = jpeg_compression_ratio(arr, quality=jpeg_quality, data=jpeg_data)
    step = max(1, _CHUNK_PIXELS // (h * w))
    for start in range(0, n, step):
        sl = slice(start, start + step)
        grey = grey_luma(arr[sl])
        out[sl, 1] = shannon_entropy(grey)
        out[sl, 2], out[sl, 3] = edge_metrics(grey, threshold=edge_threshold)
        out[sl, 4:9], _ = wavelet_energies(grey, wavelet=wavelet, level=wavelet_level, mode=wavelet_mode)
    df = pd.DataFrame(out, columns=list(COLUMNS))
    df[LEVELS_COLUMN] = np.full(n, levels, dtype=np.int64)
    return df
