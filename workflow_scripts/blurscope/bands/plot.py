"""Figures of the band intervention (after "Analyzing Spectral Properties of Intermediate CNN
Representations"); matplotlib only, no torch.

* :func:`band_sigma_figure`: accuracy or mean GT rank with one band of a layer's feature map kept,
  against training σ: one panel per layer and head (``own``, ``mlp``), one colour per band (black: the
  unmodified map), one marker per model kind (:data:`blurscope.plot_common.KIND_STYLE`): σ models and
  their further training runs on a solid line through the mean of each σ, the filter-only references
  (``ref-sigma<s>``, the σ 0 network behind the σ-s blur) open squares on a dotted line, BlurPool a
  diamond beside its σ. Chance is the grey dotted line; a band that holds no frequency bin at a
  layer's map size is left out and named in the panel title.
* :func:`shift_figure`: the band centroid (score-weighted mean normalised
  radius, see :func:`blurscope.bands.stats.band_centroid`) against training σ, one
  line per layer, with bootstrap CIs over images; one panel per head and
  centroid kind. Lower = the usable information sits in lower bands. The rows
  are those against ``bands.reference_model`` (``band_shift.tsv`` also holds each
  trained group against its filter-only reference); a group's training
  replicates are one point; the filter-only references are open squares beside the trained series.

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
from matplotlib.lines import Line2D  # noqa: E402

from blurscope import plot_common as pc  # noqa: E402
from blurscope.model_id import is_reference  # noqa: E402
from blurscope.plot_common import ci_err  # noqa: E402

HEADS = ("own", "mlp")
HEAD_LABEL = {"own": "own head", "mlp": "MLP head (frozen features)"}
METRIC_LABEL = {"accuracy": "accuracy", "gt_rank": "mean GT rank (1 = best)"}


def _order(values: Sequence[str], preferred: Sequence[str] | None) -> list[str]:
    vals = list(dict.fromkeys(values))
    if not preferred:
        return vals
    return [v for v in preferred if v in vals] + [v for v in vals if v not in preferred]


def band_sigma_figure(
    summary: pd.DataFrame,
    metric: str,
    out_path: str | os.PathLike,
    *,
    layers: Sequence[str] | None = None,
    bands: Sequence[str] | None = None,
    dpi: int = 120,
) -> None:
    """``metric`` (``accuracy`` | ``gt_rank``) with one band kept against training σ; panels head × layer.

    ``summary``: ``band_summary.tsv`` rows (``model sigma layer head band kind <metric> n_freqs``, optional
    ``antialiased chance_accuracy chance_gt_rank``); the ``kind == band`` rows and the ``unmodified``
    control are drawn.
    """
    if metric not in METRIC_LABEL:
        raise ValueError(f"metric must be one of {list(METRIC_LABEL)}, got {metric!r}")
    need = {"model", "sigma", "layer", "head", "band", "kind", metric, "n_freqs"}
    missing = need - set(summary.columns)
    if missing:
        raise ValueError(f"band summary lacks columns {sorted(missing)}")
    band_rows = summary[summary["kind"] == "band"]
    heads = [h for h in HEADS if h in set(summary["head"])] + sorted(set(summary["head"]) - set(HEADS))
    layer_list = _order(band_rows["layer"], layers)
    band_list = _order(band_rows["band"], bands)
    series = band_list + (["unmodified"] if (summary["band"] == "unmodified").any() else [])
    colour = dict(zip(band_list, pc.category_colours(len(band_list)))) | {"unmodified": "black"}
    chance = summary[f"chance_{metric}"].max() if f"chance_{metric}" in summary else np.nan
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(len(heads), len(layer_list), figsize=(width, 2.9 * len(heads) + 1.5),
                                 squeeze=False, sharex=True, sharey=True)
        for hi, head in enumerate(heads):
            for li, layer in enumerate(layer_list):
                ax = axes[hi, li]
                sub = summary[(summary["head"] == head) & (summary["layer"] == layer)]
                empty = []
                for band in series:
                    d = sub[sub["band"] == band]
                    if band != "unmodified" and (d.empty or (d["n_freqs"] == 0).all()):
                        empty.append(band)
                        continue
                    d = d[d["n_freqs"] > 0]
                    pc.plot_vs_sigma(ax, d["model"], d["sigma"], d[metric], colours={}, colour=colour[band],
                                     line=colour[band])
                if np.isfinite(chance):
                    ax.axhline(float(chance), color="0.5", ls=":", lw=1, zorder=1)
                title = f"{layer}, {HEAD_LABEL.get(head, head)}"
                ax.set_title(title + (f"\n(no frequency bin: {', '.join(empty)})" if empty else ""))
                ax.grid(alpha=0.3)
                if hi == len(heads) - 1:
                    ax.set_xlabel("training blur σ (px at 224)")
                if li == 0:
                    ax.set_ylabel(METRIC_LABEL[metric])
        used = {pc.model_kind(m) for m in summary["model"].unique()}
        band_handles = [(Line2D([], [], color=colour[b], lw=1.6), "all bands (unmodified)" if b == "unmodified"
                         else f"band {b}") for b in series]
        chance_handle = [(Line2D([], [], color="0.5", ls=":"), "chance")] if np.isfinite(chance) else []
        pc.figure_legend(fig, [], ncols=3, extra=band_handles + chance_handle + pc.kind_handles(used))
        fig.suptitle(f"Band isolation inside feature maps: {METRIC_LABEL[metric]} with one band kept")
        pc.save_figure(fig, out_path, dpi)


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
    """Band centroid vs σ, one colour per layer (trained σ groups on a solid line, their replicates are one
    point), CI bars; filter-only references as open squares on a dotted line at their σ; panels
    statistic × head.

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
    is_ref = sig["model"].map(is_reference).astype(bool)
    filt, sig = sig[is_ref], sig[~is_ref]
    heads = [h for h in HEADS if h in set(sig["head"])]
    layer_list = _order(sig["layer"], layers)
    colours = dict(zip(layer_list, pc.category_colours(len(layer_list))))
    top = np.nanmax(pd.concat([sig, filt])["ci_high"].to_numpy(dtype=float), initial=0.0)
    width = pc.REPORT_WIDTH_IN
    with pc.figure_style(width, dpi):
        fig, axes = plt.subplots(len(statistics), max(1, len(heads)), figsize=(width, 2.9 * len(statistics) + 1.3),
                                 squeeze=False, sharex=True)
        for si, stat in enumerate(statistics):
            for hi, head in enumerate(heads):
                ax = axes[si, hi]
                for layer in layer_list:
                    sel = (sig["statistic"] == stat) & (sig["head"] == head) & (sig["layer"] == layer)
                    d = sig[sel].sort_values("sigma")
                    if d.empty:
                        continue
                    ax.errorbar(d["sigma"], d["value"], yerr=ci_err(d["value"], d["ci_low"], d["ci_high"]),
                                capsize=2, label=layer, **{**pc.KIND_STYLE["trained"], "color": colours[layer]})
                    f = filt[(filt["statistic"] == stat) & (filt["head"] == head) & (filt["layer"] == layer)]
                    if len(f):
                        f = f.sort_values("sigma")
                        ax.errorbar(f["sigma"] + pc.kind_offsets(shift["sigma"])["reference"], f["value"], capsize=2,
                                    yerr=ci_err(f["value"], f["ci_low"], f["ci_high"]),
                                    **{**pc.KIND_STYLE["reference"], "color": colours[layer]})
                if si == len(statistics) - 1:
                    ax.set_xlabel("training blur σ (px at 224)")
                ax.set_ylabel(f"{stat}\n(normalised radius)")
                ax.set_title(f"{HEAD_LABEL.get(head, head)}: {stat}")
                ax.set_ylim(-0.02, max(0.3, 1.15 * top) if np.isfinite(top) else 1.45)
                ax.grid(alpha=0.3)
        kinds = {"trained"} | ({"reference"} if len(filt) else set())
        pc.figure_legend(fig, ncols=4, extra=pc.kind_handles(kinds))
        fig.suptitle("Which bands carry class information, by training σ\n"
                     "(lower = lower bands; 1 = per-axis Nyquist of the map)")
        pc.save_figure(fig, out_path, dpi)
