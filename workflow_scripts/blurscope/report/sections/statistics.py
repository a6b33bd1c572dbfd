"""Section "Statistics": trends over training σ, effect sizes and CIs of the preferred patches.

Also the vocabulary of the patch statistics tables (metric names and units,
the columns of ``patch_trends`` and ``patch_effects``) that the spectra and
complexity sections share. Inputs: ``patch_trends``
(``results/stats/patch_trends.tsv``), ``patch_effects``.
"""

from __future__ import annotations

import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    ci_name,
    compact_trend,
    fmt_interval,
    fmt_num,
    fmt_pval,
    judge,
    layer_label,
    model_label,
)
from ..document import Section, Table
from ..sources import Sources
from .common import Context, first_row, limit_rows, not_run

PATCH_METRICS: dict[str, tuple[str, str]] = {
    # metric: (readable name, unit)
    "hf_fraction": ("high-frequency (HF) power fraction", "1"),
    "compression_ratio": ("JPEG compression ratio", "1"),
    "entropy": ("grey-level entropy", "bits"),
    "edge_density": ("edge density", "1"),
    "edge_strength": ("mean edge strength", "Sobel grey levels"),
    "wavelet_detail": ("wavelet detail-energy fraction (H+V+D)", "1"),
    "wavelet_approx": ("wavelet approximation-energy fraction", "1"),
    "wavelet_h": ("wavelet horizontal-detail fraction", "1"),
    "wavelet_v": ("wavelet vertical-detail fraction", "1"),
    "wavelet_d": ("wavelet diagonal-detail fraction", "1"),
    "wavelet_energy": ("total wavelet energy", "grey levels² per pixel"),
}
# the seeds' central claim: these fall with training σ
KEY_METRICS = ["hf_fraction", "edge_density", "entropy"]
COMPLEXITY_TEXT_METRICS = [
    "compression_ratio",
    "entropy",
    "edge_density",
    "edge_strength",
    "wavelet_detail",
    "wavelet_energy",
]


def metric_name(metric: str) -> str:
    """Readable name of a patch metric ("edge_density" → "edge density")."""
    return PATCH_METRICS.get(metric, (metric.replace("_", " "), ""))[0]


def metric_unit(metric: str) -> str:
    """Unit of a patch metric ("1" for fractions and ratios, "" when unknown)."""
    return PATCH_METRICS.get(metric, ("", ""))[1]


# columns of results/stats/patch_trends.tsv and patch_effects.tsv the sections read
TREND_COLUMNS = [
    "layer",
    "metric",
    "rho",
    "p_perm",
    "p_holm",
    "sigma_min",
    "mean_sigma_min",
    "ci_sigma_min_low",
    "ci_sigma_min_high",
    "sigma_max",
    "mean_sigma_max",
    "ci_sigma_max_low",
    "ci_sigma_max_high",
]
EFFECT_COLUMNS = ["layer", "metric", "model", "cohens_d", "diff", "diff_ci_low", "diff_ci_high"]


def section(src: Sources, ctx: Context) -> Section:
    """Every metric × layer trend over σ (Holm), the key metrics per layer as headlines, effect sizes."""
    sec = Section("statistics", "Statistics: trends, effect sizes and confidence intervals", short="Preferred patches")
    name_t, name_e = "patch_trends", "patch_effects"
    if not src.has(name_t):
        return not_run(sec, "spectra", name_t)
    trends = src.table(name_t, TREND_COLUMNS)
    level = ctx.level("stats")
    st = ctx.config.get("stats", {})
    verdicts = [judge(r.rho, r.p_holm, alpha=ctx.alpha) for r in trends.itertuples()]
    n_sig = sum(1 for v in verdicts if v.significant)
    falls = [
        f"{metric_name(r.metric)} ({r.layer})"
        for r, v in zip(trends.itertuples(), verdicts)
        if v.significant and v.direction < 0
    ]
    rises = [
        f"{metric_name(r.metric)} ({r.layer})"
        for r, v in zip(trends.itertuples(), verdicts)
        if v.significant and v.direction > 0
    ]
    sec.para(
        f"Bootstrap: neuron-level ({fmt_num(st.get('bootstrap_iterations'))} resamples of neurons with all their "
        f"patches, {ci_name(level)} = percentile interval). Trend: Spearman ρ between training σ and the neuron means "
        f"of the σ models, permutation p ({fmt_num(st.get('n_permutations'))} permutations of σ within neurons), "
        f"Holm-adjusted over all {len(trends)} metric × layer tests; significance level α = {fmt_num(ctx.alpha)}. "
        "Effect sizes: Cohen's d of the neuron means and the mean paired difference (same neurons) against σ = 0 with "
        "a bootstrap CI."
    )
    summary = Claim(
        f"{n_sig} of {len(trends)} metric × layer trends over training σ are significant after Holm adjustment "
        f"(α = {fmt_num(ctx.alpha)})"
        + (f"; falling: {', '.join(falls)}" if falls else "")
        + (f"; rising: {', '.join(rises)}" if rises else "")
        + ".",
        Verdict(n_sig > 0, 0, False, "p"),
    )
    sec.para(summary.text)
    for layer in ctx.order_layers(trends["layer"].unique()):
        parts = []
        for metric in KEY_METRICS:
            r = first_row(trends, layer=layer, metric=metric)
            if r is not None:
                parts.append(
                    compact_trend(metric_name(metric), r["rho"], r["p_holm"], alpha=ctx.alpha, p_label="Holm p")
                )
        if parts:
            sec.headlines.append(f"Preferred patches in {layer_label(layer)}, against training σ: {'; '.join(parts)}.")
    sec.headlines.append(summary.text)
    rows = []
    for r, v in zip(trends.itertuples(), verdicts):
        rows.append(
            {
                "layer": r.layer,
                "metric": metric_name(r.metric),
                "ρ": fmt_num(r.rho, 2),
                "p (perm.)": fmt_pval(r.p_perm),
                "p (Holm)": fmt_pval(r.p_holm),
                f"σ = {fmt_num(r.sigma_min)}": fmt_interval(r.mean_sigma_min, r.ci_sigma_min_low, r.ci_sigma_min_high),
                f"σ = {fmt_num(r.sigma_max)}": fmt_interval(r.mean_sigma_max, r.ci_sigma_max_low, r.ci_sigma_max_high),
                "verdict": ("falls" if v.direction < 0 else "rises") if v.significant else "not significant",
            }
        )
    df, note = limit_rows(pd.DataFrame(rows), ctx.max_rows)
    sec.add(Table(df, f"Trends over training σ (bracket: {ci_name(level)}).", src.source(name_t), note))
    if src.has(name_e):
        eff = src.table(name_e, EFFECT_COLUMNS)
        top = f"sigma{ctx.sigmas[-1]:g}"
        keep = eff[eff["model"].isin([top, "blurpool"])]
        rows = []
        for r in keep.itertuples():
            v = judge(r.diff, None, r.diff_ci_low, r.diff_ci_high)
            rows.append(
                {
                    "layer": r.layer,
                    "metric": metric_name(r.metric),
                    "model vs σ = 0": model_label(r.model),
                    "Cohen's d": fmt_num(r.cohens_d, 2),
                    "Δ (model − σ = 0)": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
                    "verdict": ("lower" if v.direction < 0 else "higher") if v.significant else "not significant",
                }
            )
        df, note = limit_rows(pd.DataFrame(rows), ctx.max_rows)
        sec.add(
            Table(
                df,
                f"Effect sizes of the largest σ and of BlurPool against σ = 0 (same neurons; bracket: "
                f"{ci_name(level)} of the paired difference; significant = CI excludes 0).",
                src.source(name_e),
                note,
            )
        )
    return sec
