"""Figures of the training stage: the train σ × test σ accuracy heatmap."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402
from .plot_common import ci_err  # noqa: E402


def model_order(table: pd.DataFrame) -> list[str]:
    """Models sorted by training σ, BlurPool and seed replicates after their σ."""
    first = table.drop_duplicates("model").set_index("model")["train_sigma"]
    return sorted(first.index, key=lambda m: (first[m], m != f"sigma{first[m]:g}", m))


def plot_accuracy_matrix(table: pd.DataFrame, path: str | os.PathLike, plots: dict) -> None:
    """Heatmap of accuracy (rows: model by training σ; columns: test σ), values annotated."""
    plt.rcParams.update({"font.size": plots.get("font_size", 9)})
    wide = table.pivot(index="model", columns="test_sigma", values="accuracy").loc[model_order(table)]
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * wide.shape[1], 1.0 + 0.45 * wide.shape[0]))
    im = ax.imshow(wide.to_numpy(), cmap="magma", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(wide.shape[1]), [f"{c:g}" for c in wide.columns])
    ax.set_yticks(range(wide.shape[0]), wide.index)
    ax.set_xlabel("test blur σ (px at 224)")
    ax.set_ylabel("model (training σ)")
    for (i, j), v in np.ndenumerate(wide.to_numpy()):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", color="white" if v < 0.6 else "black", fontsize=7)
    fig.colorbar(im, ax=ax, label="top-1 accuracy")
    ax.set_title("Accuracy: training σ × test σ")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=plots.get("dpi", 120))
    plt.close(fig)


def plot_stem_hf(summary: pd.DataFrame, path: str | os.PathLike, plots: dict) -> None:
    """HF energy fraction of the stem kernels against training σ: trained models (points with
    95 % CIs over channels; replicates side by side) and their untrained initialisations (open)."""
    plt.rcParams.update({"font.size": plots.get("font_size", 9)})
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for which, style in (("init", dict(mfc="white", color="0.5", label="untrained initialisation")),
                         ("trained", dict(color="C0", label="trained"))):
        rows = summary[summary.weights == which].reset_index(drop=True)
        for i, r in rows.iterrows():
            jitter = 0.1 * int(r.model.split("-seed")[1]) if "-seed" in r.model else 0.0
            x = r.sigma + jitter + (0.12 if r.model == "blurpool" else 0.0)
            ax.errorbar([x], [r["mean"]], yerr=ci_err(r["mean"], r.ci_low, r.ci_high), fmt="o",
                        ms=4, capsize=2, mfc=style.get("mfc"), color=style["color"],
                        label=style["label"] if i == 0 else None)
            if r.model == "blurpool":
                ax.annotate("BlurPool", (x, r["mean"]), xytext=(4, -2), textcoords="offset points", fontsize=7)
    cutoff = summary["hf_cutoff"].iloc[0] if len(summary) else float("nan")
    ax.set_xlabel("training blur σ (px at 224)")
    ax.set_ylabel(f"stem kernel energy > {cutoff:g} cyc/px")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("What training changed in the first-layer filters")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=plots.get("dpi", 120))
    plt.close(fig)
