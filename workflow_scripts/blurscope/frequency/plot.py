"""Figures of the frequency-preference stage (after Li et al. 2023).

Pure functions from tidy tables (the TSVs of ``results/frequency/``, see
docs/frequency.md) to PNG files, written atomically. Frequencies on the axes are
in cycles/pixel. Models are ordered by σ and drawn in the one figure style
(:mod:`blurscope.plot_common`): colour = training σ, marker = model kind (σ
models, further training runs, filter-only references, BlurPool).
"""

from __future__ import annotations

import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

NYQUIST_CPP = 0.5
SPECIAL_ROWS = ("clean", "mean")
"""Rows of the corruption table that are not a corruption type."""


def _order(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.copy()
    key = {m: pc.model_sort_key(m, sg) for m, sg in zip(s["model"], s["sigma"])}
    return s.iloc[sorted(range(len(s)), key=lambda i: key[s["model"].iloc[i]])].reset_index(drop=True)


def _colours(summary: pd.DataFrame, palette: str | None = None) -> dict[float, tuple]:
    return pc.sigma_colours(summary["sigma"].astype(float), palette)


def _style(row: pd.Series, colours: dict[float, tuple]) -> dict:
    return pc.model_style(row["model"], row["sigma"], colours)


def _err(lo: pd.Series, mid: pd.Series, hi: pd.Series) -> np.ndarray:
    """Asymmetric error bars ``[2, n]`` (:func:`blurscope.plot_common.ci_err`)."""
    return ci_err(mid, lo, hi)


def _by_sigma(ax, s: pd.DataFrame, y: str, lo: str, hi: str, colours: dict, line: object = "0.5",  # noqa: ANN001
              colour: object = None) -> set[str]:
    """``y`` (CI ``lo``–``hi``) against σ (:func:`blurscope.plot_common.plot_vs_sigma`)."""
    return pc.plot_vs_sigma(ax, s["model"], s["sigma"], s[y], s[lo], s[hi], colours=colours, colour=colour, line=line)


def plot_preference(
    curves: pd.DataFrame, summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120, palette: str | None = None
) -> None:
    """p_low (solid) / p_high (dashed) vs f_mix, f_rev marked; f_rev and f_0.5 vs σ.

    Args:
        curves: columns ``model f_mix_cpp p_low p_high`` (+ ``p_low_ci_low``… optional).
        summary: columns ``model sigma f_rev_cpp f_rev_ci_low_cpp f_rev_ci_high_cpp
            f_half_cpp f_half_ci_low_cpp f_half_ci_high_cpp``.
    """
    s = _order(summary)
    col = _colours(s, palette)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(width, 5.6), gridspec_kw={"width_ratios": [1.5, 1]})
        for _, row in s.iterrows():
            c = curves[curves["model"] == row["model"]].sort_values("f_mix_cpp")
            if c.empty:
                continue
            st = _style(row, col)
            mark = {"marker": st["marker"], "markevery": max(1, len(c) // 6), "mfc": st.get("markerfacecolor")}
            ax.plot(c["f_mix_cpp"], c["p_low"], "-", color=st["color"], lw=1.6, label=pc.model_label(row["model"]),
                    **mark)
            ax.plot(c["f_mix_cpp"], c["p_high"], "--", color=st["color"], lw=1.0)
            if {"p_low_ci_low", "p_low_ci_high"} <= set(c.columns):
                ax.fill_between(c["f_mix_cpp"], c["p_low_ci_low"], c["p_low_ci_high"], color=st["color"], alpha=0.12,
                                lw=0)
            fr = row["f_rev_cpp"]
            if np.isfinite(fr):
                y = np.interp(fr, c["f_mix_cpp"], c["p_low"])  # f_mix_cpp is increasing: interp is fine here
                ax.plot([fr], [y], "o", ms=9, mfc="none", mec=st["color"], mew=2)
        ax.axvline(NYQUIST_CPP, color="0.6", lw=0.8, ls=":")
        ax.text(NYQUIST_CPP, 0.5, " Nyquist", rotation=90, ha="left", va="center", color="0.4")
        ax.set_xlabel("mixing frequency f_mix (cycles/pixel)")
        ax.set_ylabel("probability")
        ax.set_ylim(-0.02, 1.05)
        ax.set_title("hybrid images: P(class of the low-pass image)\nsolid p_low, dashed p_high; big ○ = f_rev")
        for key, colour in (("f_rev", "C0"), ("f_half", "C3")):  # colour = statistic (x is σ), marker = kind
            _by_sigma(ax2, s, f"{key}_cpp", f"{key}_ci_low_cpp", f"{key}_ci_high_cpp", col, line=colour, colour=colour)
        ax2.set_xlabel("training blur σ (px at 224)")
        ax2.set_ylabel("frequency (cycles/pixel)")
        ax2.set_title("frequency preference vs σ\n(95 % bootstrap CI)")
        ax2.grid(alpha=0.3)
        stat = [(Line2D([], [], color="C0"), "f_rev (hybrids), line through σ means"),
                (Line2D([], [], color="C3"), "f_0.5 (PGD power), line through σ means")]
        kinds = set(s["model"].map(pc.model_kind))
        pc.figure_legend(fig, [ax], ncols=3, extra=stat + pc.kind_handles(kinds))
        pc.save_figure(fig, path, dpi)


def plot_shape_bias(summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """Shape bias vs σ with bootstrap CIs (columns ``model sigma shape_bias shape_bias_ci_low/high``)."""
    s = _order(summary)
    col = _colours(s)
    width = 0.65 * pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, ax = plt.subplots(figsize=(width, 4.6))
        _by_sigma(ax, s, "shape_bias", "shape_bias_ci_low", "shape_bias_ci_high", col)
        ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
        ax.set_ylim(0, 1)
        ax.set_xlabel("training blur σ (px at 224)")
        ax.set_ylabel("shape bias\n= shape / (shape + texture) hits")
        ax.set_title("cue-conflict shape bias (95 % bootstrap CI)")
        ax.grid(alpha=0.3)
        pc.figure_legend(fig, ncols=2, extra=pc.kind_handles(set(s["model"].map(pc.model_kind))))
        pc.save_figure(fig, path, dpi)


def plot_corruption_vs_frev(
    summary: pd.DataFrame, corruption: pd.DataFrame, path: str | os.PathLike, dpi: int = 120,
    palette: str | None = None
) -> None:
    """Mean corruption accuracy vs f_rev per model; per-type accuracy vs f_rev.

    Args:
        summary: ``model sigma f_rev_cpp f_rev_ci_* corruption_acc corruption_acc_ci_*``.
        corruption: ``model corruption severity accuracy``; the ``clean`` row is shown
            separately and the ``mean`` row is ignored (it is ``summary``'s ``corruption_acc``).
    """
    s = _order(summary)
    col = _colours(s, palette)
    width = pc.REPORT_WIDTH_IN
    per_type = (corruption[~corruption["corruption"].isin(SPECIAL_ROWS)]
                .groupby(["model", "corruption"], as_index=False)["accuracy"].mean())
    merged = per_type.merge(s[["model", "f_rev_cpp"]], on="model").sort_values("f_rev_cpp")
    types = list(dict.fromkeys(merged["corruption"]))
    type_colour = dict(zip(types, pc.category_colours(len(types))))
    with pc.figure_style(width, dpi):
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(width, 5.8))
        for _, row in s.iterrows():
            st = {**_style(row, col), "linestyle": "none"}
            ax.errorbar([row["f_rev_cpp"]], [row["corruption_acc"]],
                        xerr=_err(pd.Series([row["f_rev_ci_low_cpp"]]), pd.Series([row["f_rev_cpp"]]),
                                  pd.Series([row["f_rev_ci_high_cpp"]])),
                        yerr=_err(pd.Series([row["corruption_acc_ci_low"]]), pd.Series([row["corruption_acc"]]),
                                  pd.Series([row["corruption_acc_ci_high"]])),
                        capsize=3, label=textwrap.fill(pc.model_label(row["model"]), 28), **st)
        ax.set_xlabel("f_rev (cycles/pixel)")
        ax.set_ylabel("mean accuracy over\ncorruptions × severities")
        ax.set_title("corruption robustness vs\nfrequency preference")
        ax.grid(alpha=0.3)
        for name in types:
            grp = merged[merged["corruption"] == name]
            ax2.plot(grp["f_rev_cpp"], grp["accuracy"], "o-", ms=4, color=type_colour[name], label=name)
        clean = corruption[corruption["corruption"] == "clean"].merge(s[["model", "f_rev_cpp"]], on="model")
        if not clean.empty:
            clean = clean.sort_values("f_rev_cpp")
            ax2.plot(clean["f_rev_cpp"], clean["accuracy"], "k--", lw=1, label="clean")
        ax2.set_xlabel("f_rev (cycles/pixel)")
        ax2.set_ylabel("accuracy (mean over severities)")
        ax2.set_title("per corruption type\n(one point per model)")
        ax2.grid(alpha=0.3)
        pc.figure_legend(fig, [ax], where="right", ncols=1, title="model (left)")
        pc.figure_legend(fig, [ax2], ncols=4)
        pc.save_figure(fig, path, dpi)


def plot_corruption_heatmap(
    summary: pd.DataFrame, corruption: pd.DataFrame, path: str | os.PathLike, dpi: int = 120
) -> None:
    """Accuracy heatmaps: model × corruption type (mean over severities, + clean and mean),
    and model × severity (mean over types)."""
    order = list(_order(summary)["model"])
    order += [m for m in corruption["model"].unique() if m not in order]
    cor = corruption[~corruption["corruption"].isin(SPECIAL_ROWS)]
    by_type = cor.pivot_table(index="model", columns="corruption", values="accuracy", aggfunc="mean")
    by_type["mean"] = cor.groupby("model")["accuracy"].mean()
    clean = corruption[corruption["corruption"] == "clean"].set_index("model")["accuracy"]
    by_type.insert(0, "clean", clean)
    by_type = by_type.reindex([m for m in order if m in by_type.index])
    by_sev = cor.pivot_table(index="model", columns="severity", values="accuracy", aggfunc="mean")
    by_sev = by_sev.reindex(by_type.index)
    width = pc.REPORT_WIDTH_IN
    labels = [textwrap.fill(pc.model_label(m), 24) for m in by_type.index]
    with pc.figure_style(width, dpi) as base:
        row_in = (1 + max(lab.count("\n") for lab in labels)) * 1.3 * base / 72 + 0.06  # the longest label fits
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(width, row_in * len(by_type) + 2.6),
                                      gridspec_kw={"width_ratios": [by_type.shape[1], by_sev.shape[1] + 1]})
        for a, tab, title in ((ax, by_type, "accuracy by corruption\n(mean over severities)"),
                              (ax2, by_sev, "accuracy by severity\n(mean over types)")):
            im = a.imshow(tab.to_numpy(dtype=float), vmin=0, vmax=1, cmap="magma", aspect="auto")
            a.set_xticks(range(tab.shape[1]), [str(c) for c in tab.columns], rotation=45, ha="right")
            a.set_yticks(range(tab.shape[0]), labels if a is ax else [])
            for i in range(tab.shape[0]):
                for j in range(tab.shape[1]):
                    v = tab.iat[i, j]
                    if np.isfinite(v):
                        a.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black")
            a.set_title(title)
        ax2.set_xlabel("severity")
        fig.colorbar(im, ax=[ax, ax2], fraction=0.03, label="accuracy")
        pc.save_figure(fig, path, dpi)
