"""The library's single spatial-frequency grid.

Every Fourier-domain measure in blurscope (patch spectra, AVR, band masks,
hybrid images, perturbation spectra) takes its frequencies from here, so that
"radius 0.5" means the same thing everywhere.

Two units are used:

* **cycles/pixel** (``radius_cpp``): ``numpy.fft.fftfreq`` frequencies, exact for
  odd and even sizes; per-axis Nyquist is 0.5 cycles/pixel.
* **normalised** (``normalized_radius``): cycles/pixel divided by 0.5, so that
  1 is the per-axis Nyquist frequency and the spectrum's corners lie at √2.
  ``normalized = 2 * cycles_per_pixel``.

Grids are in *unshifted* FFT order (DC at ``[0, 0]``), matching
``torch.fft.fft2`` / ``numpy.fft.fft2`` output without ``fftshift``.
"""

from __future__ import annotations

import functools

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

NYQUIST_CPP = 0.5
"""Per-axis Nyquist frequency in cycles/pixel."""


@functools.lru_cache(maxsize=64)
def _axes_cpp(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    if h < 1 or w < 1:
        raise ValueError(f"frequency grid needs positive sizes, got h={h}, w={w}")
    fy = np.fft.fftfreq(h)[:, None] * np.ones((1, w))
    fx = np.ones((h, 1)) * np.fft.fftfreq(w)[None, :]
    fy.setflags(write=False)
    fx.setflags(write=False)
    return fy, fx


def frequency_axes(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis frequencies ``(fy, fx)``, each float64 ``[h, w]``, in cycles/pixel."""
    return _axes_cpp(h, w)


def radius_cpp(h: int, w: int) -> np.ndarray:
    """Radial frequency ``sqrt(fy² + fx²)`` in cycles/pixel, float64 ``[h, w]``."""
    fy, fx = _axes_cpp(h, w)
    return np.sqrt(fy**2 + fx**2)


def normalized_axes(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis frequencies ``(fy, fx)`` normalised so 1 = per-axis Nyquist, ``[h, w]``."""
    fy, fx = _axes_cpp(h, w)
    return fy / NYQUIST_CPP, fx / NYQUIST_CPP


def normalized_radius(h: int, w: int) -> np.ndarray:
    """Radial frequency normalised so 1 = per-axis Nyquist (corners at √2), ``[h, w]``."""
    return radius_cpp(h, w) / NYQUIST_CPP


def normalized_chebyshev(h: int, w: int) -> np.ndarray:
    """``max(|fy|, |fx|)`` normalised so 1 = Nyquist, ``[h, w]``.

    This is the "separable" radius: per-axis subsampling by ``s`` aliases exactly
    the frequencies with ``max(|fy|, |fx|) > 1/s``.
    """
    fy, fx = normalized_axes(h, w)
    return np.maximum(np.abs(fy), np.abs(fx))


def as_tensor(grid: np.ndarray, like: "torch.Tensor") -> "torch.Tensor":
    """A grid as a tensor on ``like``'s device (float32 unless ``like`` is float64)."""
    import torch

    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    return torch.as_tensor(np.ascontiguousarray(grid), dtype=dtype, device=like.device)
