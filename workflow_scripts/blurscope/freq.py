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

Radial binning also lives here, once: :func:`radial_bins` groups the grid's
samples by radius between given edges (either unit; which edge is closed, a
round-off tolerance and whether DC is binned are arguments) and labels each bin
with the mean radius of its samples. The patch spectra (uniform bins,
:mod:`blurscope.spectra.spectrum`), the perturbation spectra (one bin per distinct
radius, :func:`distinct_radii`) and the band intervention's bands
(:func:`band_bins`) are all such bins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
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


def rfft_multiplicity(w: int) -> np.ndarray:
    """Full-plane samples that each ``rfft`` column stands for (Hermitian symmetry), float64 ``[w//2+1]``.

    2 for every column except column 0 and, for even ``w``, the Nyquist column
    ``w/2`` (1 each): a sum over the full ``h × w`` spectrum of a real signal's
    power equals the half-plane sum weighted by these.
    """
    mult = np.full(w // 2 + 1, 2.0)
    mult[0] = 1.0
    if w % 2 == 0:
        mult[-1] = 1.0
    return mult


def as_tensor(grid: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """A grid as a tensor on ``like``'s device (float32 unless ``like`` is float64)."""
    import torch

    dtype = torch.float64 if like.dtype == torch.float64 else torch.float32
    return torch.as_tensor(np.ascontiguousarray(grid), dtype=dtype, device=like.device)


# --------------------------------------------------------------------------- radial binning (the one implementation)

CLOSED_SIDES: tuple[str, ...] = ("left", "right")
"""Which edge of a radial bin is closed (:func:`radial_bins`)."""


@dataclass(frozen=True, eq=False)
class RadialBins:
    """The samples of an ``h × w`` frequency grid grouped into radial bins (:func:`radial_bins`).

    Attributes:
        h, w: grid size.
        edges: float64 ``[n_bins + 1]``, in the unit of the binned radius.
        index: int64 ``[h*w]``: the bin of every sample (flattened, unshifted FFT
            order); −1 = in no bin.
        counts: int64 ``[n_bins]``: samples per bin.
        radius: float64 ``[n_bins]``: each bin's label, the mean radius of its
            samples (NaN for an empty bin).
    """

    h: int
    w: int
    edges: np.ndarray
    index: np.ndarray
    counts: np.ndarray
    radius: np.ndarray
    _order: np.ndarray = field(repr=False)
    _starts: np.ndarray = field(repr=False)

    @property
    def n_bins(self) -> int:
        return int(self.counts.size)

    def masks(self) -> np.ndarray:
        """Bool ``[n_bins, h, w]`` (unshifted order): the samples of each bin."""
        return self.index.reshape(self.h, self.w)[None] == np.arange(self.n_bins)[:, None, None]

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values [..., h*w]`` (flattened grid samples) over each bin, ``[..., n_bins]`` (0 if empty).

        The samples of a bin are added in order of radius (then of position).
        """
        v = np.asarray(values)
        if v.ndim < 1 or v.shape[-1] != self.h * self.w:
            raise ValueError(f"values must be [..., {self.h * self.w}] (a flattened {self.h}x{self.w} grid), "
                             f"got shape {v.shape}")
        out = np.zeros(v.shape[:-1] + (self.n_bins,), dtype=np.result_type(v.dtype, np.float64))
        if self._order.size:
            out[..., self.counts > 0] = np.add.reduceat(v[..., self._order], self._starts, axis=-1)
        return out


def radial_bins(
    h: int,
    w: int,
    edges: Sequence[float] | np.ndarray,
    *,
    normalized: bool = False,
    closed: str = "left",
    tol: float = 0.0,
    dc: bool = True,
) -> RadialBins:
    """Assign every sample of the ``h × w`` grid to a radial bin.

    Args:
        h, w: grid size.
        edges: ``n_bins + 1`` strictly increasing bin edges.
        normalized: bin :func:`normalized_radius` (1 = per-axis Nyquist) instead of
            :func:`radius_cpp` (cycles/pixel).
        closed: ``"left"``: bin ``i`` holds ``edges[i] <= r < edges[i+1]`` and the last
            bin is closed (``<= edges[-1]``), so edges from 0 to the corners partition
            the grid; ``"right"``: bin ``i`` holds ``edges[i] < r <= edges[i+1]``.
        tol: round-off slack of the closed top edges: a radius at most ``tol`` above a
            closed top edge (every edge for ``"right"``, the last for ``"left"``) stays
            in that bin.
        dc: whether the DC sample (radius 0) may be binned; ``False`` leaves it in no bin
            (with ``closed="right"`` and ``edges[0] = 0`` it is in none anyway).

    Returns:
        :class:`RadialBins` (cached per arguments; its arrays are read-only). Radii
        outside the edges are in no bin.
    """
    e = tuple(float(v) for v in np.asarray(edges, dtype=np.float64).ravel())
    return _radial_bins(int(h), int(w), e, bool(normalized), str(closed), float(tol), bool(dc))


@functools.lru_cache(maxsize=64)
def _radial_bins(
    h: int, w: int, edges: tuple[float, ...], normalized: bool, closed: str, tol: float, dc: bool
) -> RadialBins:
    e = np.asarray(edges, dtype=np.float64)
    if len(e) < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError(f"radial bin edges must be >= 2 finite, strictly increasing values, got {list(edges)}")
    if closed not in CLOSED_SIDES:
        raise ValueError(f"closed must be one of {CLOSED_SIDES}, got {closed!r}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    r = (normalized_radius if normalized else radius_cpp)(h, w).ravel()
    n = len(e) - 1
    if closed == "right":
        idx = np.searchsorted(e, r - tol, side="left") - 1
    else:
        idx = np.searchsorted(e, r, side="right") - 1
        idx = np.where((idx == n) & (r <= e[-1] + tol), n - 1, idx)
    idx = np.where((idx >= 0) & (idx < n), idx, -1).astype(np.int64)
    if not dc:
        idx[0] = -1  # sample [0, 0] is DC
    inside = idx >= 0
    counts = np.bincount(idx[inside], minlength=n).astype(np.int64)
    radius = np.full(n, np.nan)
    filled = counts > 0
    radius[filled] = np.bincount(idx[inside], weights=r[inside], minlength=n)[filled] / counts[filled]
    pos = np.flatnonzero(inside)
    order = pos[np.lexsort((r[pos], idx[pos]))]
    starts = np.concatenate([[0], np.cumsum(counts[filled])[:-1]]).astype(np.intp) if pos.size else np.zeros(0, np.intp)
    for arr in (e, idx, counts, radius, order, starts):
        arr.setflags(write=False)
    return RadialBins(h, w, e, idx, counts, radius, order, starts)


def distinct_radii(h: int, w: int, *, normalized: bool = False) -> tuple[np.ndarray, RadialBins]:
    """Every distinct radius of the grid beyond DC, and one bin per radius.

    Radii equal to 12 decimals are one radius (the smallest of them labels it).

    Returns:
        ``radii`` float64 ``[m]`` (increasing; cycles/pixel, or normalised with
        ``normalized=True``) and their :class:`RadialBins` (bin ``j`` holds the
        samples at ``radii[j]``; DC is in no bin).
    """
    r = np.sort((normalized_radius if normalized else radius_cpp)(int(h), int(w)).ravel())
    keep = np.concatenate([[True], np.round(r[1:], 12) != np.round(r[:-1], 12)])
    radii = r[keep][1:]
    if radii.size == 0:
        raise ValueError(f"a {h}x{w} frequency grid has no frequency beyond DC")
    edges = np.concatenate([[0.0], (radii[:-1] + radii[1:]) / 2, [r[-1]]])
    return radii, radial_bins(h, w, edges, normalized=normalized, closed="right", dc=False)


# --------------------------------------------------------------------------- radial bands (torch-free)

BAND_MAX_RADIUS = float(np.sqrt(2.0))
"""Largest normalised radius of a 2-D spectrum (its corners): band edges must reach it."""
BAND_EDGE_TOL = 1e-9
"""Tolerance of the closed top edge of the last radial band and of the ``edges[-1] >= √2`` check."""
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


def band_bins(h: int, w: int, edges: Sequence[float], key: str = "bands") -> RadialBins:
    """The radial bands of an ``h × w`` map as :class:`RadialBins` of the normalised radius.

    Band ``i`` holds the samples with ``edges[i] <= normalized_radius < edges[i+1]``;
    the last band is closed (``<= edges[-1]``, within :data:`BAND_EDGE_TOL`), so valid
    edges (:func:`validate_bands`, errors naming ``{key}.edges``) partition the grid.
    The DC sample is in band 0; each band's ``radius`` is the mean radius of its samples.
    """
    e, _ = validate_bands(edges, key=key)
    return radial_bins(h, w, e, normalized=True, closed="left", tol=BAND_EDGE_TOL)


def band_sample_counts(h: int, w: int, edges: Sequence[float], *, exclude_dc: bool = False) -> list[int]:
    """Frequency samples per radial band of an ``h × w`` map, ``[n_bands]`` (:func:`band_bins`).

    The DC sample (the spatial mean) is in band 0; ``exclude_dc=True`` leaves it out.
    Default edges at 8×8 / 4×4 / 2×2: ``[1, 8, 36, 19]``, ``[1, 0, 8, 7]``,
    ``[1, 0, 0, 3]``. Needs no torch (usable at workflow parse time).
    """
    counts = band_bins(int(h), int(w), edges).counts.tolist()
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
    e, _ = validate_bands(edges)
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
    e, _ = validate_bands(edges, key=key)
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
