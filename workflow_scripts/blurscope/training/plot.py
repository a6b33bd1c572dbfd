"""Figures of the training stage: the train σ × test σ accuracy heatmap."""

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


def model_order(table: pd.DataFrame) -> list[str]:
    """Models sorted by training σ, BlurPool and seed replicates after their σ."""
    first = table.drop_duplicates("model").set_index("model")["train_sigma"]
    return sorted(first.index, key=lambda m: (first[m], pc.model_kind(m) != "trained", pc.model_sort_key(m)))


def plot_accuracy_matrix(table: pd.DataFrame, path: str | os.PathLike, plots: dict) -> None:
    """Heatmap of accuracy (rows: model by training σ; columns: test σ), values annotated.

    ``plots``: config ``plots`` (``dpi``; ``font_size`` and ``palette`` through
    :func:`blurscope.plot_common.configure`)."""
    pc.configure(plots)
    dpi = int(plots.get("dpi", 120))
    wide = table.pivot(index="model", columns="test_sigma", values="accuracy").loc[model_order(table)]
    labels = [textwrap.fill(pc.model_label(m), 24) for m in wide.index]
    width = min(pc.REPORT_WIDTH_IN, 3.2 + 0.75 * wide.shape[1])
    with pc.figure_style(width, dpi) as base:
        row_in = (1 + max(lab.count("\n") for lab in labels)) * 1.35 * base / 72 + 0.04
        fig, ax = plt.subplots(figsize=(width, 1.6 + row_in * wide.shape[0]))
        im = ax.imshow(wide.to_numpy(), cmap="magma", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(wide.shape[1]), [f"{c:g}" for c in wide.columns])
        ax.set_yticks(range(wide.shape[0]), labels)
        ax.set_xlabel("test blur σ (px at 224)")
        ax.set_ylabel("model")
        for (i, j), v in np.ndenumerate(wide.to_numpy()):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black")
        fig.colorbar(im, ax=ax, label="top-1 accuracy")
        ax.set_title("Accuracy: model × test σ")
        pc.save_figure(fig, path, dpi)


def plot_stem_hf(summary: pd.DataFrame, path: str | os.PathLike, plots: dict) -> None:
    """HF energy fraction of the stem kernels against training σ: trained models (points with 95 % CIs over
    channels, in the one figure style: colour = σ, marker = model kind) and their untrained initialisations
    (grey, open)."""
    pc.configure(plots)
    dpi = int(plots.get("dpi", 120))
    colours = pc.sigma_colours(summary["sigma"].astype(float))
    width = 0.7 * pc.REPORT_WIDTH_IN
    kinds: set[str] = set()
    with pc.figure_style(width, dpi):
        fig, ax = plt.subplots(figsize=(width, 4.4))
        init = summary[summary.weights == "init"]
        if len(init):
            pc.plot_vs_sigma(ax, init["model"], init["sigma"], init["mean"], init["ci_low"], init["ci_high"],
                             colours=colours, colour="0.6", line=None, style={"markerfacecolor": "white"})
        trained = summary[summary.weights == "trained"]
        kinds = pc.plot_vs_sigma(ax, trained["model"], trained["sigma"], trained["mean"], trained["ci_low"],
                                 trained["ci_high"], colours=colours)
        cutoff = summary["hf_cutoff"].iloc[0] if len(summary) else float("nan")
        ax.set_xlabel("training blur σ (px at 224)")
        ax.set_ylabel(f"stem kernel energy\n> {cutoff:g} cyc/px")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        init_handle = [(Line2D([], [], color="0.6", marker="o", mfc="white", ls="none"), "untrained initialisation")]
        pc.figure_legend(fig, ncols=2, extra=pc.kind_handles(kinds) + (init_handle if len(init) else []))
        ax.set_title("What training changed in the first-layer filters")
        pc.save_figure(fig, path, dpi)
