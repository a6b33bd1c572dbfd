"""The VITAL feature-analysis report's feature grids: mosaics of top patches, rows σ × columns neurons.

* :func:`mosaic` tiles a neuron's shown patches (16 → 4×4). Each patch is
  min–max stretched **on its own, for display only** (as the VITAL report shows them); the
  stored patches and every statistic use the raw pixels.
* ``all_neurons_grid_<layer>.png``: rows = models (σ ascending, then BlurPool),
  columns = the same neuron ids in every row, each cell one mosaic.
* ``representative_neurons_grid_<layer>.png``: the neurons chosen by
  :func:`representative_neurons` — the largest *decrease* of the mean
  high-frequency power fraction of their patches between σ = 0 and the
  largest σ (HF fraction from :func:`blurscope.spectra.spectrum.hf_power_fraction`, raw
  patches); each cell is annotated with that fraction.
* ``patch_methods_<layer>.png``: VITAL windows next to exact receptive-field
  crops for the same neurons and models.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.spectra.spectrum import hf_power_fraction  # noqa: E402


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


def patch_hf(patches: np.ndarray, cutoff: float, window: str) -> np.ndarray:
    """Mean HF power fraction per neuron, ``patches [n, s, P, P, 3]`` → ``[n]`` (window: ``spectra.window``)."""
    n, s = patches.shape[:2]
    return hf_power_fraction(patches.reshape(n * s, *patches.shape[2:]), cutoff, window).reshape(n, s).mean(axis=1)


def representative_neurons(hf_first: np.ndarray, hf_last: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` neurons with the largest ``hf_first − hf_last`` (ties: lower position).

    ``hf_first`` / ``hf_last``: mean patch HF power fraction per neuron at σ = 0 and the largest σ.
    """
    drop = np.asarray(hf_first, dtype=np.float64) - np.asarray(hf_last, dtype=np.float64)
    order = np.lexsort((np.arange(len(drop)), -drop))
    return np.sort(order[: max(1, min(n, len(drop)))])


MAX_CELL_IN = 1.4
"""Largest side of one mosaic cell, inches (a grid of few neurons stays narrower than the report)."""


def grid_figure(
    cells: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
    dpi: int = 120,
) -> plt.Figure:
    """A grid of mosaics at most the report's width (cells at most :data:`MAX_CELL_IN`), row labels (left)
    and column labels (top); every text at least config ``plots.font_size`` at the report's display width
    for a figure saved at ``dpi``."""
    nrows, ncols = len(cells), len(cells[0])
    longest = max(len(line) for lab in row_labels for line in str(lab).split("\n"))
    label_in = longest * 0.6 * pc.base_pt(pc.REPORT_WIDTH_IN, dpi) / 72 + 0.2
    width = min(pc.REPORT_WIDTH_IN, label_in + 0.2 + ncols * MAX_CELL_IN)
    with pc.figure_style(width, dpi) as base:
        cell = (width - label_in - 0.2) / ncols
        note_in = 1.5 * base / 72 if notes is not None else 0.0
        title = pc.wrap(title, width - 0.3, pc.SUPTITLE_SCALE * base)
        title_in = (title.count("\n") + 1) * 1.5 * pc.SUPTITLE_SCALE * base / 72 + 3.0 * base / 72
        height = title_in + nrows * (cell + note_in) + 0.2
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
        for r in range(nrows):
            for c in range(ncols):
                ax = axes[r][c]
                ax.imshow(cells[r][c], interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if r == 0:
                    ax.set_title(textwrap.fill(str(col_labels[c]), max(4, int(cell * 72 / (0.6 * base)))),
                                 fontsize=base)
                if c == 0:
                    ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center")
                if notes is not None and notes[r][c]:
                    ax.text(0.5, -0.02, notes[r][c], transform=ax.transAxes, ha="center", va="top")
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        fig.suptitle(title)
        return pc.finish(fig)


def neuron_grid(
    patch_sets: Sequence[np.ndarray],
    row_labels: Sequence[str],
    neurons: np.ndarray,
    columns: np.ndarray,
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
    dpi: int = 120,
) -> plt.Figure:
    """Rows = models (``patch_sets[i]``: ``[n, s, P, P, 3]``), columns = ``neurons[columns]``."""
    cells = [[mosaic(ps[j]) for j in columns] for ps in patch_sets]
    col_labels = [f"neuron {int(neurons[j])}" for j in columns]
    return grid_figure(cells, row_labels, col_labels, title, notes, dpi)


def methods_figure(
    vital: Sequence[np.ndarray],
    rf: Sequence[np.ndarray],
    row_labels: Sequence[str],
    neuron_ids: Sequence[int],
    title: str,
    dpi: int = 120,
) -> plt.Figure:
    """Rows = models; per neuron two columns: VITAL windows | receptive-field crops.

    ``vital[i]`` / ``rf[i]``: ``[m, s, P, P, 3]`` for the same ``m`` neurons.
    """
    cells = [[mosaic(pset[j]) for j in range(len(neuron_ids)) for pset in (v, r)] for v, r in zip(vital, rf)]
    col_labels = [f"n{int(nid)} {name}" for nid in neuron_ids for name in ("VITAL", "RF")]
    return grid_figure(cells, row_labels, col_labels, title, dpi=dpi)
