"""Radial power spectra of image patches (seed 000 §2, §7.3; DESIGN.md "Spectra").

Definition (one place, used for model patches and baseline patches alike):

1. **grey** = mean of the R, G, B channels, as float64 in 8-bit grey levels
   (0–255). The input is the *raw* patch (uint8 or float in the same units),
   never a display-stretched one. A ``[N, H, W]`` input is taken as grey.
2. the patch's own mean is removed (the DC term is therefore 0);
3. 2-D FFT (``numpy.fft.fft2``, unshifted order) and the **periodogram**
   ``P(f) = |F(f)|² / (H·W)``. With this scaling the mean of ``P`` over all
   ``H·W`` frequencies equals the grey-level variance of the patch (Parseval),
   so spectra of different patch sizes share units: grey-level² per frequency
   sample.
4. **radial average**: the radius of every frequency sample comes from the
   library's one frequency grid, :func:`blurscope.freq.radius_cpp`
   (cycles/pixel). ``n_bins`` equal-width bins cover ``(0, 0.5]`` cycles/pixel,
   i.e. up to the per-axis Nyquist frequency; bin ``k`` holds the radii in
   ``(k·Δ, (k+1)·Δ]`` with ``Δ = 0.5 / n_bins`` and its value is the mean of
   ``P`` over those samples. The corners of the spectrum (radius in
   ``(0.5, √2/2]``) are *not* binned: there the annuli are incomplete (only
   diagonal orientations exist), so their average would mix a frequency effect
   with an orientation effect. The corners do count in the high-frequency power
   fraction (below), which is a sum over the whole 2-D spectrum.
   ``freqs`` are the bin centres ``(k + ½)·Δ``. A bin with no frequency sample
   (``n_bins > floor(min(H, W) / 2)`` can produce one) is an error.

The **high-frequency power fraction** of a patch is the periodogram power at
radius ``> cutoff`` (cycles/pixel) divided by all its power at radius ``> 0``
(whole 2-D spectrum, corners included). A patch with no AC power at all (a
constant patch) gets 0.
"""

from __future__ import annotations

import functools

import numpy as np

from blurscope.freq import NYQUIST_CPP, radius_cpp

_CHUNK_PIXELS = 1 << 22
"""Patches are transformed in chunks of about this many pixels (bounded memory)."""


def _as_grey(patches: np.ndarray) -> np.ndarray:
    """``[N,H,W]`` or ``[N,H,W,3]`` → float64 grey ``[N,H,W]`` (mean RGB, grey levels)."""
    arr = np.asarray(patches)
    if arr.ndim == 4:
        if arr.shape[-1] != 3:
            raise ValueError(f"RGB patches must be [N,H,W,3], got shape {arr.shape}")
        return arr.astype(np.float64).mean(axis=-1)
    if arr.ndim == 3:
        return arr.astype(np.float64)
    raise ValueError(f"patches must be [N,H,W] (grey) or [N,H,W,3] (RGB), got shape {arr.shape}")


@functools.lru_cache(maxsize=32)
def _binning(h: int, w: int, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres ``[n_bins]`` and an averaging matrix ``[h*w, n_bins]`` for the radial mean."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    r = radius_cpp(h, w).ravel()
    width = NYQUIST_CPP / n_bins
    # bin k holds (k*width, (k+1)*width]; r == 0 (DC) and r > 0.5 (corners) are left out.
    idx = np.ceil(r / width - 1e-9).astype(np.int64) - 1
    inside = (r > 0) & (idx >= 0) & (idx < n_bins)
    counts = np.bincount(idx[inside], minlength=n_bins)
    if np.any(counts == 0):
        empty = np.flatnonzero(counts == 0).tolist()
        raise ValueError(
            f"radial spectrum of {h}x{w} patches with n_bins={n_bins}: bins {empty} contain no "
            f"frequency sample; use n_bins <= {max(1, min(h, w) // 2)} for this patch size"
        )
    matrix = np.zeros((h * w, n_bins))
    matrix[np.flatnonzero(inside), idx[inside]] = 1.0 / counts[idx[inside]]
    centres = (np.arange(n_bins) + 0.5) * width
    matrix.setflags(write=False)
    centres.setflags(write=False)
    return centres, matrix


def periodogram(patches: np.ndarray) -> np.ndarray:
    """Periodogram ``|FFT(grey − mean)|² / (H·W)``, float64 ``[N, H, W]`` (unshifted order).

    ``patches``: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB, in grey levels.
    """
    grey = _as_grey(patches)
    grey = grey - grey.mean(axis=(-2, -1), keepdims=True)
    f = np.fft.fft2(grey, axes=(-2, -1))
    h, w = grey.shape[-2:]
    return (f.real**2 + f.imag**2) / (h * w)


def patch_spectra(
    patches: np.ndarray, n_bins: int, hf_cutoff: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Radial power spectrum and (optionally) high-frequency power fraction, one FFT pass.

    Args:
        patches: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB patches (uint8 or float, grey levels).
        n_bins: number of radial bins over ``(0, 0.5]`` cycles/pixel.
        hf_cutoff: cycles/pixel; if given, also return the fraction of AC power above it.

    Returns:
        ``freqs`` float64 ``[n_bins]`` (cycles/pixel, bin centres),
        ``power`` float64 ``[N, n_bins]`` (grey-level² per frequency sample),
        ``hf_fraction`` float64 ``[N]`` in [0, 1] (``None`` without ``hf_cutoff``).
    """
    arr = np.asarray(patches)
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise ValueError(f"patches must be a non-empty [N,H,W] or [N,H,W,3] array, got shape {arr.shape}")
    n, h, w = arr.shape[:3]
    freqs, matrix = _binning(int(h), int(w), int(n_bins))
    if hf_cutoff is not None:
        if not 0 <= hf_cutoff < radius_cpp(h, w).max():
            raise ValueError(
                f"hf_cutoff must lie in [0, {radius_cpp(h, w).max():.3f}) cycles/pixel for {h}x{w} patches, "
                f"got {hf_cutoff}"
            )
        r = radius_cpp(h, w).ravel()
        high = (r > hf_cutoff).astype(np.float64)
        ac = (r > 0).astype(np.float64)
    power = np.empty((n, n_bins))
    hf = np.empty(n) if hf_cutoff is not None else None
    step = max(1, _CHUNK_PIXELS // (h * w))
    for start in range(0, n, step):
        p2 = periodogram(arr[start : start + step]).reshape(-1, h * w)
        power[start : start + step] = p2 @ matrix
        if hf is not None:
            total = p2 @ ac
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(total > 0, (p2 @ high) / np.where(total > 0, total, 1.0), 0.0)
            hf[start : start + step] = frac
    return freqs.copy(), power, hf


def radial_power_spectrum(patches: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of each patch (DESIGN contract).

    Args:
        patches: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB (grey = mean RGB), raw grey levels.
        n_bins: equal-width radial bins over ``(0, 0.5]`` cycles/pixel.

    Returns:
        ``freqs`` ``[n_bins]`` cycles/pixel (bin centres) and ``power`` ``[N, n_bins]``
        (periodogram ``|F|²/(H·W)`` of the mean-removed grey patch, averaged per bin).
    """
    freqs, power, _ = patch_spectra(patches, n_bins)
    return freqs, power


def hf_power_fraction(patches: np.ndarray, cutoff: float) -> np.ndarray:
    """Fraction ``[N]`` of each patch's AC power at radius > ``cutoff`` cycles/pixel (0 if no AC power)."""
    _, _, hf = patch_spectra(patches, 1, hf_cutoff=cutoff)
    assert hf is not None
    return hf


def mean_spectrum(power: np.ndarray) -> np.ndarray:
    """Mean radial spectrum ``[n_bins]`` over all leading axes of ``power[..., n_bins]``."""
    power = np.asarray(power, dtype=np.float64)
    return power.reshape(-1, power.shape[-1]).mean(axis=0)


def ratio_to_baseline(power: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``power / baseline`` per frequency bin; a non-positive baseline bin is an error."""
    power = np.asarray(power, dtype=np.float64)
    baseline = np.asarray(baseline, dtype=np.float64)
    if baseline.shape[-1] != power.shape[-1]:
        raise ValueError(f"spectrum has {power.shape[-1]} bins but baseline has {baseline.shape[-1]}")
    if np.any(~(baseline > 0)):
        raise ValueError("baseline spectrum has non-positive or NaN bins: cannot form a ratio")
    return power / baseline


def loglog_slope(freqs: np.ndarray, power: np.ndarray, fmin: float = 0.0, fmax: float = np.inf) -> float:
    """Least-squares slope of ``log10(power)`` against ``log10(freqs)`` for ``fmin <= f <= fmax``.

    ``power`` is one spectrum ``[n_bins]`` (average first for many patches). A 1/f²
    power spectrum (natural-image statistics) has slope −2.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    power = np.asarray(power, dtype=np.float64)
    keep = (freqs >= fmin) & (freqs <= fmax) & (power > 0)
    if keep.sum() < 2:
        raise ValueError(f"need >= 2 positive bins in [{fmin}, {fmax}] cycles/pixel for a slope")
    slope, _ = np.polyfit(np.log10(freqs[keep]), np.log10(power[keep]), 1)
    return float(slope)


def random_patches(
    images: np.ndarray, patch_size: int, n_images: int, per_image: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline patches: ``per_image`` uniformly placed square crops from ``n_images`` random images.

    Args:
        images: uint8 ``[N, H, W, 3]`` (the analysis images).
        patch_size: crop side ``P`` in pixels (the layer's preferred-patch size).
        n_images: how many distinct images to draw (without replacement).
        per_image: crops per image (positions drawn with replacement, uniform over
            all top-left corners that keep the crop inside the image).
        seed: RNG seed.

    Returns:
        ``patches`` uint8 ``[n_images, per_image, P, P, 3]`` (raw pixels),
        ``image_index`` int64 ``[n_images]`` (rows of ``images``, ascending),
        ``positions`` int64 ``[n_images, per_image, 2]`` (top, left).
    """
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"images must be uint8 [N,H,W,3], got {arr.dtype} {arr.shape}")
    n, h, w = arr.shape[:3]
    if not 1 <= patch_size <= min(h, w):
        raise ValueError(f"patch_size {patch_size} does not fit in {h}x{w} images")
    if not 1 <= n_images <= n:
        raise ValueError(f"n_images={n_images} random images requested but only {n} images are available")
    if per_image < 1:
        raise ValueError(f"per_image must be >= 1, got {per_image}")
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n, size=n_images, replace=False)).astype(np.int64)
    top = rng.integers(0, h - patch_size + 1, size=(n_images, per_image))
    left = rng.integers(0, w - patch_size + 1, size=(n_images, per_image))
    windows = np.lib.stride_tricks.sliding_window_view(arr, (patch_size, patch_size), axis=(1, 2))
    patches = windows[index[:, None], top, left]  # [n_images, per_image, 3, P, P]
    patches = np.ascontiguousarray(np.moveaxis(patches, 2, -1))
    return patches, index, np.stack([top, left], axis=-1).astype(np.int64)


def load_patch_set(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a patch file: ``(patches uint8 [n_units, n_per_unit, P, P, 3], unit_ids int64 [n_units])``.

    Model patch files (``results/patches/<model>/<layer>.npz``) hold ``patches`` and
    ``neurons`` (channel indices); baseline files (``results/baseline/<layer>.npz``)
    hold ``patches`` and ``image_ids`` (one id per source image). Anything else is
    an error naming the file.
    """
    with np.load(path) as data:
        if "patches" not in data.files:
            raise ValueError(f"{path}: no 'patches' array (has {sorted(data.files)})")
        patches = data["patches"]
        if "neurons" in data.files:
            units = data["neurons"]
        elif "image_ids" in data.files and data["image_ids"].ndim == 1:
            units = data["image_ids"]
        else:
            raise ValueError(f"{path}: needs a 1-D 'neurons' (model patches) or 'image_ids' (baseline) array")
    if patches.dtype != np.uint8 or patches.ndim != 5 or patches.shape[-1] != 3 or patches.shape[2] != patches.shape[3]:
        raise ValueError(
            f"{path}: 'patches' must be uint8 [n_units, n_per_unit, P, P, 3], got {patches.dtype} {patches.shape}"
        )
    units = np.asarray(units).astype(np.int64)
    if units.shape != (patches.shape[0],):
        raise ValueError(f"{path}: {units.shape[0]} unit ids for {patches.shape[0]} units of patches")
    return patches, units
