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

Colours: σ models take a sequential matplotlib colormap (``palette``, config
``plots.palette``; dark = σ 0, light = largest σ, the lightest 10 % of the map
is left out so points stay visible on white); models that are not σ models
(``blurpool``) are drawn in grey (diamond markers, dash-dot lines). ``dpi`` and
``font_size`` come from config ``plots``.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # noqa: E402

from blurscope.io import atomic_path  # noqa: E402

BASELINE = "baseline"
PALETTE = "plasma"
OTHER_COLOUR = "0.45"

COMPLEXITY_PANELS = (
    ("compression_ratio", "JPEG compression ratio", "raw / JPEG bytes (q=95)"),
    ("entropy", "Shannon entropy", "bits"),
    ("edge_density", "Edge density", "fraction of pixels, Sobel > threshold"),
    ("edge_strength", "Mean edge strength", "Sobel magnitude (grey levels)"),
    ("wavelet_fractions", "Wavelet energy distribution", "fraction of energy (db4, 3 levels)"),
    ("wavelet_energy", "Total wavelet energy", "energy per pixel (grey levels²)"),
)


def is_sigma_model(model: str) -> bool:
    """``sigma<σ>`` model ids (CONTRIBUTING.md) are the σ series."""
    return model.startswith("sigma")


def model_label(model: str, sigma: float) -> str:
    """Legend/axis label: ``σ = 1.5`` for σ models, ``blurpool (σ = 0)`` otherwise."""
    if is_sigma_model(model):
        return f"σ = {sigma:g}"
    return f"{model} (σ = {sigma:g})" if np.isfinite(sigma) else model


def model_order(table: pd.DataFrame) -> list[tuple[str, float]]:
    """``(model, sigma)`` pairs without the baseline: σ models by σ, then the others by name."""
    pairs = table.loc[table["model"] != BASELINE, ["model", "sigma"]].drop_duplicates()
    sig = pairs[pairs["model"].map(is_sigma_model)].sort_values("sigma")
    other = pairs[~pairs["model"].map(is_sigma_model)].sort_values("model")
    return [(str(m), float(s)) for m, s in pd.concat([sig, other]).itertuples(index=False)]


def model_colours(order: list[tuple[str, float]], palette: str = PALETTE) -> dict[str, object]:
    """Sequential colour per σ model (matplotlib colormap ``palette``), grey for the others."""
    sigmas = [s for m, s in order if is_sigma_model(m)]
    try:
        cmap = matplotlib.colormaps[palette]
    except KeyError:
        raise ValueError(f"unknown matplotlib colormap {palette!r} (config plots.palette)") from None
    norm = Normalize(vmin=min(sigmas, default=0.0), vmax=max(max(sigmas, default=1.0), min(sigmas, default=0.0) + 1e-9))
    return {m: (cmap(0.9 * norm(s)) if is_sigma_model(m) else OTHER_COLOUR) for m, s in order}


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


def _style(font_size: float) -> dict[str, float]:
    return {"font.size": font_size, "axes.titlesize": font_size + 2, "axes.labelsize": font_size + 1,
            "legend.fontsize": font_size, "xtick.labelsize": font_size, "ytick.labelsize": font_size,
            "figure.titlesize": font_size + 3}


def plot_relative_to_baseline(spectra: pd.DataFrame, layer: str, path: str | os.PathLike,
                              palette: str = PALETTE, dpi: int = 120, font_size: float = 10) -> None:
    """Absolute spectra (top) and ratio to baseline (bottom) for one layer.

    ``spectra``: rows ``model sigma freq mean ci_low ci_high ratio ratio_ci_low
    ratio_ci_high`` (``freq`` cycles/pixel, power in grey levels² per frequency
    sample); the baseline rows have ``model == "baseline"``.
    """
    _check_columns(spectra, {"model", "sigma", "freq", "mean", "ci_low", "ci_high", "ratio",
                             "ratio_ci_low", "ratio_ci_high"}, "spectra")
    base = spectra[spectra["model"] == BASELINE].sort_values("freq")
    if base.empty:
        raise ValueError(f"spectra table for layer {layer!r} has no baseline rows")
    order = model_order(spectra)
    colours = model_colours(order, palette)
    with plt.rc_context(_style(font_size)):
        _relative(spectra, base, order, colours, layer, path, dpi)


def _relative(spectra, base, order, colours, layer, path, dpi) -> None:  # type: ignore[no-untyped-def]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 8.5), sharex=True, constrained_layout=True)
    for model, sigma in order:
        rows = spectra[spectra["model"] == model].sort_values("freq")
        style = "-" if is_sigma_model(model) else "-."
        kw = dict(color=colours[model], lw=1.8, ls=style, label=model_label(model, sigma))
        top.plot(rows["freq"], rows["mean"], **kw)
        top.fill_between(rows["freq"], rows["ci_low"], rows["ci_high"], color=colours[model], alpha=0.15, lw=0)
        bottom.plot(rows["freq"], rows["ratio"], **kw)
        bottom.fill_between(rows["freq"], rows["ratio_ci_low"], rows["ratio_ci_high"], color=colours[model],
                            alpha=0.15, lw=0)
    top.plot(base["freq"], base["mean"], color="black", ls="--", lw=2.2, label="baseline (random patches)")
    top.fill_between(base["freq"], base["ci_low"], base["ci_high"], color="black", alpha=0.1, lw=0)
    bottom.axhline(1.0, color="black", ls="--", lw=1.5)
    top.set_xscale("log")
    top.set_yscale("log")
    bottom.set_yscale("log")
    freqs = spectra["freq"].to_numpy(dtype=float)
    _log_ticks(bottom, "x", freqs.min() * 0.95, freqs.max() * 1.05)
    lo, hi = bottom.get_ylim()
    _log_ticks(bottom, "y", lo, hi)
    top.set_ylabel("power (grey levels² per frequency sample)")
    bottom.set_ylabel("power / baseline power")
    bottom.set_xlabel("spatial frequency (cycles/pixel)")
    top.set_title(f"Power spectra of preferred patches, {layer_title(layer)}\n(shaded: neuron-level bootstrap CI)")
    bottom.set_title("Ratio to the random-patch baseline (>1: more power than natural patches)")
    top.legend(ncol=2, frameon=False)
    for ax in (top, bottom):
        ax.grid(True, which="major", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)


def plot_complexity_comparison(summary: pd.DataFrame, layer: str, path: str | os.PathLike,
                               palette: str = PALETTE, dpi: int = 120, font_size: float = 10) -> None:
    """Six complexity panels for one layer, error bars = bootstrap SEM.

    ``summary``: rows ``model sigma metric mean sem`` with metrics
    ``compression_ratio entropy edge_density edge_strength wavelet_approx
    wavelet_detail wavelet_energy``; baseline rows (``model == "baseline"``) give
    the dashed reference lines.
    """
    _check_columns(summary, {"model", "sigma", "metric", "mean", "sem"}, "complexity summary")
    order = model_order(summary)
    if not order:
        raise ValueError(f"complexity summary for layer {layer!r} has no model rows")
    colours = model_colours(order, palette)
    with plt.rc_context(_style(font_size)):
        _complexity(summary, order, colours, layer, path, dpi)


def _complexity(summary, order, colours, layer, path, dpi) -> None:  # type: ignore[no-untyped-def]
    x = np.arange(len(order))
    labels = [model_label(m, s).replace(" (", "\n(") for m, s in order]

    def values(metric: str, model: str) -> tuple[float, float]:
        row = summary[(summary["model"] == model) & (summary["metric"] == metric)]
        if row.empty:
            raise ValueError(f"complexity summary for layer {layer!r} lacks metric {metric!r} of model {model!r}")
        return float(row["mean"].iloc[0]), float(row["sem"].iloc[0])

    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), constrained_layout=True)
    for ax, (metric, title, unit) in zip(axes.ravel(), COMPLEXITY_PANELS):
        series = [("wavelet_approx", "o", "approx"), ("wavelet_detail", "s", "H+V+D")] \
            if metric == "wavelet_fractions" else [(metric, "o", None)]
        for name, marker, tag in series:
            means, sems = zip(*(values(name, m) for m, _ in order))
            sig = [i for i, (m, _) in enumerate(order) if is_sigma_model(m)]
            ax.plot(x[sig], np.asarray(means)[sig], color="0.7", lw=1, zorder=1,
                    ls="-" if tag != "H+V+D" else ":")
            for i, (m, _) in enumerate(order):
                ax.errorbar(x[i], means[i], yerr=sems[i], fmt=marker if is_sigma_model(m) else "D",
                            color=colours[m], ms=7, capsize=4, lw=1.5, zorder=2,
                            mfc=colours[m] if tag != "H+V+D" else "white")
            base = summary[(summary["model"] == BASELINE) & (summary["metric"] == name)]
            if not base.empty:
                ax.axhline(float(base["mean"].iloc[0]), color="0.3", ls="--" if tag != "H+V+D" else ":",
                           lw=1.2, label="baseline" + (f" {tag}" if tag else ""))
            if tag is not None:
                ax.plot([], [], marker, color="0.3", mfc="0.3" if tag == "approx" else "white", label=tag)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(frameon=False)
    fig.suptitle(f"Complexity of preferred patches, {layer_title(layer)} "
                 "(mean ± neuron-level bootstrap SEM; colour = training σ)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
