"""Section "Statistics": trends over training σ, effect sizes and CIs of the preferred patches.

Also the vocabulary of the statistics tables that the other sections share:
metric names and units, the columns of ``patch_trends`` and ``patch_effects``,
the filter-only references (``ref-sigma<s>``) and how many training runs
(``n_replicates``) stand behind a number (docs/statistics.md). Inputs: ``patch_trends``
(``results/stats/patch_trends.tsv``), ``patch_effects``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    as_float,
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
from .common import Context, diff_interval, first_row, limited_table, not_run, runs_pair

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
# the VITAL feature-analysis report's central claim: these fall with training σ
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


# columns of results/stats/patch_trends.tsv and patch_effects.tsv the sections read (docs/statistics.md)
TREND_COLUMNS = [
    "layer",
    "metric",
    "rho",
    "rho_ci_low",
    "rho_ci_high",
    "p",
    "p_holm",
    "permutation_unit",
    "n_models",
    "n_sigma",
    "n_replicates_min",
    "n_replicates_max",
    "sigma_min",
    "mean_sigma_min",
    "mean_sigma_min_ci_low",
    "mean_sigma_min_ci_high",
    "n_replicates_sigma_min",
    "sigma_max",
    "mean_sigma_max",
    "mean_sigma_max_ci_low",
    "mean_sigma_max_ci_high",
    "n_replicates_sigma_max",
    "n_permutations",
]
EFFECT_COLUMNS = [
    "layer",
    "metric",
    "model",
    "reference",
    "cohens_d",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "paired",
    "n_replicates",
    "n_replicates_reference",
]
# the ids of the filter-only references (the σ 0 network behind the blur of σ s: ref-sigma<s>), as the rules name them
REFERENCE_PREFIX = "ref-"
# what the permutation p of a trend shuffles (column permutation_unit)
PERMUTATION_UNITS = {
    "model": "whole models' σ labels permuted, since independently trained networks share no neurons",
    "unit": "σ permuted within each shared unit, a neuron of fine-tuned models or an image",
}


def is_reference(model: str) -> bool:
    """Whether ``model`` is a filter-only reference (``ref-sigma<s>``)."""
    return str(model).startswith(REFERENCE_PREFIX)


def runs(n: object) -> str:
    """A replicate count for text: ``2`` → "2 training runs", ``1`` → "1 training run", "" when unknown."""
    v = as_float(n)
    if v is None:
        return ""
    return f"{int(v)} training run{'' if int(v) == 1 else 's'}"


def runs_range(low: object, high: object) -> str:
    """The replicate counts over the σ of a trend: "1 training run per σ", "1–2 training runs per σ"."""
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return ""
    if lo == hi:
        return f"{runs(lo)} per σ"
    return f"{int(lo)}–{int(hi)} training runs per σ"


def single_run_caveat(max_replicates: object) -> str:
    """The caveat of docs/statistics.md when no condition has more than one training run ("" otherwise)."""
    v = as_float(max_replicates)
    if v is None or v > 1:
        return ""
    return (
        "Every condition here is one training run: the intervals and p-values describe these networks (their "
        "neurons or images), not the spread between training runs, which only replicates measure "
        "(`training.seeds`)."
    )


def permutation_text(units: Iterable[object]) -> str:
    """What the permutation p of a trend table permutes (its ``permutation_unit`` values)."""
    found = [str(u) for u in dict.fromkeys(units) if str(u) in PERMUTATION_UNITS]
    return "; ".join(PERMUTATION_UNITS[u] for u in found) or "permutation unit not stated"


def trend_scope(trends: pd.DataFrame) -> str:
    """How many models, σ and training runs stand behind a trend table: "5 models at 3 σ, 1–2 training runs per σ"."""
    if trends.empty:
        return ""
    m, s = as_float(trends["n_models"].max()), as_float(trends["n_sigma"].max())
    parts = [f"{int(m)} models" if m is not None else "", f"at {int(s)} σ" if s is not None else ""]
    scope = " ".join(p for p in parts if p)
    rr = runs_range(trends["n_replicates_min"].min(), trends["n_replicates_max"].max())
    return ", ".join(p for p in (scope, rr) if p)


def section(src: Sources, ctx: Context) -> Section:
    """Every metric × layer trend over σ (Holm), the key metrics per layer as headlines, effect sizes
    against σ = 0 and, with filter-only references, what the filter does and what training changed."""
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
    scope, caveat = trend_scope(trends), single_run_caveat(trends["n_replicates_max"].max())
    sec.para(
        f"Bootstrap: {fmt_num(st.get('bootstrap_iterations'))} resamples of neurons with all their patches, and with "
        f"several training runs of one σ the runs resampled first (hierarchical bootstrap); {ci_name(level)} = "
        "percentile interval. Trend: Spearman ρ between training σ and the neuron means of the σ models"
        + (f" ({scope})" if scope else "")
        + f", permutation p ({fmt_num(trends['n_permutations'].max())} permutations; "
        f"{permutation_text(trends['permutation_unit'])}), Holm-adjusted over all {len(trends)} metric × layer "
        f"tests; significance level α = {fmt_num(ctx.alpha)}; the {ci_name(level)} of ρ resamples the models of "
        "each σ, then their neurons. Effect sizes: Cohen's d of the neuron means and the mean difference against "
        "σ = 0 with a bootstrap CI (paired over the same neurons only where the models share them)."
        + (f" {caveat}" if caveat else "")
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
    first = trends.iloc[0]
    lo_head = f"σ = {fmt_num(first['sigma_min'])} ({runs(first['n_replicates_sigma_min'])})"
    hi_head = f"σ = {fmt_num(first['sigma_max'])} ({runs(first['n_replicates_sigma_max'])})"
    for r, v in zip(trends.itertuples(), verdicts):
        rows.append(
            {
                "layer": r.layer,
                "metric": metric_name(r.metric),
                "ρ [CI]": fmt_interval(r.rho, r.rho_ci_low, r.rho_ci_high, 2),
                "p (perm.)": fmt_pval(r.p),
                "p (Holm)": fmt_pval(r.p_holm),
                lo_head: fmt_interval(r.mean_sigma_min, r.mean_sigma_min_ci_low, r.mean_sigma_min_ci_high),
                hi_head: fmt_interval(r.mean_sigma_max, r.mean_sigma_max_ci_low, r.mean_sigma_max_ci_high),
                "verdict": ("falls" if v.direction < 0 else "rises") if v.significant else "not significant",
            }
        )
    sec.add(
        limited_table(
            pd.DataFrame(rows), f"Trends over training σ (bracket: {ci_name(level)}).", src.source(name_t), ctx.max_rows
        )
    )
    if src.has(name_e):
        eff = src.table(name_e, EFFECT_COLUMNS)
        sec.add(_effects_table(eff, ctx, level, src.source(name_e)))
        ref_table = _reference_table(eff, ctx, level, src.source(name_e))
        if ref_table is not None:
            sec.para(
                "Filter-only references (`analysis.own_blur: true`): `ref-sigma<σ>` is the σ = 0 network behind the "
                "blur of σ, never trained for it. The reference against σ = 0 is what the blur filter alone does to "
                "the preferred patches; the trained σ model against its reference is what training with that blur "
                "changed."
            )
            sec.add(ref_table)
    return sec


def pairing_text(paired: object) -> str:
    """``patch_effects.paired`` as words: "same neurons" or "each model its own neurons"."""
    return "same neurons" if str(paired).lower() in ("true", "1", "1.0") else "each model its own neurons"


def _verdict(diff: object, low: object, high: object) -> str:
    """ "lower" / "higher" when the CI excludes 0, else "not significant"."""
    v = judge(diff, None, low, high)
    return ("lower" if v.direction < 0 else "higher") if v.significant else "not significant"


def _effects_table(eff: pd.DataFrame, ctx: Context, level: float, source: str) -> Table:
    """The largest σ and BlurPool against σ = 0: Cohen's d, the difference with its CI, pairing, runs."""
    base, top = f"sigma{ctx.sigmas[0]:g}", f"sigma{ctx.sigmas[-1]:g}"
    keep = eff[eff["model"].isin([top, "blurpool"]) & (eff["reference"] == base)]
    rows = []
    for r in keep.itertuples():
        rows.append(
            {
                "layer": r.layer,
                "metric": metric_name(r.metric),
                "model vs σ = 0": model_label(r.model),
                "Cohen's d": fmt_num(r.cohens_d, 2),
                "Δ (model − σ = 0)": diff_interval(r),
                "neurons": pairing_text(r.paired),
                "training runs (model / σ = 0)": runs_pair(r),
                "verdict": _verdict(r.diff, r.diff_ci_low, r.diff_ci_high),
            }
        )
    return limited_table(
        pd.DataFrame(rows),
        f"Effect sizes of the largest σ and of BlurPool against σ = 0 (bracket: {ci_name(level)} of the difference; "
        "significant = CI excludes 0).",
        source,
        ctx.max_rows,
    )


def _reference_table(eff: pd.DataFrame, ctx: Context, level: float, source: str) -> Table | None:
    """Per layer × key metric × σ with a filter-only reference: reference − σ = 0 (the filter alone) and
    trained − reference (what training changed); None without reference rows."""
    base = f"sigma{ctx.sigmas[0]:g}"
    trained = eff[eff["reference"].map(is_reference) & eff["metric"].isin(KEY_METRICS)]
    if trained.empty:
        return None
    rows = []
    for r in trained.itertuples():
        f = first_row(eff, layer=r.layer, metric=r.metric, model=r.reference, reference=base)
        rows.append(
            {
                "layer": r.layer,
                "metric": metric_name(r.metric),
                "σ": model_label(r.model),
                "filter alone (reference − σ = 0)": diff_interval(f),
                "training (trained − reference)": diff_interval(r),
                "verdict (training)": _verdict(r.diff, r.diff_ci_low, r.diff_ci_high),
                "training runs (trained / reference)": runs_pair(r),
            }
        )
    return limited_table(
        pd.DataFrame(rows),
        f"What the blur filter does and what training changed, key metrics (bracket: {ci_name(level)} of the "
        "difference; significant = CI excludes 0).",
        source,
        ctx.max_rows,
    )
