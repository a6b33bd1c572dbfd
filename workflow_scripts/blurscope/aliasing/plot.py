"""Figures of the aliasing stage (after Kashyap, "Measuring Spectral Aliasing in Strided CNNs"):
layer-wise AVR, AVR–SIS scatter, frequency sweep, SIS vs training σ.

Every function takes the tidy tables written by the aliasing rules (see
``docs/aliasing.md``) and writes one PNG atomically; none reads files itself.
The summary has one row set per model: training replicates (``sigma6-seed1``,
``group`` = ``sigma6``) are drawn as models of their own in their σ's colour,
filter-only references (``ref-sigma<s>``: the σ 0 network behind the σ-s blur)
apart from the trained σ series, never as a point of it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.model_id import is_reference  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

REGION_LABEL = {"radial": "radial (r > 1/s)", "separable": "separable (max|f| > 1/s)"}


def _models(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per model: ``model group sigma antialiased reference`` (``group`` = the model without ``group``)."""
    m = summary.drop_duplicates("model").copy()
    if "group" not in m.columns:
        m["group"] = m["model"]
    m["reference"] = m["model"].map(is_reference).astype(bool)
    return m.sort_values(["sigma", "model"], kind="stable")


def _std_models(summary: pd.DataFrame) -> list[str]:
    """The trained standard-architecture models (replicates included), by σ."""
    m = _models(summary)
    return m[(m["antialiased"] == 0) & ~m["reference"]]["model"].tolist()


def _ref_models(summary: pd.DataFrame) -> list[str]:
    """The filter-only references, by σ."""
    m = _models(summary)
    return m[m["reference"]]["model"].tolist()


def _aa_models(summary: pd.DataFrame) -> list[str]:
    m = _models(summary)
    return m[m["antialiased"] == 1]["model"].tolist()


def plot_layer_avr(summary: pd.DataFrame, path: str | os.PathLike, point_order: Sequence[str], dpi: int = 120) -> None:
    """Mean AVR (95 % bootstrap CI) per stride point: one line per model in its kind's style
    (:data:`blurscope.plot_common.KIND_STYLE`: σ models circles, further training runs triangles, both in
    their σ's colour; filter-only references open squares, dotted; BlurPool black diamonds, dashed).

    Args:
        summary: ``aliasing_stats`` summary table (``model group sigma antialiased point metric mean ci_low
            ci_high``; ``group`` optional).
        point_order: canonical points in execution order (x axis).
    """
    x = np.arange(len(point_order))
    models = _models(summary)
    std, refs, aa_models = _std_models(summary), _ref_models(summary), _aa_models(summary)
    sigma_of = dict(zip(models["model"], models["sigma"].astype(float)))
    colours = pc.sigma_colours(sigma_of[m] for m in std + refs)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(1, 2, figsize=(width, 5.2))
        for ax, region in zip(axes, ("radial", "separable")):
            met = f"avr_{region}"
            for m in std + refs + aa_models:
                d = summary[(summary["model"] == m) & (summary["metric"] == met)].set_index("point").reindex(
                    point_order)
                style = pc.model_style(m, sigma_of[m], colours)
                yerr = ci_err(d["mean"], d["ci_low"], d["ci_high"])
                ax.errorbar(x, d["mean"], yerr=yerr, capsize=2, lw=1.4, label=pc.model_label(m), **style)
            ax.set_xticks(x)
            ax.set_xticklabels(point_order, rotation=40, ha="right")
            ax.set_title(f"AVR, {REGION_LABEL[region]}")
            ax.set_ylabel("AVR (fraction of power aliased)")
            ax.grid(alpha=0.3)
        pc.figure_legend(fig, axes[:1], ncols=3)
        fig.suptitle("Alias violation ratio at the input of every stride-2 op (BlurPool: input of the blur)")
        pc.save_figure(fig, path, dpi)


def plot_avr_sis_scatter(
    tables: Mapping[str, pd.DataFrame],
    correlation: pd.DataFrame,
    path: str | os.PathLike,
    point_order: Sequence[str],
    region: str = "radial",
    dpi: int = 120,
) -> None:
    """Per-image AVR (x) vs SIS (y), one panel per stride point, one colour and marker per model (its kind's
    style); Pearson r and Spearman ρ (``correlation`` columns ``pearson_r``, ``rho``) of each model under the
    panel's title."""
    n = len(point_order)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    met = f"avr_{region}"
    colours = pc.sigma_colours(pc.id_sigma(m) for m in tables)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(rows, cols, figsize=(width, 2.9 * rows + 0.9), squeeze=False)
        for i, p in enumerate(point_order):
            ax = axes[i // cols][i % cols]
            notes = []
            for m, t in tables.items():
                d = t[t["point"] == p]
                if d.empty:
                    continue
                st = pc.model_style(m, pc.id_sigma(m), colours)
                ax.scatter(d[met], d["sis"], s=6, alpha=0.5, color=st["color"], marker=st["marker"],
                           label=pc.model_label(m))
                c = correlation[
                    (correlation["model"] == m) & (correlation["point"] == p) & (correlation["region"] == region)
                ]
                if len(c):
                    notes.append(f"{pc.model_label(m)}: r {c['pearson_r'].iloc[0]:.2f}, ρ {c['rho'].iloc[0]:.2f}")
            ax.set_title("\n".join([p, *notes]))
            ax.set_xlabel(f"AVR ({region})")
            ax.set_ylabel("SIS")
            ax.grid(alpha=0.3)
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].axis("off")
        leg = pc.figure_legend(fig, ncols=len(tables))
        if leg is not None:
            for h in leg.legend_handles:
                h.set_alpha(1.0)
                h.set_sizes([30])
        fig.suptitle("Per-image AVR vs shift instability (SIS); r = Pearson, ρ = Spearman over images")
        pc.save_figure(fig, path, dpi)


def plot_frequency_sweep(sweep: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """AVR vs per-axis normalised frequency of a sinusoid: rows = region, columns = ``direct`` (the
    sinusoid itself, black) and each network (one colour per stride point); line style = orientation.
    Dotted grey line: 0.5."""
    from matplotlib.lines import Line2D

    sources = ["direct"] + [s for s in sweep["source"].drop_duplicates() if s != "direct"]
    styles = {"horizontal": "-", "vertical": ":", "diagonal": "--"}
    points = sweep[sweep["source"] != "direct"].drop_duplicates("layer").sort_values("order")["layer"].tolist()
    point_colour = dict(zip(points, pc.category_colours(len(points))))
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(2, len(sources), figsize=(width, 6.6), squeeze=False, sharey=True)
        for ci, src in enumerate(sources):
            d = sweep[sweep["source"] == src]
            pts = d.drop_duplicates("layer").sort_values("order")["layer"].tolist()
            for ri, region in enumerate(("radial", "separable")):
                ax = axes[ri][ci]
                for layer in pts:
                    for o, ls in styles.items():
                        e = d[(d["layer"] == layer) & (d["orientation"] == o)].sort_values("freq_axis")
                        if e.empty:
                            continue
                        color = "black" if src == "direct" else point_colour.get(layer, "0.45")
                        ax.plot(e["freq_axis"], e[f"avr_{region}"], ls, color=color, lw=1.2, marker=".", ms=3,
                                label=None if src == "direct" else layer)
                ax.axvline(0.5, color="grey", ls=":", lw=1)
                name = "sinusoid itself" if src == "direct" else pc.model_label(src)
                ax.set_title(f"{name}\n{REGION_LABEL[region]}")
                if ri == 1:
                    ax.set_xlabel("frequency per axis\n(1 = Nyquist)")
                if ci == 0:
                    ax.set_ylabel("AVR")
                ax.set_ylim(-0.03, 1.03)
                ax.grid(alpha=0.3)
        orient = [(Line2D([], [], color="black", ls=ls), o) for o, ls in styles.items()]
        pc.figure_legend(fig, ncols=4, extra=orient)
        fig.suptitle("Frequency sweep: AVR of a sinusoid at each stride point")
        pc.save_figure(fig, path, dpi)


def plot_sis_vs_sigma(summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """SIS and top-1 consistency (mean, 95 % CI) against training σ: every trained model a point in its
    kind's style and its σ's colour (:func:`blurscope.plot_common.plot_vs_sigma`: training replicates beside
    their σ, a grey line through the mean over the runs of each σ; the filter-only references, the σ 0 network
    behind each blur, open squares on a dotted line); BlurPool a black diamond beside its σ and a dashed
    line with its CI band across the panel."""
    models = _std_models(summary) + _ref_models(summary) + _aa_models(summary)
    colours = pc.sigma_colours(_models(summary)["sigma"].astype(float))
    width = pc.REPORT_WIDTH_IN
    kinds = set()
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(1, 2, figsize=(width, 4.4))
        for ax, met, lab in zip(
            axes, ("sis", "consistency"), ("SIS (1 − cos, mean of 4 shifts)", "top-1 agreement under shift")
        ):
            d = summary[(summary["metric"] == met) & (summary["model"].isin(models))]
            kinds |= pc.plot_vs_sigma(ax, d["model"], d["sigma"], d["mean"], d["ci_low"], d["ci_high"],
                                      colours=colours)
            for m in _aa_models(summary):
                b = summary[(summary["metric"] == met) & (summary["model"] == m)]
                if b.empty:
                    continue
                bp = pc.KIND_STYLE["blurpool"]
                ax.axhline(b["mean"].iloc[0], color=bp["color"], ls=bp["linestyle"], lw=1)
                ax.axhspan(b["ci_low"].iloc[0], b["ci_high"].iloc[0], color=bp["color"], alpha=0.1)
            ax.set_xlabel("training blur σ (px at 224)")
            ax.set_ylabel(lab)
            ax.grid(alpha=0.3)
        pc.figure_legend(fig, ncols=2, extra=pc.kind_handles(kinds))
        fig.suptitle("Shift instability vs training blur (colour = σ)")
        pc.save_figure(fig, path, dpi)
