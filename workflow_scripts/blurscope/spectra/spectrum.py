"""Radial power spectra of image patches (VITAL feature-analysis report §2, §7.3).

Definition (one place, used for model patches and baseline patches alike):

1. **grey** = mean of the R, G, B channels, as float64 in 8-bit grey levels
   (0–255). The input is the *raw* patch (uint8 or float in the same units),
   never a display-stretched one. A ``[N, H, W]`` input is taken as grey.
2. the patch's own **mean is removed**, then (``window="hann"``, config
   ``spectra.window``'s default) the patch is multiplied by a 2-D periodic ("DFT-even") Hann window
   ``w[y, x] = h_H[y]·h_W[x]``, ``h_N[n] = ½ − ½ cos(2πn/N)``, scaled so that
   ``mean(w²) = 1`` (power normalised: white noise keeps its level). Without
   a window the FFT treats the patch as one period of a periodic image, so
   the jump between opposite borders puts power into high frequencies (a
   linear ramp across an 18 px patch: HF fraction 0.106 above 0.25
   cycles/pixel); with the window it is 1.4e-4. The window's transform has
   three taps per axis, so a cosine at a grid frequency ``k/N`` spreads its
   power over its neighbours ``(k±1)/N`` (per axis, amplitudes ¼ : ½ : ¼,
   powers 1 : 4 : 1); some power of the lowest frequencies lands on the DC
   sample, which is neither binned nor counted. On an odd-sized patch the
   highest grid frequency ``(N−1)/(2N)`` wraps onto its mirror image and
   cannot be told from its neighbour under the window. ``window="none"``
   does not window (the VITAL feature-analysis report's spectra).
3. 2-D FFT (unshifted order) and the **periodogram**
   ``P(f) = |F(f)|² / (H·W)``. Without a window, the mean of ``P`` over all
   ``H·W`` frequencies equals the grey-level variance of the patch
   (Parseval); with the power-normalised window that holds in expectation for
   stationary content. Units: grey-level² per frequency sample, the same for
   every patch size.
4. **radial average**: radii and bins come from the library's one frequency
   grid and radial binning, :func:`blurscope.freq.radial_bins` (cycles/pixel,
   right-closed bins, DC in none). With ``N = min(H, W)`` the grid's largest per-axis
   frequency is ``f_max = floor(N/2)/N`` (0.5 for even ``N``); the bin width
   is ``Δ = f_max / n_bins`` and bin ``k = 0 … n_bins−1`` is **centred on**
   ``(k+1)·Δ``: it holds the radii in ``((k+½)·Δ, (k+1½)·Δ]``, the first bin
   also the few radii in ``(0, ½·Δ]``. With the default ``n_bins = floor(N/2)``,
   ``Δ = 1/N``: one bin per frequency step, centred on the grid frequencies
   ``k/N`` themselves. Each bin's value is the mean of ``P`` over its samples
   and its label (``freqs``) is the **mean radius of its samples**, so a pure
   cosine at a grid frequency lands in a bin labelled within a quarter bin of
   it and a 1/f² field at 18 px has a log-log slope of about −2. Radii above
   ``f_max + ½Δ`` (the spectrum's corners, where annuli are incomplete and
   only diagonal orientations exist) are not binned; they
   do count in the high-frequency power fraction (below), a sum over the whole
   2-D spectrum. A bin with no frequency sample (``n_bins > floor(N/2)``) is
   an error.

The **high-frequency power fraction** of a patch is the periodogram power at
radius ``> cutoff`` (cycles/pixel) divided by all its power at radius ``> 0``
(whole 2-D spectrum, corners included), with the same window. A patch with no
AC power at all (a constant patch) gets 0.
"""

from __future__ import annotations

import functools

import numpy as np

from blurscope import freq

WINDOWS: tuple[str, ...] = ("hann", "none")
"""Patch windows (config ``spectra.window``, whose schema lists the same): ``hann`` = power-normalised
periodic Hann; ``none`` = no window, as the VITAL report. Every function here takes the window from its
caller; only the contract's :func:`radial_power_spectrum` has a default (the schema's, ``hann``)."""

_CHUNK_PIXELS = 1 << 22
"""Patches are transformed in chunks of about this many pixels (bounded memory)."""


def _as_grey(patches: np.ndarray) -> np.ndarray:
    """``[N,H,W]`` or ``[N,H,W,3]`` → float64 grey ``[N,H,W]`` (mean RGB, grey levels)."""
    arr = np.asarray(patches)
    if arr.ndim == 4:
        if arr.shape[-1] != 3:
            raise ValueError(f"RGB patches must be [N,H,W,3], got shape {arr.shape}")
        # (R + G) + B, as numpy's mean sums three values, but without its slow strided reduction
        return (arr[..., 0].astype(np.float64) + arr[..., 1] + arr[..., 2]) / 3.0
    if arr.ndim == 3:
        return arr.astype(np.float64)
    raise ValueError(f"patches must be [N,H,W] (grey) or [N,H,W,3] (RGB), got shape {arr.shape}")


@functools.lru_cache(maxsize=32)
def patch_window(h: int, w: int, window: str) -> np.ndarray:
    """Power-normalised 2-D window ``[h, w]`` (``mean(w²) = 1``; read-only float64).

    ``hann``: outer product of periodic Hann windows ``½ − ½ cos(2πn/N)``;
    ``none``: all ones. Any other name is an error naming ``spectra.window``
    (the one check of the window in the library: every spectrum goes through here).
    """
    if window not in WINDOWS:
        raise ValueError(f"spectra.window must be one of {WINDOWS}, got {window!r}")
    if window == "none":
        win = np.ones((h, w))
    else:
        hy = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(h) / h) if h > 1 else np.ones(1)
        hx = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(w) / w) if w > 1 else np.ones(1)
        win = np.outer(hy, hx)
        win /= np.sqrt((win**2).mean())
    win.setflags(write=False)
    return win


def _prepare(grey: np.ndarray, window: str) -> np.ndarray:
    """Remove each patch's mean, then apply the window, in place: ``[N,H,W]`` float64.

    The first pixel is subtracted first (exact for integer grey levels): the
    result does not change, and a constant patch becomes exactly 0.
    """
    win = patch_window(grey.shape[-2], grey.shape[-1], window)
    grey -= grey[:, :1, :1].copy()
    grey -= grey.mean(axis=(-2, -1), keepdims=True)
    if window != "none":
        grey *= win
    return grey


@functools.lru_cache(maxsize=32)
def _binning(h: int, w: int, n_bins: int) -> freq.RadialBins:
    """The radial bins of ``h × w`` patches (:func:`blurscope.freq.radial_bins`, cycles/pixel):
    ``radius`` = labels ``[n_bins]``, ``index`` = the bin of every sample ``[h*w]`` (−1 = not
    binned: DC and the corners), ``counts`` ``[n_bins]``."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    n = min(h, w)
    limit = max(1, n // 2)
    if n // 2 == 0 or n_bins > n // 2:
        raise ValueError(
            f"radial spectrum of {h}x{w} patches with n_bins={n_bins}: too many bins for the "
            f"frequency grid; use n_bins <= {limit} for this patch size"
        )
    width = (n // 2) / n / n_bins
    # bin k is centred on (k+1)*width and holds ((k+1/2)*width, (k+3/2)*width]; (0, width/2] joins bin 0
    edges = np.concatenate([[0.0], (np.arange(1, n_bins + 1) + 0.5) * width])
    bins = freq.radial_bins(h, w, edges, closed="right", tol=1e-9 * width, dc=False)
    if np.any(bins.counts == 0):  # cannot happen for n_bins <= floor(N/2); kept as a guard
        empty = np.flatnonzero(bins.counts == 0).tolist()
        raise ValueError(f"radial spectrum of {h}x{w} patches with n_bins={n_bins}: bins {empty} are empty")
    return bins


@functools.lru_cache(maxsize=32)
def _half_operator(h: int, w: int, n_bins: int, hf_cutoff: float | None) -> np.ndarray:
    """One operator ``[h*(w//2+1), n_bins (+2)]`` on the flattened ``rfft2`` half-plane of
    ``|F|²``: the radial means of the periodogram ``|F|²/(H·W)``, then, with a cutoff, its
    sums over radius > 0 (AC power) and radius > cutoff. Each half-plane column is
    weighted by how many full-plane samples it stands for (Hermitian symmetry), so the
    results equal the full-FFT ones."""
    bins = _binning(h, w, n_bins)
    wr = w // 2 + 1
    mult2 = np.broadcast_to(freq.rfft_multiplicity(w), (h, wr)).ravel() / (h * w)
    half_idx = bins.index.reshape(h, w)[:, :wr].ravel()
    inside = half_idx >= 0
    op = np.zeros((h * wr, n_bins + (2 if hf_cutoff is not None else 0)))
    op[np.flatnonzero(inside), half_idx[inside]] = mult2[inside] / bins.counts[half_idx[inside]]
    if hf_cutoff is not None:
        r = freq.radius_cpp(h, w)[:, :wr].ravel()
        op[:, n_bins] = (r > 0) * mult2
        op[:, n_bins + 1] = (r > hf_cutoff) * mult2
    op.setflags(write=False)
    return op


def periodogram(patches: np.ndarray, window: str) -> np.ndarray:
    """Periodogram ``|FFT(prepared grey)|² / (H·W)``, float64 ``[N, H, W]`` (unshifted order).

    ``patches``: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB, in grey levels.
    The patch mean is removed first; ``window``: ``"hann"`` (power-normalised
    periodic Hann) or ``"none"``; see the module docstring.
    """
    grey = _prepare(_as_grey(patches), window)
    f = np.fft.fft2(grey, axes=(-2, -1))
    h, w = grey.shape[-2:]
    return (f.real**2 + f.imag**2) / (h * w)


def patch_spectra(
    patches: np.ndarray, n_bins: int, hf_cutoff: float | None = None, *, window: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Radial power spectrum and (optionally) high-frequency power fraction, one FFT pass.

    Args:
        patches: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB patches (uint8 or float, grey levels).
        n_bins: number of radial bins (width ``floor(N/2)/N / n_bins`` cycles/pixel,
            ``N = min(H, W)``; at most ``floor(N/2)``).
        hf_cutoff: cycles/pixel; if given, also return the fraction of AC power above it.
        window: ``"hann"`` or ``"none"`` (no window, as the VITAL report): config ``spectra.window``.

    Returns:
        ``freqs`` float64 ``[n_bins]`` (cycles/pixel, mean radius of each bin's samples),
        ``power`` float64 ``[N, n_bins]`` (grey-level² per frequency sample),
        ``hf_fraction`` float64 ``[N]`` in [0, 1] (``None`` without ``hf_cutoff``).
    """
    arr = np.asarray(patches)
    if arr.ndim not in (3, 4) or arr.shape[0] == 0:
        raise ValueError(f"patches must be a non-empty [N,H,W] or [N,H,W,3] array, got shape {arr.shape}")
    n, h, w = (int(v) for v in arr.shape[:3])
    patch_window(h, w, window)  # a bad window fails before any work
    freqs = _binning(h, w, int(n_bins)).radius
    if hf_cutoff is not None:
        rmax = freq.radius_cpp(h, w).max()
        if not 0 <= hf_cutoff < rmax:
            raise ValueError(
                f"hf_cutoff must lie in [0, {rmax:.3f}) cycles/pixel for {h}x{w} patches, got {hf_cutoff}"
            )
        hf_cutoff = float(hf_cutoff)
    op = _half_operator(h, w, int(n_bins), hf_cutoff)
    power = np.empty((n, n_bins))
    hf = np.empty(n) if hf_cutoff is not None else None
    step = max(1, _CHUNK_PIXELS // (h * w))
    for start in range(0, n, step):
        f = np.fft.rfft2(_prepare(_as_grey(arr[start : start + step]), window), axes=(-2, -1))
        sums = (f.real**2 + f.imag**2).reshape(len(f), -1) @ op
        power[start : start + step] = sums[:, :n_bins]
        if hf is not None:
            total = sums[:, n_bins]
            ok = total > 0
            hf[start : start + step] = np.where(ok, sums[:, n_bins + 1] / np.where(ok, total, 1.0), 0.0)
    return freqs.copy(), power, hf


def radial_power_spectrum(
    patches: np.ndarray, n_bins: int, window: str = "hann"
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of each patch.

    Args:
        patches: ``[N,H,W]`` grey or ``[N,H,W,3]`` RGB (grey = mean RGB), raw grey levels.
        n_bins: radial bins centred on multiples of ``floor(N/2)/N / n_bins`` cycles/pixel
            (``N = min(H, W)``; default in the pipeline ``floor(N/2)``: one per grid step).
        window: ``"hann"`` (default, power-normalised; config ``spectra.window``'s default)
            or ``"none"`` (no window).

    Returns:
        ``freqs`` ``[n_bins]`` cycles/pixel (mean radius of each bin's samples) and
        ``power`` ``[N, n_bins]`` (periodogram ``|F|²/(H·W)`` of the windowed,
        mean-removed grey patch, averaged per bin).
    """
    freqs, power, _ = patch_spectra(patches, n_bins, window=window)
    return freqs, power


def hf_power_fraction(patches: np.ndarray, cutoff: float, window: str) -> np.ndarray:
    """Fraction ``[N]`` of each patch's AC power at radius > ``cutoff`` cycles/pixel (0 if no AC power).

    ``window``: config ``spectra.window`` (:func:`patch_spectra`).
    """
    _, _, hf = patch_spectra(patches, 1, hf_cutoff=cutoff, window=window)
    assert hf is not None
    return hf


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
