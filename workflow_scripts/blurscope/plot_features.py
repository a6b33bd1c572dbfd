"""The VITAL feature-analysis report's feature grids: mosaics of top patches, rows σ × columns neurons.

* :func:`mosaic` tiles a neuron's shown patches (16 → 4×4). Each patch is
  min–max stretched **on its own, for display only** (as the VITAL report shows them); the
  stored patches and every statistic use the raw pixels.
* ``all_neurons_grid_<layer>.png``: rows = models (σ ascending, then BlurPool),
  columns = the same neuron ids in every row, each cell one mosaic.
* ``representative_neurons_grid_<layer>.png``: the neurons chosen by
  :func:`representative_neurons` — the largest *decrease* of the mean
  high-frequency power fraction of their patches between σ = 0 and the
  largest σ (HF fraction from :func:`blurscope.spectra.hf_power_fraction`, raw
  patches); each cell is annotated with that fraction.
* ``patch_methods_<layer>.png``: VITAL windows next to exact receptive-field
  crops for the same neurons and models.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_path  # noqa: E402
from .spectra import hf_power_fraction  # noqa: E402


def normalise_patch(patch: np.ndarray) -> np.ndarray:
    """One patch ``[P, P, 3]`` min–max stretched to float ``[0, 1]`` (constant → 0.5 grey)."""
    p = patch.astype(np.float64)
    lo, hi = p.min(), p.max()
    if hi <= lo:
        return np.full_like(p, 0.5)
    return (p - lo) / (hi - lo)


def mosaic(patches: np.ndarray, ncols: int | None = None, gap: int = 1) -> np.ndarray:
    """Tile patches ``[n, P, Q, 3]`` (uint8) into float RGB ``[rows·(P+gap)−gap, …, 3]``, white gaps.

    ``ncols`` defaults to ``ceil(sqrt(n))`` (16 patches → 4×4). Each patch is
    normalised individually (:func:`normalise_patch`).
    """
    patches = np.asarray(patches)
    if patches.ndim != 4 or patches.shape[-1] != 3:
        raise ValueError(f"mosaic expects [n, P, Q, 3] patches, got {patches.shape}")
    n, p, q, _ = patches.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    out = np.ones((nrows * (p + gap) - gap, ncols * (q + gap) - gap, 3))
    for i in range(n):
        r, c = divmod(i, ncols)
        out[r * (p + gap) : r * (p + gap) + p, c * (q + gap) : c * (q + gap) + q] = normalise_patch(patches[i])
    return out


def even_subset(n_total: int, n: int) -> np.ndarray:
    """``n`` evenly spread positions in ``range(n_total)`` (all if ``n >= n_total``)."""
    if n <= 0 or n >= n_total:
        return np.arange(n_total)
    return ((2 * np.arange(n) + 1) * n_total) // (2 * n)


def patch_hf(patches: np.ndarray, cutoff: float) -> np.ndarray:
    """Mean HF power fraction per neuron: ``patches [n, s, P, P, 3]`` → ``[n]``."""
    n, s = patches.shape[:2]
    return hf_power_fraction(patches.reshape(n * s, *patches.shape[2:]), cutoff).reshape(n, s).mean(axis=1)


def representative_neurons(hf_first: np.ndarray, hf_last: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` neurons with the largest ``hf_first − hf_last`` (ties: lower position).

    ``hf_first`` / ``hf_last``: mean patch HF power fraction per neuron at σ = 0 and the largest σ.
    """
    drop = np.asarray(hf_first, dtype=np.float64) - np.asarray(hf_last, dtype=np.float64)
    order = np.lexsort((np.arange(len(drop)), -drop))
    return np.sort(order[: max(1, min(n, len(drop)))])


def grid_figure(
    cells: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
    cell_inches: float = 1.15,
) -> plt.Figure:
    """A grid of mosaics with row labels (left) and column labels (top)."""
    nrows, ncols = len(cells), len(cells[0])
    width = max(4.5, 1.0 + ncols * cell_inches)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 1.0 + nrows * cell_inches), squeeze=False)
    for r in range(nrows):
        for c in range(ncols):
            ax = axes[r][c]
            ax.imshow(cells[r][c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if r == 0:
                ax.set_title(col_labels[c], fontsize=8)
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8, rotation=0, ha="right", va="center")
            if notes is not None and notes[r][c]:
                ax.text(0.5, -0.02, notes[r][c], transform=ax.transAxes, ha="center", va="top", fontsize=6)
    fig.suptitle(textwrap.fill(title, width=int(width * 11)), fontsize=9)
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 130) -> None:
    """Save atomically and close."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def sigma_label(model_id: str, sigma: float | None) -> str:
    """Row label: ``σ=2`` for σ models, the model id otherwise (e.g. ``blurpool``)."""
    return f"σ={sigma:g}" if sigma is not None else model_id


def neuron_grid(
    patch_sets: Sequence[np.ndarray],
    row_labels: Sequence[str],
    neurons: np.ndarray,
    columns: np.ndarray,
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
) -> plt.Figure:
    """Rows = models (``patch_sets[i]``: ``[n, s, P, P, 3]``), columns = ``neurons[columns]``."""
    cells = [[mosaic(ps[j]) for j in columns] for ps in patch_sets]
    col_labels = [f"neuron {int(neurons[j])}" for j in columns]
    return grid_figure(cells, row_labels, col_labels, title, notes)


def methods_figure(
    vital: Sequence[np.ndarray],
    rf: Sequence[np.ndarray],
    row_labels: Sequence[str],
    neuron_ids: Sequence[int],
    title: str,
) -> plt.Figure:
    """Rows = models; per neuron two columns: VITAL windows | receptive-field crops.

    ``vital[i]`` / ``rf[i]``: ``[m, s, P, P, 3]`` for the same ``m`` neurons.
    """
    cells = [[mosaic(pset[j]) for j in range(len(neuron_ids)) for pset in (v, r)] for v, r in zip(vital, rf)]
    col_labels = [f"n{int(nid)} {name}" for nid in neuron_ids for name in ("VITAL", "RF")]
    return grid_figure(cells, row_labels, col_labels, title)
