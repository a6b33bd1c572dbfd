"""Figures of preferred-patch spectra and complexity (after Figures 2.1 and 3.1 of the VITAL
feature-analysis report).

Both functions read the tidy tables written by the ``patch_stats`` rule (see
docs/spectra.md) restricted to one layer, and write one PNG (matplotlib Agg).

* :func:`plot_relative_to_baseline` → ``models_relative_to_baseline_<layer>.png``:
  top, absolute radial power spectra (log–log) of each model's preferred
  patches with 95 % bootstrap bands and the random-patch baseline as a black
  dashed line; bottom, the ratio model / baseline (log y) with a reference line
  at 1.
* :func:`plot_complexity_comparison` → ``models_complexity_comparison_<layer>.png``:
  six panels (compression ratio, entropy, edge density, edge strength, wavelet
  approx vs detail (H+V+D) fractions, total wavelet energy), one point per
  model with error bars = bootstrap SEM, colour = training σ on a sequential
  palette, the random-patch baseline as a dashed grey line.

Colours and markers: the one figure style (:mod:`blurscope.plot_common`): colour = training σ on the
σ colour map (``palette``, config ``plots.palette``), marker and line style = model kind (σ models,
further training runs, filter-only references, BlurPool); the random-patch baseline is a thick grey
line. ``dpi`` and the smallest text size (config ``plots.font_size``) come from config ``plots``.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.model_id import BASELINE  # noqa: E402

BASELINE_STYLE = {"color": "0.6", "lw": 4.0, "ls": "-", "alpha": 0.7}

COMPLEXITY_PANELS = (
    ("compression_ratio", "JPEG compression ratio", "raw / JPEG bytes (q=95)"),
    ("entropy", "Shannon entropy", "bits"),
    ("edge_density", "Edge density", "fraction of pixels, Sobel > threshold"),
    ("edge_strength", "Mean edge strength", "Sobel magnitude (grey levels)"),
    ("wavelet_fractions", "Wavelet energy distribution", "fraction of energy (db4, 3 levels)"),
    ("wavelet_energy", "Total wavelet energy", "energy per pixel (grey levels²)"),
)


def model_order(table: pd.DataFrame) -> list[tuple[str, float]]:
    """``(model, sigma)`` pairs without the baseline, in figure order
    (:func:`blurscope.plot_common.model_sort_key`: σ models by σ, BlurPool, references, the others)."""
    pairs = table.loc[table["model"] != BASELINE, ["model", "sigma"]].drop_duplicates("model")
    out = [(str(m), float(s)) for m, s in pairs.itertuples(index=False)]
    return sorted(out, key=lambda ms: pc.model_sort_key(*ms))


def layer_title(layer: str) -> str:
    """``layer4.0`` → ``layer4.0``; ``4.2`` → ``layer 4.2`` (no "layer layer4")."""
    return layer if layer.lower().startswith("layer") else f"layer {layer}"


_G = FuncFormatter(lambda v, _pos: f"{v:g}")


def _log_ticks(ax, axis: str, lo: float, hi: float) -> None:  # type: ignore[no-untyped-def]
    """Readable plain-number ticks (1-2-5 per decade) on a log axis spanning [lo, hi]."""
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return
    decades = np.arange(np.floor(np.log10(lo)), np.ceil(np.log10(hi)) + 1)
    steps = (1, 2, 3, 5) if hi / lo > 3 else (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
    ticks = [m * 10**d for d in decades for m in steps]
    ticks = [t for t in ticks if lo <= t <= hi]
    target = ax.xaxis if axis == "x" else ax.yaxis
    if len(ticks) >= 2:
        target.set_major_locator(FixedLocator(ticks))
        target.set_major_formatter(_G)
        target.set_minor_formatter(NullFormatter())


def _check_columns(table: pd.DataFrame, needed: set[str], what: str) -> None:
    missing = needed - set(table.columns)
    if missing:
        raise ValueError(f"{what} table lacks columns {sorted(missing)}")


def plot_relative_to_baseline(spectra: pd.DataFrame, layer: str, path: str | os.PathLike,
                              palette: str | None = None, dpi: int = 120, font_size: float | None = None) -> None:
    """Absolute spectra (left) and ratio to baseline (right) for one layer.

    ``spectra``: rows ``model sigma freq mean ci_low ci_high ratio ratio_ci_low
    ratio_ci_high`` (``freq`` cycles/pixel, power in grey levels² per frequency
    sample); the baseline rows have ``model == "baseline"``. ``font_size``: smallest text, pt at the
    report's display width (default config ``plots.font_size``).
    """
    _check_columns(spectra, {"model", "sigma", "freq", "mean", "ci_low", "ci_high", "ratio",
                             "ratio_ci_low", "ratio_ci_high"}, "spectra")
    base = spectra[spectra["model"] == BASELINE].sort_values("freq")
    if base.empty:
        raise ValueError(f"spectra table for layer {layer!r} has no baseline rows")
    order = model_order(spectra)
    colours = pc.sigma_colours([s for _m, s in order], palette)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi, font_size):
        fig, (top, bottom) = plt.subplots(1, 2, figsize=(width, 5.6), sharex=True)
        for model, sigma in order:
            rows = spectra[spectra["model"] == model].sort_values("freq")
            st = pc.model_style(model, sigma, colours)
            kw = dict(color=st["color"], ls=st["linestyle"], lw=1.6, label=pc.model_label(model), marker=st["marker"],
                      mfc=st.get("markerfacecolor", st["color"]), ms=5, markevery=3)
            top.plot(rows["freq"], rows["mean"], **kw)
            top.fill_between(rows["freq"], rows["ci_low"], rows["ci_high"], color=st["color"], alpha=0.15, lw=0)
            bottom.plot(rows["freq"], rows["ratio"], **kw)
            bottom.fill_between(rows["freq"], rows["ratio_ci_low"], rows["ratio_ci_high"], color=st["color"],
                                alpha=0.15, lw=0)
        top.plot(base["freq"], base["mean"], zorder=0, label=pc.model_label(BASELINE) + " (baseline)",
                 **BASELINE_STYLE)
        top.fill_between(base["freq"], base["ci_low"], base["ci_high"], color="black", alpha=0.1, lw=0)
        bottom.axhline(1.0, zorder=0, **BASELINE_STYLE)
        top.set_xscale("log")
        top.set_yscale("log")
        bottom.set_yscale("log")
        freqs = spectra["freq"].to_numpy(dtype=float)
        _log_ticks(bottom, "x", freqs.min() * 0.95, freqs.max() * 1.05)
        lo, hi = bottom.get_ylim()
        _log_ticks(bottom, "y", lo, hi)
        pc.plain_log_labels(top.yaxis)
        top.set_ylabel("power (grey levels² per frequency sample)")
        bottom.set_ylabel("power / baseline power")
        for ax in (top, bottom):
            ax.set_xlabel("spatial frequency (cycles/pixel)")
            ax.grid(True, which="major", alpha=0.3)
        top.set_title("power spectra\n(shaded: neuron-level bootstrap CI)")
        bottom.set_title("ratio to the random-patch baseline\n(> 1: more power than natural patches)")
        pc.figure_legend(fig, [top], ncols=3)
        fig.suptitle(f"Power spectra of preferred patches, {layer_title(layer)}")
        pc.save_figure(fig, path, dpi)


def plot_complexity_comparison(summary: pd.DataFrame, layer: str, path: str | os.PathLike,
                               palette: str | None = None, dpi: int = 120, font_size: float | None = None) -> None:
    """Six complexity panels for one layer against training σ, error bars = bootstrap SEM.

    ``summary``: rows ``model sigma metric mean sem`` with metrics
    ``compression_ratio entropy edge_density edge_strength wavelet_approx
    wavelet_detail wavelet_energy``; baseline rows (``model == "baseline"``) give
    the grey reference lines. Every model is a point in the one figure style
    (:func:`blurscope.plot_common.plot_vs_sigma`). ``font_size``: smallest text, pt at the report's
    display width (default config ``plots.font_size``).
    """
    _check_columns(summary, {"model", "sigma", "metric", "mean", "sem"}, "complexity summary")
    order = model_order(summary)
    if not order:
        raise ValueError(f"complexity summary for layer {layer!r} has no model rows")
    colours = pc.sigma_colours([s for _m, s in order], palette)
    models = [m for m, _s in order]
    sigmas = [s for _m, s in order]

    def values(metric: str) -> tuple[np.ndarray, np.ndarray]:
        rows = summary[summary["metric"] == metric].drop_duplicates("model").set_index("model")
        lost = [m for m in models if m not in rows.index]
        if lost:
            raise ValueError(f"complexity summary for layer {layer!r} lacks metric {metric!r} of models {lost}")
        return rows.loc[models, "mean"].to_numpy(float), rows.loc[models, "sem"].to_numpy(float)

    width = pc.REPORT_WIDTH_IN
    kinds: set[str] = set()
    with pc.figure_style(width, dpi, font_size):
        fig, axes = plt.subplots(2, 3, figsize=(width, 7.4), sharex=True)
        for ax, (metric, title, unit) in zip(axes.ravel(), COMPLEXITY_PANELS):
            series = [("wavelet_approx", None), ("wavelet_detail", "white")] \
                if metric == "wavelet_fractions" else [(metric, None)]
            for name, face in series:
                mean, sem = values(name)
                lo, hi = mean - sem, mean + sem
                kinds |= pc.plot_vs_sigma(ax, models, sigmas, mean, lo, hi, colours=colours,
                                          style=None if face is None else {"markerfacecolor": face})
                base = summary[(summary["model"] == BASELINE) & (summary["metric"] == name)]
                if not base.empty:
                    ax.axhline(float(base["mean"].iloc[0]), zorder=0, **BASELINE_STYLE)
            if metric == "wavelet_fractions":
                title += "\n(filled: approx, open: H+V+D)"
            ax.set_title(title)
            ax.set_ylabel(unit)
            ax.grid(True, axis="y", alpha=0.3)
        for ax in axes[-1]:
            ax.set_xlabel("training blur σ (px at 224)")
        base_handle = [(Line2D([], [], **BASELINE_STYLE), "random patches (baseline)")]
        pc.figure_legend(fig, [], ncols=3, extra=pc.kind_handles(kinds) + base_handle)
        fig.suptitle(f"Complexity of preferred patches, {layer_title(layer)} "
                     "(mean ± neuron-level bootstrap SEM; colour = training σ)")
        pc.save_figure(fig, path, dpi)
