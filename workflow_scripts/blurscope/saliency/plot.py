"""Figures of the SmoothGrad analysis of naive vs expert models (after Sun, Chen & Hu, "CNN Fine-tuned on
Blurry Images Captures Blur Structure"): overlays, activation maps, distances.

Every function returns a matplotlib ``Figure`` (Agg backend, nothing shown);
the rule script saves it through :func:`blurscope.io.atomic_path`. Inputs are
the arrays written by ``workflow_scripts/smoothgrad.py`` (see
``docs/saliency.md``); images are float ``[N,H,W,3]`` in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402
from blurscope.saliency.smoothgrad import COMPARISONS, CONDITIONS, METRICS, ROLES  # noqa: E402


def _label(role: str, cond: str, model_ids: dict[str, str] | None) -> str:
    mid = f"\n({pc.model_label(model_ids[role])})" if model_ids and role in model_ids else ""
    return f"{role}{mid}\n{cond} input"


def saliency_overlays(
    clear: np.ndarray,
    blurred: np.ndarray,
    maps: np.ndarray,
    focus: np.ndarray,
    titles: Sequence[str] | None = None,
    model_ids: dict[str, str] | None = None,
    alpha: float = 0.6,
    dpi: int = 120,
) -> Figure:
    """Saliency heat maps over the input each model saw, focus pixels marked.

    Args:
        clear, blurred: ``[F,H,W,3]`` inputs in [0,1] (blurred = at the expert's σ).
        maps: ``[2 roles, 2 conditions, F, H, W]`` saliency maps (one noise seed).
        focus: ``[2, 2, F, k, 2]`` focus pixels (row, col) of those maps.
        titles: one row label per image (e.g. class name).

    Rows = images; columns = naive clear, naive blurred, expert clear, expert
    blurred. Each map is scaled to its own maximum (focus is rank-based, so
    only the shape of a map matters); cyan circles = the top-k focus pixels.
    """
    n = clear.shape[0]
    if maps.shape[:3] != (len(ROLES), len(CONDITIONS), n) or focus.shape[:3] != (len(ROLES), len(CONDITIONS), n):
        raise ValueError(f"maps {maps.shape} / focus {focus.shape} do not match [2, 2, {n}, ...]")
    cols = [(r, c) for r in range(len(ROLES)) for c in range(len(CONDITIONS))]
    width = 0.8 * pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi) as base:
        label_in = 0.0 if titles is None else max(len(t) for t in titles) * 0.6 * base / 72 + 0.3
        panel = (width - label_in - 0.2) / len(cols)
        head_in = 7.5 * base / 72
        fig, axes = plt.subplots(n, len(cols), figsize=(width, panel * n + head_in), squeeze=False)
        for i in range(n):
            for j, (r, c) in enumerate(cols):
                ax = axes[i, j]
                img = (clear if CONDITIONS[c] == "clear" else blurred)[i]
                ax.imshow(np.clip(img, 0, 1).mean(-1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                m = maps[r, c, i]
                ax.imshow(m / (m.max() or 1.0), cmap="inferno", alpha=alpha, vmin=0, vmax=1, interpolation="nearest")
                f = focus[r, c, i]
                ax.scatter(f[:, 1], f[:, 0], s=9, facecolors="none", edgecolors="cyan", linewidths=0.7)
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(_label(ROLES[r], CONDITIONS[c], model_ids), fontsize=base)
                if j == 0 and titles is not None:
                    ax.set_ylabel(titles[i], rotation=0, ha="right", va="center")
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        fig.suptitle("SmoothGrad saliency (max |grad| over channels);\ncyan: top-k focus pixels")
        return pc.finish(fig)


def activation_figure(
    clear: np.ndarray,
    blurred: np.ndarray,
    layers: Sequence[str],
    means: Sequence[np.ndarray],
    channels: Sequence[np.ndarray],
    channel_index: Sequence[np.ndarray],
    model_ids: dict[str, str] | None = None,
    dpi: int = 120,
) -> Figure:
    """Conv-layer activation maps, naive vs expert, on clear and blurred inputs.

    Args:
        clear, blurred: ``[A,H,W,3]`` inputs in [0,1].
        layers: layer names (relative to the backbone).
        means: per layer ``[2 roles, 2 conditions, A, h, w]`` channel-mean activation.
        channels: per layer ``[2, 2, A, c, h, w]`` selected channels' activation.
        channel_index: per layer ``[c]`` the selected channel numbers.

    Rows = image × (role, condition); columns = the input, then per layer the
    channel mean and the selected channels. Every column of one image shares
    one colour scale across the four role/condition rows, so naive and expert
    are directly comparable (same channel = same neuron: the expert is
    fine-tuned from the naive model).
    """
    a = clear.shape[0]
    combos = [(r, c) for r in range(len(ROLES)) for c in range(len(CONDITIONS))]
    col_spec: list[tuple[int, int | None]] = []  # (layer, channel slot or None for mean)
    for li in range(len(layers)):
        col_spec.append((li, None))
        col_spec.extend((li, s) for s in range(channels[li].shape[3]))
    n_rows, n_cols = a * len(combos), 1 + len(col_spec)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi) as base:
        label_in = 8 * 0.6 * base / 72 + 0.2
        panel = (width - label_in - 0.2) / n_cols
        head_in = 8.0 * base / 72
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(width, panel * n_rows + head_in), squeeze=False)
        for i in range(a):
            for k, (r, c) in enumerate(combos):
                row = i * len(combos) + k
                ax = axes[row, 0]
                ax.imshow(np.clip((clear if CONDITIONS[c] == "clear" else blurred)[i], 0, 1), interpolation="nearest")
                ax.set_ylabel(f"img {i}\n{ROLES[r]}\n{CONDITIONS[c]}", rotation=0, ha="right", va="center")
                for j, (li, slot) in enumerate(col_spec, start=1):
                    block = means[li][:, :, i] if slot is None else channels[li][:, :, i, slot]
                    vmax = float(block.max()) or 1.0
                    vmin = min(0.0, float(block.min()))
                    axes[row, j].imshow(block[r, c], cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
                    if row == 0:
                        name = "mean" if slot is None else f"ch {int(channel_index[li][slot])}"
                        axes[row, j].set_title(f"{layers[li]}\n{name}", fontsize=base)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
        ids = (f": naive {pc.model_label(model_ids['naive'])}, expert {pc.model_label(model_ids['expert'])}"
               if model_ids else "")
        fig.suptitle(f"Activation maps{ids}\n(shared colour scale per image and column)")
        return pc.finish(fig)


def distance_figure(per_image: pd.DataFrame, stats: pd.DataFrame, dpi: int = 120) -> Figure:
    """Per-image comparison value vs its noise floor, one panel per metric.

    ``stats``: the ``saliency/stats.tsv`` rows (``test comparison metric mean
    reference_mean diff_ci_low diff_ci_high p_holm``). Each image is a grey line
    from its noise floor (left point) to the comparison's value (right point);
    black = mean with the bootstrap 95 % CI of the mean difference drawn around
    the mean value; above each pair, the Holm-adjusted p of the one-sided Wilcoxon
    test against the floor.
    """
    need = {"test", "comparison", "metric", "mean", "reference_mean", "diff_ci_low", "diff_ci_high", "p_holm"}
    missing = need - set(stats.columns)
    if missing:
        raise ValueError(f"saliency stats table lacks columns {sorted(missing)}")
    metrics = list(METRICS)
    width = pc.REPORT_WIDTH_IN
    floor_stats = stats[stats.test == "vs_noise_floor"].set_index(["comparison", "metric"])
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(1, len(metrics), figsize=(width, 4.6), squeeze=False)
        for ax, metric in zip(axes[0], metrics):
            for j, comp in enumerate(COMPARISONS):
                sel = per_image[(per_image.comparison == comp) & (per_image.metric == metric)]
                x0, x1 = 3 * j, 3 * j + 1
                for f, v in zip(sel.noise_floor, sel.value):
                    ax.plot([x0, x1], [f, v], color="0.7", lw=0.6, marker="o", ms=2)
                if (comp, metric) in floor_stats.index:
                    s = floor_stats.loc[(comp, metric)]
                    ax.plot([x0, x1], [s.reference_mean, s["mean"]], color="k", lw=1.5, marker="s", ms=4)
                    lo = s.reference_mean + s.diff_ci_low
                    hi = s.reference_mean + s.diff_ci_high
                    ax.errorbar([x1], [s["mean"]], yerr=ci_err(s["mean"], lo, hi), color="k", capsize=3)
                    ax.annotate(f"Holm p\n{s.p_holm:.2g}", xy=(x0 + 0.5, 1.0), xycoords=("data", "axes fraction"),
                                xytext=(0, 3), textcoords="offset points", ha="center", va="bottom")
            ax.set_xticks([t for j in range(len(COMPARISONS)) for t in (3 * j, 3 * j + 1)])
            ax.set_xticklabels([lab for comp in COMPARISONS for lab in ("floor", comp.replace("_", "\n"))])
            unit = METRICS[metric]["unit"]
            ax.set_ylabel(f"{metric} ({unit})" if unit != "1" else metric)
            ax.set_title(metric, pad=6 + 2.6 * plt.rcParams["font.size"])  # above the two-line p labels
        fig.suptitle("Focus distances vs the SmoothGrad noise floor (paired per image)")
        return pc.finish(fig)
