"""Section "Saliency: naive vs expert": SmoothGrad foci of the σ = 0 and the blur-trained model.

Inputs: ``saliency_stats`` (``results/saliency/stats.tsv``) and the figures
``saliency_overlays``, ``saliency_distances``, ``saliency_activations``.
"""

from __future__ import annotations

import pandas as pd

from ..claims import Claim, capitalize, ci_name, fmt_ci, fmt_interval, fmt_num, fmt_p, fmt_pval, judge
from ..document import Bullets, Section
from ..sources import Sources
from .common import Context, limited_table, stage_table

INPUT = "saliency_stats"
"""The report input (rule output) this section reads; without it the stage did not run."""

# figure input (= caption name), title, in report order
FIGURES = (
    ("saliency_overlays", "SmoothGrad saliency, naive vs expert"),
    ("saliency_distances", "Focus distances against the noise floor"),
    ("saliency_activations", "Activation maps, naive vs expert"),
)

# comparison / metric ids of results/saliency/stats.tsv → their names in the text
SALIENCY_COMPARISONS = {
    "naive_clear_vs_blurred": "input effect on the naive model (clear vs blurred input)",
    "expert_clear_vs_blurred": "input effect on the expert model (clear vs blurred input)",
    "naive_vs_expert_blurred": "classifier effect (naive vs expert, blurred input)",
}


STATS_COLUMNS = ["test", "comparison", "reference", "metric", "mean", "reference_mean", "diff", "diff_ci_low",
                 "diff_ci_high", "p_holm", "n_images"]
"""Columns the section reads from :data:`INPUT`."""
SALIENCY_METRICS = {
    "nn_distance": "nearest-neighbour focus distance",
    "rank_distance": "rank-matched focus distance",
    "iou": "focus IoU",
}


def section(src: Sources, ctx: Context) -> Section:
    """Each focus-distance test against the noise floor and the classifier-vs-input tests, with caveats."""
    sec = Section("saliency", "Saliency: naive vs expert", short="Saliency")
    if (st := stage_table(src, sec, "saliency", INPUT, STATS_COLUMNS)) is None:
        return sec
    sal = ctx.config.get("saliency", {})
    sec.para(
        f"SmoothGrad maps of the naive (σ = 0) and the expert (blur-trained, σ = {fmt_num(sal.get('expert_sigma'))}) "
        "model on clear and blurred inputs (blurred at the expert's σ); focus = "
        f"the top {fmt_num(sal.get('top_k_pixels'))} pixels. Focus distances are ≥ 0, so each is tested against "
        "the noise "
        "floor (the same model and input with two independent SmoothGrad noise seeds), paired over "
        f"{fmt_num(st['n_images'].max())} images (Wilcoxon signed-rank), one-sided in the 'foci differ more' "
        f"direction, Holm-adjusted over the whole table; mean differences with bootstrap {ci_name(0.95)}s. One naive "
        "and one expert network (one training run each): the tests are over images of these two networks and say "
        "nothing about the spread between training runs."
    )
    for fig, title in FIGURES:
        sec.add(src.figure(fig, title, caption=fig))
    claims: list[Claim] = []
    rows = []
    for r in st.itertuples():
        unit = str(getattr(r, "unit", "") or "")
        u = f" {unit}" if unit not in ("", "1", "nan") else ""
        comp = SALIENCY_COMPARISONS.get(r.comparison, r.comparison)
        v = judge(r.diff, r.p_holm, r.diff_ci_low, r.diff_ci_high, alpha=ctx.alpha)
        alt = str(getattr(r, "alternative", "greater"))
        # one-sided tests: "the foci differ more" is the tested direction (larger distance, smaller IoU)
        more = bool(v.significant) and ((v.direction > 0) == (alt != "less"))
        stats = (
            f"{fmt_num(r.mean)} vs {fmt_num(r.reference_mean)}{u}; "
            f"Δ = {fmt_ci(r.diff, r.diff_ci_low, r.diff_ci_high)}; {fmt_p(r.p_holm, 'p (Holm)')}"
        )
        metric = SALIENCY_METRICS.get(r.metric, r.metric.replace("_", " "))
        if r.reference == "noise_floor":
            verdict = (
                "the foci differ more than the noise floor"
                if more
                else "not significantly different from the noise floor"
            )
            text = f"{capitalize(comp)}, {metric}: {verdict} ({stats})."
        else:
            ref = SALIENCY_COMPARISONS.get(r.reference, r.reference)
            verdict = (
                "the classifier effect exceeds the "
                if more
                else "the classifier effect does not significantly exceed the "
            )
            text = f"{capitalize(metric)}: {verdict}{ref} (excess over the noise floor: {stats})."
        claims.append(Claim(text, v))
        rows.append(
            {
                "test": r.test,
                "comparison": r.comparison,
                "reference": r.reference,
                "metric": r.metric,
                "mean": fmt_num(r.mean),
                "reference mean": fmt_num(r.reference_mean),
                "Δ [95 % CI]": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
                "p (Holm)": fmt_pval(r.p_holm),
                "verdict": "differ more" if more else "not significant",
            }
        )
    sec.add(Bullets([c.text for c in claims]))
    sec.para(
        "Before reading the classifier effect as 'the expert attends to other parts of the object', look at the "
        "overlays and at the caveats in `docs/saliency.md` (focus in the image corner of barely trained networks)."
    )
    n_more = sum(1 for r in rows if r["verdict"] == "differ more")
    sec.headlines.append(
        f"{n_more} of {len(rows)} focus-distance tests are significant after Holm adjustment "
        f"(α = {fmt_num(ctx.alpha)})."
    )
    sec.headlines += [
        c.text
        for c, r in zip(claims, st.itertuples())
        if str(r.test).startswith("classifier_vs_input") and r.metric == str(st["metric"].iloc[0])
    ]
    sec.add(
        limited_table(pd.DataFrame(rows), "Focus-distance tests (paired over images).", src.source(INPUT), ctx.max_rows)
    )
    return sec
