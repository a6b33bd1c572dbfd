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
    from collections.abc import Mapping, Sequence

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


def as_tensor(grid: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """A grid as a tensor on ``like``'s device (float32 unless ``like`` is float64)."""
    import torch

    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    return torch.as_tensor(np.ascontiguousarray(grid), dtype=dtype, device=like.device)


# --------------------------------------------------------------------------- radial bands (torch-free)

BAND_EDGE_TOL = 1e-9
"""Tolerance of the closed top edge of the last radial band (as :mod:`blurscope.bands`)."""


def _band_edges(edges: Sequence[float], key: str) -> np.ndarray:
    e = np.asarray([float(v) for v in edges], dtype=np.float64)
    if e.ndim != 1 or len(e) < 2 or e[0] != 0.0 or np.any(np.diff(e) <= 0):
        raise ValueError(f"config key '{key}.edges' must start at 0 and increase strictly, got {list(edges)}")
    if e[-1] < np.sqrt(2.0) - BAND_EDGE_TOL:
        raise ValueError(f"config key '{key}.edges' must end at >= sqrt(2) (the spectrum's corners), got {e[-1]}")
    return e


def band_sample_counts(h: int, w: int, edges: Sequence[float], *, exclude_dc: bool = False) -> list[int]:
    """Frequency samples per radial band of an ``h × w`` map, ``[n_bands]``.

    Band ``i`` holds the samples with ``edges[i] <= normalized_radius < edges[i+1]``;
    the last band is closed (``<= edges[-1]``), so the bands partition the grid
    (the masks of :func:`blurscope.bands.band_masks`). The DC sample is in band 0;
    ``exclude_dc=True`` leaves it out. Needs no torch (usable at workflow parse time).
    """
    e = _band_edges(edges, "bands")
    r = normalized_radius(int(h), int(w)).ravel()
    idx = np.searchsorted(e, r, side="right") - 1
    idx = np.where((idx >= len(e) - 1) & (r <= e[-1] + BAND_EDGE_TOL), len(e) - 2, idx)
    counts = np.bincount(idx[(idx >= 0) & (idx < len(e) - 1)], minlength=len(e) - 1)
    if exclude_dc:
        counts[0] -= 1
    return [int(c) for c in counts]


def bands_without_samples(h: int, w: int, edges: Sequence[float]) -> list[int]:
    """Indices of the radial bands with no sample beyond DC on an ``h × w`` map (empty = all usable)."""
    return [i for i, c in enumerate(band_sample_counts(h, w, edges, exclude_dc=True)) if c == 0]


def smallest_square_map(edges: Sequence[float], limit: int = 1024) -> int | None:
    """Smallest ``n <= limit`` whose ``n × n`` map has a sample beyond DC in every band (else None).

    Axis samples sit at multiples of ``2/n`` (normalised radius), so every band at
    least ``2/n`` wide holds one: the search stops at ``2 / (narrowest band) + 1``.
    """
    e = _band_edges(edges, "bands")
    bound = min(int(limit), int(np.ceil(2.0 / np.diff(e).min())) + 1)
    for n in range(1, bound + 1):
        if not bands_without_samples(n, n, e):
            return n
    return None


def check_band_layers(
    map_sizes: Mapping[str, tuple[int, int]],
    edges: Sequence[float],
    names: Sequence[str] | None = None,
    key: str = "bands",
) -> None:
    """Refuse layers whose maps cannot give every radial band a sample beyond DC.

    A band that holds nothing, or only the DC term (the spatial mean), says
    nothing about its frequencies: its result is the empty control's or the
    mean's, and a centroid or trend over bands would be drawn from it.

    Args:
        map_sizes: ``{layer: (h, w)}`` of the layers in ``{key}.layers``.
        edges, names: ``{key}.edges`` / ``{key}.names`` (names only label the message).
        key: config section named in the message.

    Raises:
        ValueError: naming ``{key}.layers`` and ``{key}.edges``, every failing
        layer with its map size, its bands without a sample beyond DC and its
        samples per band, and the smallest square map that would do.
    """
    e = _band_edges(edges, key)
    labels = [f"band{i}" for i in range(len(e) - 1)] if names is None else [str(n) for n in names]
    if len(labels) != len(e) - 1:
        raise ValueError(f"config key '{key}.names' has {len(labels)} names for {len(e) - 1} bands ({key}.edges)")
    problems = []
    for layer, (h, w) in map_sizes.items():
        missing = bands_without_samples(int(h), int(w), e)
        if missing:
            counts = band_sample_counts(int(h), int(w), e)
            problems.append(
                f"{layer!r} ({h}x{w} map): band(s) {[labels[i] for i in missing]} hold no frequency sample "
                f"beyond DC (samples per band {dict(zip(labels, counts))}, DC counted in {labels[0]!r})"
            )
    if problems:
        n = smallest_square_map(e)
        hint = f"maps of at least {n}x{n}" if n is not None else "larger maps"
        raise ValueError(
            f"config keys '{key}.layers' / '{key}.edges': every band must hold at least one frequency sample "
            f"beyond the DC term in every analysed layer, but {'; '.join(problems)}. With {key}.edges "
            f"{[float(v) for v in e]} that needs {hint}: choose earlier layers in {key}.layers, or other {key}.edges"
        )


BAND_MAX_RADIUS = float(np.sqrt(2.0))
"""Largest normalised radius of a 2-D spectrum (its corners): band edges must reach it."""
BAND_EDGE_TOL = 1e-9
DEFAULT_BAND_NAMES: tuple[str, ...] = ("ultra-low", "low", "mid", "high")
BAND_CONTROL_ROWS: tuple[str, ...] = ("unmodified", "union", "empty")
"""Row names the band intervention reserves for its controls (no band may take them)."""


def validate_bands(
    edges: Sequence[float], names: Sequence[str] | None = None, key: str = "bands"
) -> tuple[list[float], list[str]]:
    """Check band edges/names; return them as lists.

    Edges must start at 0, increase strictly and end at ``>= √2`` so that the
    bands partition the whole spectrum. Errors name ``{key}.edges`` /
    ``{key}.names``.
    """
    try:
        edges = [float(e) for e in edges]
    except (TypeError, ValueError):
        raise ValueError(f"config key '{key}.edges' must be a list of numbers, got {edges!r}") from None
    if len(edges) < 2:
        raise ValueError(f"config key '{key}.edges' needs at least 2 values (one band), got {edges}")
    if edges[0] != 0.0:
        raise ValueError(f"config key '{key}.edges' must start at 0 (the DC bin), got {edges[0]}")
    if any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"config key '{key}.edges' must increase strictly, got {edges}")
    if edges[-1] < BAND_MAX_RADIUS - BAND_EDGE_TOL:
        raise ValueError(
            f"config key '{key}.edges' must end at >= sqrt(2) = {BAND_MAX_RADIUS:.16g} (the spectrum's corners, "
            f"normalised radius), got {edges[-1]}; otherwise the bands do not cover the spectrum"
        )
    n = len(edges) - 1
    if names is None:
        names = list(DEFAULT_BAND_NAMES) if n == len(DEFAULT_BAND_NAMES) else [f"band{i}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise ValueError(
            f"config key '{key}.names' has {len(names)} names for {n} bands ({key}.edges has {n + 1} edges)"
        )
    if len(set(names)) != n or set(names) & set(BAND_CONTROL_ROWS):
        raise ValueError(f"config key '{key}.names' must be unique and not one of {BAND_CONTROL_ROWS}, got {names}")
    return edges, names
