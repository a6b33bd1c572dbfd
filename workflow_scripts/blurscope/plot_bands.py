"""Figures of the band intervention (after "Analyzing Spectral Properties of Intermediate CNN
Representations"); matplotlib only, no torch.

* :func:`heatmap_figure`: accuracy or mean GT rank as a layer × band heatmap,
  one panel per model (σ models in σ order, then any others such as
  ``blurpool``), one row of panels per head (``own``, ``mlp``). Bands that hold
  no frequency bin at a layer's map size are hatched and labelled "∅".
* :func:`shift_figure`: the band centroid (score-weighted mean normalised
  radius, see :func:`blurscope.band_stats.band_centroid`) against training σ, one
  line per layer, with bootstrap CIs over images; one panel per head and
  centroid kind. Lower = the usable information sits in lower bands. The rows
  are those against ``bands.reference_model`` (``band_shift.tsv`` also holds each
  trained group against its filter-only reference); a group's training
  replicates are one point; the filter-only references (``ref-sigma<s>``, the σ 0
  network behind the σ-s blur) are open markers beside the trained series.

Inputs are the tables written by the ``band_summary`` rule
(``band_summary.tsv``, ``band_shift.tsv``); column names in ``docs/bands.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blurscope.io import atomic_path  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

HEADS = ("own", "mlp")
REFERENCE_PREFIX = "ref-"
"""Model ids of the filter-only references (rules/common.smk ``REFERENCE_PREFIX``)."""
HEAD_LABEL = {"own": "own head", "mlp": "MLP head (frozen features)"}
METRIC_LABEL = {"accuracy": "accuracy", "gt_rank": "mean GT rank (1 = best)"}


def model_order(summary: pd.DataFrame) -> list[str]:
    """σ models sorted by σ (non-antialiased first), then the rest by name."""
    models = summary[["model", "sigma"]].drop_duplicates()
    if "antialiased" in summary.columns:
        models = summary[["model", "sigma", "antialiased"]].drop_duplicates()
        models = models.sort_values(["antialiased", "sigma", "model"])
    else:
        models = models.sort_values(["sigma", "model"])
    return list(dict.fromkeys(models["model"]))


def _order(values: Sequence[str], preferred: Sequence[str] | None) -> list[str]:
    vals = list(dict.fromkeys(values))
    if not preferred:
        return vals
    return [v for v in preferred if v in vals] + [v for v in vals if v not in preferred]


def heatmap_figure(
    summary: pd.DataFrame,
    metric: str,
    out_path: str | os.PathLike,
    *,
    layers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    dpi: int = 120,
) -> None:
    """Layer × band heatmaps of ``metric`` (``accuracy`` | ``gt_rank``), panels model × head.

    ``summary``: ``band_summary.tsv`` rows (``model sigma layer head band kind
    <metric> n_freqs chance_accuracy chance_gt_rank``); only ``kind == band``
    rows are drawn, the ``unmodified`` control is written in each row label.
    """
    if metric not in METRIC_LABEL:
        raise ValueError(f"metric must be one of {list(METRIC_LABEL)}, got {metric!r}")
    need = {"model", "sigma", "layer", "head", "band", "kind", metric, "n_freqs"}
    missing = need - set(summary.columns)
    if missing:
        raise ValueError(f"band summary lacks columns {sorted(missing)}")
    band_rows = summary[summary["kind"] == "band"]
    models = model_order(summary)
    heads = [h for h in HEADS if h in set(summary["head"])]
    layer_list = _order(band_rows["layer"], layers)
    band_list = _order(band_rows["band"], bands)
    k_chance = summary["chance_gt_rank"].max() if "chance_gt_rank" in summary else np.nan
    if metric == "accuracy":
        vmin, vmax, cmap = 0.0, 1.0, "viridis"
    else:
        vmin, vmax, cmap = 1.0, float(2 * k_chance - 1) if np.isfinite(k_chance) else None, "viridis_r"
    fig, axes = plt.subplots(
        len(heads), len(models), figsize=(1.0 + 2.3 * len(models), 0.8 + 0.45 * len(layer_list) * len(heads) + 0.6),
        squeeze=False, constrained_layout=True,
    )
    im = None
    for hi, head in enumerate(heads):
        for mi, model in enumerate(models):
            ax = axes[hi, mi]
            sub = band_rows[(band_rows["model"] == model) & (band_rows["head"] == head)]
            grid = sub.pivot_table(index="layer", columns="band", values=metric).reindex(
                index=layer_list, columns=band_list
            )
            nf = sub.pivot_table(index="layer", columns="band", values="n_freqs").reindex(
                index=layer_list, columns=band_list
            )
            vals = grid.to_numpy(dtype=float, copy=True)
            vals[nf.to_numpy(dtype=float) == 0] = np.nan  # empty band = the empty-band control
            im = ax.imshow(vals, vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
            for (i, j), v in np.ndenumerate(vals):
                if nf.iat[i, j] == 0:
                    ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", lw=0, color="0.6"))
                    ax.text(j, i, "∅", ha="center", va="center", fontsize=8, color="0.3")
                elif np.isfinite(v):
                    txt = f"{v:.2f}" if metric == "accuracy" else f"{v:.1f}"
                    ax.text(
                        j,
                        i,
                        txt,
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="w" if _dark(v, vmin, vmax, metric) else "k",
                    )
            unmod = summary[(summary["model"] == model) & (summary["head"] == head) & (summary["band"] == "unmodified")]
            ref = unmod.set_index("layer")[metric].reindex(layer_list)
            ax.set_yticks(range(len(layer_list)))
            ax.set_yticklabels(
                [f"{name} ({r:.2f})" if np.isfinite(r) else name for name, r in zip(layer_list, ref)],
                fontsize=7,
            )
            ax.set_xticks(range(len(band_list)))
            ax.set_xticklabels(band_list, rotation=45, ha="right", fontsize=7)
            sig = summary.loc[summary["model"] == model, "sigma"].iloc[0]
            kind = ", filter only" if str(model).startswith(REFERENCE_PREFIX) else ""
            ax.set_title(f"{model} (σ={sig:g}{kind})\n{HEAD_LABEL.get(head, head)}", fontsize=8)
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.8)
        cb.set_label(METRIC_LABEL[metric] + "  (row label: unmodified)", fontsize=8)
        if metric == "accuracy" and "chance_accuracy" in summary:
            cb.ax.axhline(float(summary["chance_accuracy"].max()), color="r", lw=1)
        elif np.isfinite(k_chance):
            cb.ax.axhline(float(k_chance), color="r", lw=1)
    fig.suptitle(
        f"Band isolation inside feature maps: {METRIC_LABEL[metric]} (red tick = chance; ∅ = empty band)", fontsize=9
    )
    _save(fig, out_path, dpi)


def _dark(v: float, vmin: float, vmax: float | None, metric: str) -> bool:
    if vmax is None or not np.isfinite(v):
        return False
    t = (v - vmin) / max(vmax - vmin, 1e-12)
    return t < 0.55 if metric == "accuracy" else t > 0.45


def shift_reference(shift: pd.DataFrame, reference: str | None = None) -> str:
    """The reference group the σ figure draws: ``reference`` (``bands.reference_model``) when given, else the
    one group the table compares with itself (its difference is 0 by construction).

    Raises:
        ValueError: ``reference`` is not a reference of the table, or (without it) no single self-comparison.
    """
    refs = sorted(set(shift["reference"].astype(str)))
    if reference is not None:
        if str(reference) not in refs:
            raise ValueError(f"band shift table has no rows against bands.reference_model {reference!r} "
                             f"(references: {refs})")
        return str(reference)
    own = sorted(set(shift.loc[shift["model"].astype(str) == shift["reference"].astype(str), "reference"].astype(str)))
    if len(own) != 1:
        raise ValueError(f"band shift table: cannot tell the reference model from {refs}; pass bands.reference_model")
    return own[0]


def shift_figure(
    shift: pd.DataFrame,
    out_path: str | os.PathLike,
    *,
    statistics: Sequence[str] = ("centroid_rank", "centroid_acc"),
    layers: Sequence[str] | None = None,
    reference: str | None = None,
    dpi: int = 120,
) -> None:
    """Band centroid vs σ, one line per layer (trained σ groups; their replicates are one point), CI bars;
    filter-only references as open squares at their σ; panels statistic × head.

    ``shift``: ``band_shift.tsv`` (``model sigma layer head statistic value ci_low ci_high reference``);
    only the rows against ``reference`` (``bands.reference_model``; default: :func:`shift_reference`).
    """
    need = {"model", "sigma", "layer", "head", "statistic", "value", "ci_low", "ci_high", "reference"}
    missing = need - set(shift.columns)
    if missing:
        raise ValueError(f"band shift table lacks columns {sorted(missing)}")
    against = shift["reference"].astype(str) == shift_reference(shift, reference)
    sig = shift[shift["statistic"].isin(statistics) & against]
    if "antialiased" in sig.columns:
        sig = sig[~sig["antialiased"].astype(bool)]
    is_ref = sig["model"].astype(str).str.startswith(REFERENCE_PREFIX)
    filt, sig = sig[is_ref], sig[~is_ref]
    heads = [h for h in HEADS if h in set(sig["head"])]
    layer_list = _order(sig["layer"], layers)
    fig, axes = plt.subplots(
        len(statistics),
        max(1, len(heads)),
        figsize=(4.2 * max(1, len(heads)), 3.0 * len(statistics)),
        squeeze=False,
        constrained_layout=True,
    )
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(1, len(layer_list))))
    for si, stat in enumerate(statistics):
        for hi, head in enumerate(heads):
            ax = axes[si, hi]
            for li, layer in enumerate(layer_list):
                d = sig[(sig["statistic"] == stat) & (sig["head"] == head) & (sig["layer"] == layer)].sort_values(
                    "sigma"
                )
                if d.empty:
                    continue
                yerr = ci_err(d["value"], d["ci_low"], d["ci_high"])
                ax.errorbar(
                    d["sigma"], d["value"], yerr=yerr, marker="o", ms=3, capsize=2, color=colors[li], label=layer
                )
                f = filt[(filt["statistic"] == stat) & (filt["head"] == head) & (filt["layer"] == layer)]
                if len(f):
                    ax.errorbar(f["sigma"], f["value"], yerr=ci_err(f["value"], f["ci_low"], f["ci_high"]), marker="s",
                                mfc="none", ms=4, ls="none", capsize=2, color=colors[li],
                                label="filter only (σ 0 net behind the blur)" if li == 0 else None)
            ax.set_xlabel("training blur σ (px at 224)")
            ax.set_ylabel(f"{stat} (normalised radius)")
            ax.set_title(f"{HEAD_LABEL.get(head, head)}: {stat}", fontsize=9)
            top = np.nanmax(pd.concat([sig, filt])["ci_high"].to_numpy(dtype=float), initial=0.0)
            ax.set_ylim(-0.02, max(0.3, 1.15 * top) if np.isfinite(top) else 1.45)
            if si == 0 and hi == 0:
                ax.legend(fontsize=7, title="layer", title_fontsize=7)
    fig.suptitle(
        "Which bands carry class information, by training σ (lower = lower bands; 1 = per-axis Nyquist of the map)",
        fontsize=9,
    )
    _save(fig, out_path, dpi)


def _save(fig: plt.Figure, out_path: str | os.PathLike, dpi: int) -> None:
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
