"""Figures of the frequency-preference stage (after Li et al. 2023).

Pure functions from tidy tables (the TSVs of ``results/frequency/``, see
docs/frequency.md) to PNG files, written atomically. Frequencies on the axes are
in cycles/pixel. Models are ordered by σ; the σ models get a sequential colour
map, other models (``blurpool``) black.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope.io import atomic_path  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

NYQUIST_CPP = 0.5
SPECIAL_ROWS = ("clean", "mean")
"""Rows of the corruption table that are not a corruption type."""


def _order(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.copy()
    s["_blurpool"] = s["model"].astype(str).str.startswith("blurpool")
    return s.sort_values(["_blurpool", "sigma", "model"]).drop(columns="_blurpool")


def _colours(summary: pd.DataFrame, palette: str = "viridis") -> dict[str, tuple]:
    s = _order(summary)
    sig_models = [m for m in s["model"] if str(m).startswith("sigma")]
    cmap = plt.get_cmap(palette)
    out: dict[str, tuple] = {}
    for i, m in enumerate(sig_models):
        out[m] = cmap(0.9 * i / max(1, len(sig_models) - 1))
    for m in s["model"]:
        out.setdefault(m, (0.0, 0.0, 0.0, 1.0))
    return out


def _label(row: pd.Series) -> str:
    return f"{row['model']} (σ={row['sigma']:g})"


def _save(fig: plt.Figure, path: str | os.PathLike, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def _err(lo: pd.Series, mid: pd.Series, hi: pd.Series) -> np.ndarray:
    """Asymmetric error bars ``[2, n]`` (:func:`blurscope.plot_common.ci_err`)."""
    return ci_err(mid, lo, hi)


def plot_preference(
    curves: pd.DataFrame, summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120, palette: str = "viridis"
) -> None:
    """p_low (solid) / p_high (dashed) vs f_mix, f_rev marked; f_rev and f_0.5 vs σ.

    Args:
        curves: columns ``model f_mix_cpp p_low p_high`` (+ ``p_low_ci_low``… optional).
        summary: columns ``model sigma f_rev_cpp f_rev_ci_low_cpp f_rev_ci_high_cpp
            f_half_cpp f_half_ci_low_cpp f_half_ci_high_cpp``.
    """
    s = _order(summary)
    col = _colours(s, palette)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.6, 1]})
    for _, row in s.iterrows():
        c = curves[curves["model"] == row["model"]].sort_values("f_mix_cpp")
        if c.empty:
            continue
        colour = col[row["model"]]
        ax.plot(c["f_mix_cpp"], c["p_low"], "-", color=colour, lw=1.6, label=_label(row))
        ax.plot(c["f_mix_cpp"], c["p_high"], "--", color=colour, lw=1.2)
        if {"p_low_ci_low", "p_low_ci_high"} <= set(c.columns):
            ax.fill_between(c["f_mix_cpp"], c["p_low_ci_low"], c["p_low_ci_high"], color=colour, alpha=0.12, lw=0)
        fr = row["f_rev_cpp"]
        if np.isfinite(fr):
            y = np.interp(fr, c["f_mix_cpp"], c["p_low"])  # f_mix_cpp is increasing: interp is fine here
            ax.plot([fr], [y], "o", ms=7, mfc="white", mec=colour, mew=2)
    ax.axvline(NYQUIST_CPP, color="0.6", lw=0.8, ls=":")
    ax.text(NYQUIST_CPP, 0.5, " Nyquist", rotation=90, ha="left", va="center", fontsize=8, color="0.4")
    ax.set_xlabel("mixing frequency f_mix (cycles/pixel)")
    ax.set_ylabel("probability")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("hybrids: solid p_low = P(class of low-freq. image), dashed p_high; ○ f_rev", fontsize=9)
    ax.legend(fontsize=7, loc="center right")
    sig = s[s["model"].astype(str).str.startswith("sigma")]
    for key, marker, name in (("f_rev", "o", "f_rev (hybrids)"), ("f_half", "s", "f_0.5 (PGD power)")):
        if sig.empty:
            break
        ax2.errorbar(sig["sigma"], sig[f"{key}_cpp"],
                     yerr=_err(sig[f"{key}_ci_low_cpp"], sig[f"{key}_cpp"], sig[f"{key}_ci_high_cpp"]),
                     marker=marker, capsize=3, label=name)
    other = s[~s["model"].astype(str).str.startswith("sigma")]
    for _, row in other.iterrows():
        ax2.plot([row["sigma"]], [row["f_rev_cpp"]], "kD", ms=6, label=f"{row['model']} f_rev")
        ax2.plot([row["sigma"]], [row["f_half_cpp"]], "kx", ms=7, label=f"{row['model']} f_0.5")
    ax2.set_xlabel("training blur σ (px at 224)")
    ax2.set_ylabel("frequency (cycles/pixel)")
    ax2.set_title("frequency preference vs σ (95% bootstrap CI)", fontsize=9)
    ax2.legend(fontsize=7)
    _save(fig, path, dpi)


def plot_shape_bias(summary: pd.DataFrame, path: str | os.PathLike, dpi: int = 120) -> None:
    """Shape bias vs σ with bootstrap CIs (columns ``model sigma shape_bias shape_bias_ci_low/high``)."""
    s = _order(summary)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sig = s[s["model"].astype(str).str.startswith("sigma")]
    ax.errorbar(sig["sigma"], sig["shape_bias"],
                yerr=_err(sig["shape_bias_ci_low"], sig["shape_bias"], sig["shape_bias_ci_high"]),
                marker="o", capsize=3, label="σ models")
    for _, row in s[~s["model"].astype(str).str.startswith("sigma")].iterrows():
        ax.errorbar([row["sigma"]], [row["shape_bias"]],
                    yerr=_err(pd.Series([row["shape_bias_ci_low"]]), pd.Series([row["shape_bias"]]),
                              pd.Series([row["shape_bias_ci_high"]])),
                    fmt="kD", capsize=3, label=row["model"])
    ax.axhline(0.5, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel("training blur σ (px at 224)")
    ax.set_ylabel("shape bias = shape / (shape + texture) hits")
    ax.set_title("cue-conflict shape bias (95% bootstrap CI)", fontsize=9)
    ax.legend(fontsize=8)
    _save(fig, path, dpi)


def plot_corruption_vs_frev(
    summary: pd.DataFrame, corruption: pd.DataFrame, path: str | os.PathLike, dpi: int = 120, palette: str = "viridis"
) -> None:
    """Mean corruption accuracy vs f_rev per model; per-type accuracy vs f_rev.

    Args:
        summary: ``model sigma f_rev_cpp f_rev_ci_* corruption_acc corruption_acc_ci_*``.
        corruption: ``model corruption severity accuracy``; the ``clean`` row is shown
            separately and the ``mean`` row is ignored (it is ``summary``'s ``corruption_acc``).
    """
    s = _order(summary)
    col = _colours(s, palette)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for _, row in s.iterrows():
        ax.errorbar([row["f_rev_cpp"]], [row["corruption_acc"]],
                    xerr=_err(pd.Series([row["f_rev_ci_low_cpp"]]), pd.Series([row["f_rev_cpp"]]),
                              pd.Series([row["f_rev_ci_high_cpp"]])),
                    yerr=_err(pd.Series([row["corruption_acc_ci_low"]]), pd.Series([row["corruption_acc"]]),
                              pd.Series([row["corruption_acc_ci_high"]])),
                    fmt="o", color=col[row["model"]], capsize=3, label=_label(row))
    ax.set_xlabel("f_rev (cycles/pixel)")
    ax.set_ylabel("mean accuracy over corruptions × severities")
    ax.set_title("corruption robustness vs frequency preference", fontsize=9)
    ax.legend(fontsize=7)
    per_type = (corruption[~corruption["corruption"].isin(SPECIAL_ROWS)]
                .groupby(["model", "corruption"], as_index=False)["accuracy"].mean())
    merged = per_type.merge(s[["model", "f_rev_cpp"]], on="model").sort_values("f_rev_cpp")
    for name, grp in merged.groupby("corruption"):
        ax2.plot(grp["f_rev_cpp"], grp["accuracy"], "o-", ms=4, label=name)
    clean = corruption[corruption["corruption"] == "clean"].merge(s[["model", "f_rev_cpp"]], on="model")
    if not clean.empty:
        clean = clean.sort_values("f_rev_cpp")
        ax2.plot(clean["f_rev_cpp"], clean["accuracy"], "k--", lw=1, label="clean")
    ax2.set_xlabel("f_rev (cycles/pixel)")
    ax2.set_ylabel("accuracy (mean over severities)")
    ax2.set_title("per corruption type", fontsize=9)
    ax2.legend(fontsize=7, ncol=2)
    _save(fig, path, dpi)


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
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 0.5 * len(by_type) + 2.5),
                                  gridspec_kw={"width_ratios": [by_type.shape[1], by_sev.shape[1] + 1]})
    for a, tab, title in ((ax, by_type, "accuracy by corruption (mean over severities)"),
                          (ax2, by_sev, "accuracy by severity (mean over types)")):
        im = a.imshow(tab.to_numpy(dtype=float), vmin=0, vmax=1, cmap="magma", aspect="auto")
        a.set_xticks(range(tab.shape[1]), [str(c) for c in tab.columns], rotation=45, ha="right", fontsize=8)
        a.set_yticks(range(tab.shape[0]), list(tab.index), fontsize=8)
        for i in range(tab.shape[0]):
            for j in range(tab.shape[1]):
                v = tab.iat[i, j]
                if np.isfinite(v):
                    a.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                           color="white" if v < 0.6 else "black")
        a.set_title(title, fontsize=9)
    fig.colorbar(im, ax=[ax, ax2], fraction=0.03, label="accuracy")
    _save(fig, path, dpi)
