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

from blurscope.io import atomic_path  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

PALETTE = ["viridis"]
"""Sequential colormap for σ (set with :func:`set_style`)."""

REGION_LABEL = {"radial": "radial (r > 1/s)", "separable": "separable (max|f| > 1/s)"}
BLURPOOL_STYLE = {"color": "black", "linestyle": "--", "marker": "s"}
REFERENCE_PREFIX = "ref-"
"""Model ids of the filter-only references (rules/common.smk ``REFERENCE_PREFIX``)."""


def set_style(palette: str = "viridis", font_size: float = 9.0) -> None:
    """Use ``palette`` (a matplotlib colormap name) for σ and ``font_size`` as the base font size.

    Raises:
        ValueError: unknown colormap (config key ``plots.palette``).
    """
    if palette not in plt.colormaps():
        raise ValueError(f"config key 'plots.palette': {palette!r} is not a matplotlib colormap")
    PALETTE[0] = palette
    plt.rcParams["font.size"] = font_size


def _save(fig: plt.Figure, path: str | os.PathLike, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def _sigma_colors(sigmas: Sequence[float]) -> dict[float, tuple]:
    cmap = plt.get_cmap(PALETTE[0])
    uniq = sorted(set(sigmas))
    return {s: cmap(i / max(1, len(uniq) - 1) * 0.9) for i, s in enumerate(uniq)}


def _models(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per model: ``model group sigma antialiased reference`` (``group`` = the model without ``group``)."""
    m = summary.drop_duplicates("model").copy()
    if "group" not in m.columns:
        m["group"] = m["model"]
    m["reference"] = m["model"].astype(str).str.startswith(REFERENCE_PREFIX)
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


def _first_of_group(summary: pd.DataFrame) -> set[str]:
    """The first model of each replicate group (the one that carries the legend label)."""
    return set(_models(summary).drop_duplicates("group")["model"])


def plot_layer_avr(summary: pd.DataFrame, path: str | os.PathLike, point_order: Sequence[str], dpi: int = 120) -> None:
    """Mean AVR (95 % bootstrap CI) per stride point: one line per trained σ model (training replicates in
    their σ's colour, triangles), filter-only references dotted with open markers, BlurPool dashed.

    Args:
        summary: ``aliasing_stats`` summary table (``model group sigma antialiased point metric mean ci_low
            ci_high``; ``group`` optional).
        point_order: canonical points in execution order (x axis).
    """
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.3 * len(point_order) * 2), 4.2), sharey=False)
    x = np.arange(len(point_order))
    std, refs, aa_models = _std_models(summary), _ref_models(summary), _aa_models(summary)
    sigma_of = dict(zip(_models(summary)["model"], _models(summary)["sigma"].astype(float)))
    colors = _sigma_colors([sigma_of[m] for m in std + refs])
    first = _first_of_group(summary)
    for ax, region in zip(axes, ("radial", "separable")):
        met = f"avr_{region}"
        for m in std + refs + aa_models:
            d = summary[(summary["model"] == m) & (summary["metric"] == met)].set_index("point").reindex(point_order)
            sig = sigma_of[m]
            if m in aa_models:
                style, label = BLURPOOL_STYLE, f"{m} (BlurPool)"
            elif m in refs:
                style = {"color": colors[sig], "marker": "o", "linestyle": ":", "mfc": "none"}
                label = f"σ={sig:g} filter only (σ 0 net)"
            elif m in first:
                style, label = {"color": colors[sig], "marker": "o"}, f"σ={sig:g}"
            else:  # a further training run of the same σ
                style, label = {"color": colors[sig], "marker": "^", "alpha": 0.7}, f"σ={sig:g} ({m})"
            yerr = ci_err(d["mean"], d["ci_low"], d["ci_high"])
            ax.errorbar(x, d["mean"], yerr=yerr, capsize=2, lw=1.4, ms=4, label=label, **style)
        ax.set_xticks(x)
        ax.set_xticklabels(point_order, rotation=40, ha="right", fontsize=8)
        ax.set_title(f"AVR, {REGION_LABEL[region]}")
        ax.set_ylabel("AVR (fraction of power aliased)")
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, ncol=1, loc="best")
    fig.suptitle("Alias violation ratio at the input of every stride-2 op (BlurPool: input of the blur)", fontsize=10)
    _save(fig, path, dpi)


def plot_avr_sis_scatter(
    tables: Mapping[str, pd.DataFrame],
    correlation: pd.DataFrame,
    path: str | os.PathLike,
    point_order: Sequence[str],
    region: str = "radial",
    dpi: int = 120,
) -> None:
    """Per-image AVR (x) vs SIS (y), one panel per stride point, one colour per model;
    Pearson r and Spearman ρ (``correlation`` columns ``pearson_r``, ``rho``) of each model in the legend."""
    n = len(point_order)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    palette = plt.get_cmap("tab10")
    met = f"avr_{region}"
    for i, p in enumerate(point_order):
        ax = axes[i // cols][i % cols]
        for j, (m, t) in enumerate(tables.items()):
            d = t[t["point"] == p]
            if d.empty:
                continue
            c = correlation[
                (correlation["model"] == m) & (correlation["point"] == p) & (correlation["region"] == region)
            ]
            lab = m
            if len(c):
                lab += f" r={c['pearson_r'].iloc[0]:.2f} ρ={c['rho'].iloc[0]:.2f}"
            ax.scatter(d[met], d["sis"], s=6, alpha=0.5, color=palette(j % 10), label=lab)
        ax.set_title(p, fontsize=9)
        ax.set_xlabel(f"AVR ({region})", fontsize=8)
        ax.set_ylabel("SIS", fontsize=8)
        ax.legend(fontsize=6, loc="best")
        ax.grid(alpha=0.3)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle("Per-image AVR vs shift instability (SIS)", fontsize=10)
    fig.tight_layout()
    _save(fig, path, dpi)


def plot_frequency_sweep(sweep: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """AVR vs per-axis normalised frequency of a sinusoid: rows = region, columns =
    ``direct`` (the sinusoid itself, one line per orientation) and each network
    (one colour per stride point, line style = orientation). Dotted line: 0.5."""
    sources = ["direct"] + [s for s in sweep["source"].drop_duplicates() if s != "direct"]
    styles = {"horizontal": "-", "vertical": ":", "diagonal": "--"}
    fig, axes = plt.subplots(2, len(sources), figsize=(4.2 * len(sources), 6.4), squeeze=False, sharey=True)
    cmap = plt.get_cmap("plasma")
    for ci, src in enumerate(sources):
        d = sweep[sweep["source"] == src]
        pts = d.drop_duplicates("layer").sort_values("order")["layer"].tolist()
        for ri, region in enumerate(("radial", "separable")):
            ax = axes[ri][ci]
            for k, layer in enumerate(pts):
                for o, ls in styles.items():
                    e = d[(d["layer"] == layer) & (d["orientation"] == o)].sort_values("freq_axis")
                    if e.empty:
                        continue
                    color = f"C{list(styles).index(o)}" if src == "direct" else cmap(k / max(1, len(pts)) * 0.85)
                    label = o if src == "direct" else (layer if o == "horizontal" else None)
                    ax.plot(e["freq_axis"], e[f"avr_{region}"], ls, color=color, lw=1.2, marker=".", ms=3,
                            label=label)
            ax.axvline(0.5, color="grey", ls=":", lw=1)
            ax.set_title(f"{src}: {REGION_LABEL[region]}", fontsize=9)
            ax.set_xlabel("sinusoid frequency per axis (1 = Nyquist)", fontsize=8)
            if ci == 0:
                ax.set_ylabel("AVR")
            ax.set_ylim(-0.03, 1.03)
            ax.grid(alpha=0.3)
            if ri == 0:
                ax.legend(fontsize=6, loc="center left")
    fig.suptitle("Frequency sweep (solid horizontal, dotted vertical, dashed diagonal)", fontsize=10)
    fig.tight_layout()
    _save(fig, path, dpi)


def plot_sis_vs_sigma(summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """SIS and top-1 consistency (mean, 95 % CI) against training σ: every trained model a point (training
    replicates side by side at their σ), a line through the mean over the replicates of each σ; the
    filter-only references (the σ 0 network behind each blur) as open squares on a dotted line; BlurPool as
    a horizontal reference line with its CI band."""
    std, refs = _std_models(summary), _ref_models(summary)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, met, lab in zip(
        axes, ("sis", "consistency"), ("SIS (1 − cos, mean of 4 shifts)", "top-1 agreement under shift")
    ):
        d = summary[(summary["metric"] == met) & (summary["model"].isin(std))].sort_values(["sigma", "model"])
        n_runs = d.groupby("sigma")["model"].transform("size").to_numpy()
        rank = d.groupby("sigma").cumcount().to_numpy()
        dx = 0.06 * (rank - (n_runs - 1) / 2)  # replicates of one σ side by side
        label = "blur-trained (standard net)" + (", one point per training run" if (n_runs > 1).any() else "")
        ax.errorbar(d["sigma"] + dx, d["mean"], yerr=ci_err(d["mean"], d["ci_low"], d["ci_high"]),
                    marker="o", ls="none", capsize=3, color="C0", label=label)
        means = d.groupby("sigma")["mean"].mean()
        ax.plot(means.index, means.to_numpy(), color="C0", lw=1.2)
        r = summary[(summary["metric"] == met) & (summary["model"].isin(refs))].sort_values("sigma")
        if len(r):
            ax.errorbar(r["sigma"], r["mean"], yerr=ci_err(r["mean"], r["ci_low"], r["ci_high"]),
                        marker="s", mfc="none", ls=":", capsize=3, color="C1",
                        label="filter only (σ 0 network behind the blur)")
        for m in _aa_models(summary):
            b = summary[(summary["metric"] == met) & (summary["model"] == m)]
            if b.empty:
                continue
            ax.axhline(b["mean"].iloc[0], color="black", ls="--", label=f"{m} (BlurPool, σ={b['sigma'].iloc[0]:g})")
            ax.axhspan(b["ci_low"].iloc[0], b["ci_high"].iloc[0], color="black", alpha=0.1)
        ax.set_xlabel("training blur σ (px at 224)")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Shift instability vs training blur", fontsize=10)
    fig.tight_layout()
    _save(fig, path, dpi)
