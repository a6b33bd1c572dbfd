"""Figures of the training stage: the train σ × test σ accuracy heatmap."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .io import atomic_path  # noqa: E402


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
