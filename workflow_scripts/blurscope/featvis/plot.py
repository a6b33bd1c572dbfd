"""Figures of the feature visualisations (:mod:`blurscope.featvis.optimise`), laid out like the feature grids.

* :func:`featvis_grid` → ``featvis_grid_<layer>.png``: rows = models (σ
  ascending, then BlurPool), columns = the grid's neurons (the same channel ids
  in every row, as in ``all_neurons_grid_<layer>.png``); each cell is the
  rendered image **as rendered** (no contrast stretch: the image *is* the
  stimulus), annotated with its HF power fraction; a render that did not raise
  its objective is marked "inactive".
* :func:`featvis_spectra_figure` → ``featvis_spectra_<layer>.png``: left, the
  mean radial power spectrum of each model's renders (log–log); right, the HF
  power fraction (neuron-level bootstrap mean and CI, config ``stats.ci``, from
  ``results/featvis/summary.tsv``) against training σ, BlurPool as a grey
  diamond at its σ.

Colours, markers and labels: the one figure style (:mod:`blurscope.plot_common`).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from blurscope import plot_common as pc
from blurscope.features.plot import grid_figure
from blurscope.spectra.plot import layer_title


def featvis_grid(
    image_sets: Sequence[np.ndarray],
    row_labels: Sequence[str],
    neurons: np.ndarray,
    title: str,
    notes: Sequence[Sequence[str]] | None = None,
    dpi: int = 120,
) -> plt.Figure:
    """Rows = models (``image_sets[i]``: uint8 ``[n, S, S, 3]``), columns = ``neurons`` (``[n]``).

    Raises:
        ValueError: the sets differ in neuron count, or labels / notes do not fit.
    """
    neurons = np.asarray(neurons)
    if not image_sets or len(image_sets) != len(row_labels):
        raise ValueError(f"featvis_grid: {len(image_sets)} image sets for {len(row_labels)} row labels")
    for i, imgs in enumerate(image_sets):
        arr = np.asarray(imgs)
        if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] != neurons.size:
            raise ValueError(f"featvis_grid: row {row_labels[i]!r} has images {arr.shape}, "
                             f"expected [{neurons.size}, S, S, 3]")
    if notes is not None and (len(notes) != len(image_sets) or any(len(n) != neurons.size for n in notes)):
        raise ValueError("featvis_grid: notes must be [n_rows][n_neurons]")
    cells = [[np.asarray(imgs[j], dtype=np.float64) / 255.0 for j in range(neurons.size)] for imgs in image_sets]
    return grid_figure(cells, row_labels, [f"neuron {int(n)}" for n in neurons], title, notes, dpi)


def featvis_spectra_figure(
    spectra: Sequence[tuple[str, float, np.ndarray, np.ndarray]],
    summary: pd.DataFrame,
    layer: str,
    metric: str = "hf_fraction",
    palette: str | None = None,
    font_size: float | None = None,
    dpi: int = 120,
) -> plt.Figure:
    """Mean radial spectrum per model (left) and ``metric`` with its CI against σ (right).

    Args:
        spectra: ``(model, sigma, freqs [n_bins], power [n, n_bins])`` per model (σ ascending,
            then the others); freqs in cycles/pixel, power in grey levels² per sample.
        summary: featvis summary rows (``model sigma layer metric mean ci_low ci_high``).
        layer: the layer shown (``summary`` is filtered to it).
        metric: the summary metric on the right (``hf_fraction`` or ``peak_freq``).
        palette: σ colour map (default config ``plots.palette``).
        font_size: smallest text, pt at the report's display width (default config ``plots.font_size``).
        dpi: the resolution the figure will be saved at (text sizes depend on it).
    """
    if not spectra:
        raise ValueError(f"featvis_spectra_figure: no spectra to draw for layer {layer!r}")
    sub = summary[(summary["layer"] == layer) & (summary["metric"] == metric)]
    if sub.empty:
        raise ValueError(f"featvis summary has no rows for layer {layer!r}, metric {metric!r}")
    colours = pc.sigma_colours([float(s) for _m, s, _f, _p in spectra] + list(sub["sigma"].astype(float)), palette)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi, font_size):
        fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(width, 5.0))
        for model, sigma, freqs, power in spectra:
            mean = np.asarray(power, dtype=np.float64).mean(axis=0)
            keep = mean > 0
            st = pc.model_style(model, sigma, colours)
            ax_s.plot(np.asarray(freqs)[keep], mean[keep], color=st["color"], ls=st["linestyle"], lw=1.5,
                      marker=st["marker"], mfc=st.get("markerfacecolor", st["color"]), ms=5, markevery=3,
                      label=pc.model_label(model))
        ax_s.set_xscale("log")
        ax_s.set_yscale("log")
        pc.plain_log_labels(ax_s.yaxis)
        lo = min(float(np.min(f)) for _m, _s, f, _p in spectra)
        hi = max(float(np.max(f)) for _m, _s, f, _p in spectra)
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5) if lo <= t <= hi * 1.001]
        if len(ticks) >= 2:
            ax_s.xaxis.set_major_locator(FixedLocator(ticks))
            ax_s.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax_s.xaxis.set_minor_formatter(NullFormatter())
        ax_s.set_xlabel("spatial frequency (cycles/pixel)")
        ax_s.set_ylabel("power (grey levels² per sample)")
        ax_s.set_title(f"{layer_title(layer)}:\nmean spectrum of the renders")
        kinds = pc.plot_vs_sigma(ax_m, sub["model"], sub["sigma"], sub["mean"], sub["ci_low"], sub["ci_high"],
                                 colours=colours)
        ax_m.set_xlabel("training blur σ (px at 224)")
        ax_m.set_ylabel({"hf_fraction": "HF power fraction", "peak_freq": "peak frequency (cycles/pixel)"}.get(
            metric, metric))
        ax_m.set_title("neuron-level bootstrap\nmean and CI")
        ax_m.grid(alpha=0.3)
        pc.figure_legend(fig, [ax_s], ncols=3, extra=pc.kind_handles(kinds))
        return pc.finish(fig)
