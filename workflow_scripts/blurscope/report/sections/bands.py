"""Section "Band interventions in feature maps": what one radial frequency band of a layer carries.

Inputs: ``band_summary``, ``findings`` (the band-centroid σ contrast over training runs), optionally
``band_shift``
(``results/bands/``, keys in docs/statistics.md) and the figures
``bands_accuracy``, ``bands_gt_rank``, ``bands_shift``.
"""

from __future__ import annotations

import pandas as pd

from ...model_id import is_reference
from .. import runlevel as rl
from ..claims import (
    Claim,
    Verdict,
    as_float,
    ci_name,
    fmt_ci,
    fmt_interval,
    fmt_num,
    judge,
    layer_label,
    model_label,
    model_sort_key,
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, diff_interval, first_row, limited_table, runs_pair, stage_table

INPUT = "band_summary"
"""The report input (rule output) this section reads; without it the stage did not run."""

LEVEL = 0.95  # the confidence level of the band tables' CIs
SUMMARY_COLUMNS = [
    "model",
    "layer",
    "band",
    "kind",
    "head",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "chance_accuracy",
    "n_freqs",
]
SHIFT_COLUMNS = [
    "model",
    "reference",
    "layer",
    "head",
    "statistic",
    "value",
    "reference_value",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "n_replicates",
    "n_replicates_reference",
]
CENTROIDS = {"centroid_acc": "accuracy centroid", "centroid_rank": "rank centroid"}
# figure input (= caption name), title, in report order
FIGURES = (
    ("bands_accuracy", "Accuracy per layer × band"),
    ("bands_gt_rank", "Ground-truth rank per layer × band"),
    ("bands_shift", "Band centroid against training σ"),
)


def section(src: Sources, ctx: Context) -> Section:
    """Which bands alone are above chance (reference model), the band-centroid trends over σ, the table."""
    sec = Section("bands", "Band interventions in feature maps", short="Band interventions")
    if (summ := stage_table(src, sec, "bands", INPUT, SUMMARY_COLUMNS)) is None:
        return sec
    bcfg = ctx.config.get("bands", {})
    names = [str(b) for b in bcfg.get("names", [])] or list(summ.loc[summ["kind"] == "band", "band"].unique())
    edges = bcfg.get("edges", [])
    band_list = ", ".join(f"{n}: [{fmt_num(a)}, {fmt_num(b)})" for n, a, b in zip(names, edges, edges[1:]))
    sec.para(
        "Each layer's output is Fourier-transformed per image and channel, one radial band is kept "
        + (
            f"({band_list} in normalised radius, 1 = Nyquist of the feature map) "
            if len(edges) == len(names) + 1
            else ""
        )
        + "and the forward pass continues. Heads: `own` = the model's remaining layers; `mlp` = an MLP trained on the "
        f"layer's unmodified features. Accuracy with {ci_name(LEVEL)}s of an image bootstrap; controls: `unmodified`, "
        "`union` (FFT round trip through all bands, must equal unmodified) and `empty` (all-zero map, chance)."
        + _runs_note(summ, bcfg.get("runs"))
    )
    for fig, title in FIGURES:
        sec.add(src.figure(fig, title, caption=fig))
    claims = _reference_claims(summ, str(bcfg.get("reference_model", "sigma0")), ctx)
    claims += [rl.sentence(r, LEVEL, subject=f"{layer_label(r['layer'])}, {r['measure']} of the informative bands")
               for _, r in rl.rows(rl.findings(src), stage="bands").iterrows()]
    sec.add(Bullets([c.text for c in claims]))
    sec.to_appendix(_accuracy_table(summ, names, ctx, src.source(INPUT)))
    if src.has("band_shift"):
        ref_table = _reference_table(src.table("band_shift", SHIFT_COLUMNS), ctx, src.source("band_shift"))
        if ref_table is not None:
            ref_table.caption += (" Filter-only references: `ref-sigma<σ>` is the σ = 0 network behind the blur of σ; "
                                  "paired over the same images, conditional on these networks.")
            sec.to_appendix(ref_table)
    return sec


def _runs_note(summ: pd.DataFrame, runs: object) -> str:
    """Says how many training runs of each condition the band intervention used (``bands.runs``)."""
    if runs is None:
        return ""
    n = int(summ["model"].nunique())
    return (f" An exploratory stage: it ran on the first {int(runs)} training run{'s' if int(runs) != 1 else ''} "
            f"of each condition only (`bands.runs`; {n} models), fewer than the primary family's; its σ contrast "
            "rests on those runs (see the runs column of the findings table).")


def _reference_claims(summ: pd.DataFrame, ref: str, ctx: Context) -> list[Claim]:
    """Per layer and head of the reference model: its unmodified accuracy and the bands above chance alone."""
    claims = []
    for layer in ctx.order_layers(summ["layer"].unique()):
        for head in sorted(summ["head"].unique()):
            s = summ[(summ["layer"] == layer) & (summ["head"] == head) & (summ["model"] == ref)]
            if s.empty:
                continue
            un = first_row(s, band="unmodified")
            bands = s[s["kind"] == "band"]
            above = [
                f"{b.band} ({fmt_interval(b.accuracy, b.accuracy_ci_low, b.accuracy_ci_high)})"
                for b in bands.itertuples()
                if judge(
                    b.accuracy, None, b.accuracy_ci_low, b.accuracy_ci_high, null=float(b.chance_accuracy)
                ).significant
                and float(b.accuracy) > float(b.chance_accuracy)
            ]
            chance = float(s["chance_accuracy"].iloc[0])
            unmodified = "n/a"
            if un is not None:
                unmodified = fmt_ci(un["accuracy"], un["accuracy_ci_low"], un["accuracy_ci_high"], LEVEL)
            text = (
                f"{model_label(ref)}, {layer_label(layer)}, {head} head: unmodified accuracy {unmodified}; "
                + (
                    f"bands above chance ({fmt_num(chance)}) on their own: {', '.join(above)}."
                    if above
                    else f"no single band is above chance ({fmt_num(chance)}) on its own."
                )
            )
            claims.append(Claim(text, Verdict(bool(above), 0)))
    return claims


def _accuracy_table(summ: pd.DataFrame, names: list[str], ctx: Context, source: str) -> Table:
    """Accuracy with one band kept, one row per model × layer × head (∅: the band holds no frequency)."""
    rows = []
    b = summ[summ["kind"].isin(["band"]) | (summ["band"] == "unmodified")]
    for (model, layer, head), g in b.groupby(["model", "layer", "head"], sort=False):
        row = {"model": model, "layer": layer, "head": head}
        for band in ["unmodified", *names]:
            x = first_row(g, band=band)
            row[band] = (
                "∅"
                if x is not None and band != "unmodified" and as_float(x["n_freqs"]) == 0
                else (
                    fmt_interval(x["accuracy"], x["accuracy_ci_low"], x["accuracy_ci_high"]) if x is not None else "n/a"
                )
            )
        rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df = df.assign(
            _k=df["model"].map(model_sort_key),
            _l=df["layer"].map(lambda x: ctx.order_layers(summ["layer"].unique()).index(x)),
        )
        df = df.sort_values(["_l", "head", "_k"]).drop(columns=["_k", "_l"])
    return limited_table(
        df,
        f"Accuracy with one band kept (bracket: {ci_name(LEVEL)}; ∅ = the band holds no frequency at this map size).",
        source,
        ctx.max_rows,
    )


def _reference_table(shift: pd.DataFrame, ctx: Context, source: str) -> Table | None:
    """Per layer × head × centroid × σ with a filter-only reference: reference − σ = 0 (what the filter alone does)
    and trained − reference (what training changed); None without reference rows."""
    base = str(ctx.config.get("bands", {}).get("reference_model", "sigma0"))
    cen = shift[shift["statistic"].isin(list(CENTROIDS))]
    trained = cen[cen["reference"].map(is_reference) & (cen["model"] != cen["reference"])]
    if trained.empty:
        return None
    rows = []
    for r in trained.itertuples():
        f = first_row(cen, model=r.reference, reference=base, layer=r.layer, head=r.head, statistic=r.statistic)
        rows.append(
            {
                "layer": r.layer,
                "head": r.head,
                "centroid": CENTROIDS[r.statistic],
                "σ": model_label(r.model),
                model_label(base): fmt_num(f["reference_value"]) if f is not None else "n/a",
                "filter-only reference": fmt_num(r.reference_value),
                "trained": fmt_num(r.value),
                f"filter alone: reference − {model_label(base)}": diff_interval(f),
                "training: trained − reference": diff_interval(r),
                "training runs (trained / reference)": runs_pair(r),
            }
        )
    return limited_table(
        pd.DataFrame(rows),
        f"Band centroids (normalised radius): what the blur filter does and what training changed (bracket: "
        f"{ci_name(LEVEL)} of the paired difference over images).",
        source,
        ctx.max_rows,
    )
