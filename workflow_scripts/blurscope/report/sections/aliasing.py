"""Section "Aliasing and shift stability": AVR at every downsampling point, SIS, BlurPool's effect,
and what the blur filter alone does against what training changed (filter-only references).

Inputs: ``aliasing_summary``, ``aliasing_paired``, ``aliasing_sigma_trend``,
``aliasing_correlation`` (``results/aliasing/stats/``, keys in docs/statistics.md),
``aliasing_timing`` and the figures ``aliasing_layers``, ``aliasing_sis_sigma``,
``aliasing_avr_sis``, ``aliasing_sweep``.
"""

from __future__ import annotations

import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    as_float,
    ci_name,
    fmt_ci,
    fmt_interval,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_pval,
    judge,
    model_label,
    trend_sentence,
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, diff_interval, difference_claim, first_row, limited_table, not_run
from .statistics import is_reference, runs, runs_range, single_run_caveat

LEVEL = 0.95  # the confidence level of the aliasing tables' CIs
SUMMARY_COLUMNS = ["model", "group", "point", "metric", "mean", "ci_low", "ci_high", "n_images"]
PAIRED_COLUMNS = [
    "model",
    "reference",
    "point",
    "metric",
    "reference_mean",
    "mean",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "rel_change",
    "p_holm",
    "n_images",
    "n_replicates",
    "n_replicates_reference",
]
TREND_COLUMNS = [
    "point",
    "metric",
    "rho",
    "rho_ci_low",
    "rho_ci_high",
    "p_holm",
    "n_models",
    "n_sigma",
    "n_replicates_min",
    "n_replicates_max",
    "mean_sigma_min",
    "mean_sigma_max",
    "n_replicates_sigma_min",
    "n_replicates_sigma_max",
]
CORRELATION_COLUMNS = [
    "model",
    "point",
    "region",
    "pearson_r",
    "pearson_r_ci_low",
    "pearson_r_ci_high",
    "pearson_p_holm",
    "n_images",
]
TIMING_COLUMNS = ["model", "forward_ms_per_image", "forward_ratio_to_reference", "device"]
# the output measures (point "output") → their names in the text
OUTPUT_METRICS = {"sis": "shift instability (SIS)", "consistency": "shift consistency", "correct": "accuracy"}
# figure input (= caption name), title, in report order
FIGURES = (
    ("aliasing_layers", "AVR at every downsampling point"),
    ("aliasing_sis_sigma", "Shift instability against training σ"),
    ("aliasing_avr_sis", "AVR against SIS per image"),
    ("aliasing_sweep", "Frequency sweep with sinusoids"),
)


def section(src: Sources, ctx: Context) -> Section:
    """BlurPool vs the standard model (SIS, consistency, AVR per point), the SIS and AVR trends over σ,
    trained models against their filter-only references, AVR–SIS correlations and BlurPool's cost."""
    sec = Section("aliasing", "Aliasing and shift stability")
    name_s, name_p = "aliasing_summary", "aliasing_paired"
    if not src.has(name_s):
        return not_run(sec, "aliasing", name_s)
    summ = src.table(name_s, SUMMARY_COLUMNS)
    paired = src.table(name_p, PAIRED_COLUMNS)
    std_model = str(ctx.config.get("aliasing", {}).get("standard_model", "sigma0"))
    std = _group_of(summ, std_model)
    n_images = as_float(summ["n_images"].max())
    caveat = single_run_caveat(paired[["n_replicates", "n_replicates_reference"]].max().max() if len(paired) else None)
    sec.para(
        "AVR (alias violation ratio) = the share of a feature map's power that 2× subsampling folds back, measured at "
        "the input of every stride > 1 operation (radial region: normalised radius > 1/stride; separable region: "
        "max(|fx|, |fy|) > 1/stride). SIS (shift instability) = mean over the four one-pixel circular shifts of "
        "1 − cos(softmax(original), softmax(shifted)); consistency = the share of shifts that keep the top-1 class. "
        f"Intervals: {ci_name(LEVEL)}s of an image bootstrap"
        + (f" ({fmt_num(n_images)} images)" if n_images is not None else "")
        + f"; paired tests against the standard model ({model_label(std)}): Wilcoxon signed-rank over images, "
        "Holm-adjusted within each model × reference; the p-values are over images, conditional on the models. "
        + (
            caveat
            if caveat
            else "A model with several training runs enters as the per-image mean over its runs, and its bootstrap "
            "resamples the runs too."
        )
    )
    for name, title in FIGURES:
        sec.add(src.figure(name, title, caption=name))
    claims, sis = _blurpool_shift_claims(summ, paired, std, ctx)
    if sis is not None:
        sec.headlines.append(sis.text)
    if src.has("aliasing_sigma_trend"):
        trend_claims, sis_trend = _sigma_trend_claims(src.table("aliasing_sigma_trend", TREND_COLUMNS), summ, ctx)
        claims += trend_claims
        if sis_trend is not None:
            sec.headlines.append(sis_trend.text)
    avr_claims, avr_table = _avr_points(paired, std, ctx, src.source(name_p))
    claims += avr_claims
    cor_items: list[str] = []
    if src.has("aliasing_correlation"):
        cor_claims, cor_items = _correlations(src.table("aliasing_correlation", CORRELATION_COLUMNS), std_model, ctx)
        claims += cor_claims
    sec.add(Bullets([c.text for c in claims]))
    sec.add(avr_table)
    ref_claims, ref_table = _filter_references(paired, std, ctx, src.source(name_p))
    if ref_table is not None:
        sec.para(
            "Filter-only references: `ref-sigma<σ>` is the σ = 0 network behind the blur of σ, never trained for it. "
            f"The reference against {model_label(std)} is what the blur filter alone does; the trained σ model "
            "against its reference is what training with that blur changed (paired over the same images)."
        )
        sec.add(Bullets([c.text for c in ref_claims]))
        sec.add(ref_table)
    if cor_items:
        sec.para(f"AVR–SIS correlation per point ({model_label(std_model)}, radial region):")
        sec.add(Bullets(cor_items))
    if src.has("aliasing_timing"):
        sec.para(_cost_sentence(src.table("aliasing_timing", TIMING_COLUMNS)))
    return sec


def _group_of(summ: pd.DataFrame, model: str) -> str:
    """The replicate group of ``model`` (the summary's ``group``; the model itself when it has no row)."""
    r = first_row(summ, model=model)
    return str(r["group"]) if r is not None else model


def _level(summ: pd.DataFrame, group: str, metric: str, mean: object, n_runs: object) -> str:
    """A condition's value at the network output: with one training run its image-bootstrap CI from the
    summary, with several the mean over the runs (the summary has one row per run)."""
    n = as_float(n_runs)
    r = first_row(summ, model=group, metric=metric, point="output")
    if (n is None or n == 1) and r is not None:
        return fmt_ci(r["mean"], r["ci_low"], r["ci_high"], LEVEL)
    return f"{fmt_num(mean)} (mean of {runs(n)})" if n is not None else fmt_num(mean)


def _blurpool_shift_claims(
    summ: pd.DataFrame, paired: pd.DataFrame, std: str, ctx: Context
) -> tuple[list[Claim], Claim | None]:
    """BlurPool against the standard model: SIS (also returned alone: a headline), then shift consistency
    (paired Wilcoxon, Holm), with the training runs behind each side."""
    claims, sis = [], None
    for metric in ("sis", "consistency"):
        r = first_row(paired, model="blurpool", metric=metric, reference=std, point="output")
        if r is None:
            continue
        claims.append(
            difference_claim(
                "BlurPool",
                OUTPUT_METRICS[metric],
                model_label(std),
                r,
                **_paired_test(ctx),
                values=(
                    _level(summ, std, metric, r["reference_mean"], r["n_replicates_reference"]),
                    _level(summ, "blurpool", metric, r["mean"], r["n_replicates"]),
                ),
            )
        )
        if metric == "sis":
            sis = claims[-1]
    return claims, sis


def _sigma_trend_claims(tr: pd.DataFrame, summ: pd.DataFrame, ctx: Context) -> tuple[list[Claim], Claim | None]:
    """The SIS trend over σ at the output (also returned alone: a headline) and the radial AVR trend counts."""
    claims: list[Claim] = []
    sis = None
    r = first_row(tr, point="output", metric="sis")
    if r is not None:
        sig = sorted(float(x) for x in str(r.get("sigmas", "")).split(",") if x.strip()) or ctx.sigmas
        lo_m, hi_m = f"sigma{sig[0]:g}", f"sigma{sig[-1]:g}"
        scope = (
            f"{fmt_num(r['n_models'])} models at {fmt_num(r['n_sigma'])} σ, "
            f"{runs_range(r['n_replicates_min'], r['n_replicates_max'])}"
        )
        sis = trend_sentence(
            "SIS",
            r["rho"],
            r["p_holm"],
            alpha=ctx.alpha,
            p_label="Holm-adjusted permutation p",
            details=(
                f"; ρ {ci_name(LEVEL)} [{fmt_num(r['rho_ci_low'], 2)}, {fmt_num(r['rho_ci_high'], 2)}]; {scope}; "
                f"{model_label(lo_m)}: {_level(summ, lo_m, 'sis', r['mean_sigma_min'], r['n_replicates_sigma_min'])}, "
                f"{model_label(hi_m)}: {_level(summ, hi_m, 'sis', r['mean_sigma_max'], r['n_replicates_sigma_max'])}"
            ),
        )
        claims.append(sis)
    avr = tr[tr["metric"] == "avr_radial"]
    if len(avr):
        vs = [judge(x.rho, x.p_holm, alpha=ctx.alpha) for x in avr.itertuples()]
        nf = sum(bool(v.significant) and v.direction < 0 for v in vs)
        nr = sum(bool(v.significant) and v.direction > 0 for v in vs)
        claims.append(
            Claim(
                f"Radial AVR against training σ: significant fall at {nf}, rise at {nr}, no significant trend at "
                f"{len(vs) - nf - nr} of {len(vs)} downsampling points (Spearman ρ, permutation p over images, Holm, "
                f"α = {fmt_num(ctx.alpha)}).",
                Verdict(nf + nr > 0, 0),
            )
        )
    return claims, sis


def _word(v: Verdict) -> str:
    """A verdict as a table cell."""
    if v.significant:
        return "lower" if v.direction < 0 else "higher"
    return "inconsistent" if v.conflict else "not significant"


def _avr_points(paired: pd.DataFrame, std: str, ctx: Context, source: str) -> tuple[list[Claim], Table | None]:
    """BlurPool vs the standard model at every matched downsampling point: counts per region and the table."""
    bp = paired[
        (paired["model"] == "blurpool")
        & (paired["reference"] == std)
        & paired["metric"].isin(["avr_radial", "avr_separable"])
    ]
    if not len(bp):
        return [], None
    rows = []
    counts = {"avr_radial": [0, 0, 0], "avr_separable": [0, 0, 0]}
    for r in bp.itertuples():
        v = judge(r.diff, r.p_holm, r.diff_ci_low, r.diff_ci_high, alpha=ctx.alpha)
        k = 0 if (v.significant and v.direction < 0) else 1 if (v.significant and v.direction > 0) else 2
        counts[r.metric][k] += 1
        rows.append(
            {
                "point": r.point,
                "BlurPool layer": getattr(r, "layer", ""),
                "region": r.metric.replace("avr_", ""),
                f"AVR {model_label(r.reference)}": fmt_num(r.reference_mean),
                "AVR BlurPool": fmt_num(r.mean),
                "Δ [95 % CI]": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
                "relative": fmt_pct(r.rel_change),
                "p (Wilcoxon, Holm)": fmt_pval(r.p_holm),
                "verdict": _word(v),
            }
        )
    claims = [
        Claim(
            f"BlurPool vs {model_label(std)}, {metric.replace('avr_', '')} AVR: significantly lower at {lo}, "
            f"higher at {hi}, not significantly different at {ns} of {lo + hi + ns} matched downsampling points.",
            Verdict(lo + hi > 0, 0),
        )
        for metric, (lo, hi, ns) in counts.items()
        if lo + hi + ns
    ]
    first = bp.iloc[0]
    table = limited_table(
        pd.DataFrame(rows),
        f"AVR at matched downsampling points, BlurPool ({runs(first['n_replicates'])}) vs the standard model "
        f"({runs(first['n_replicates_reference'])}), paired over {fmt_num(first['n_images'])} images "
        f"(bracket: {ci_name(LEVEL)}).",
        source,
        ctx.max_rows,
    )
    return claims, table


def _paired_test(ctx: Context) -> dict:
    """The :func:`difference_claim` options of a paired-table row: Holm-adjusted Wilcoxon p, relative change."""
    return {"alpha": ctx.alpha, "level": LEVEL, "p_key": "p_holm", "rel_key": "rel_change",
            "p_label": "Wilcoxon p (Holm)"}


def _cell(r: pd.Series | None) -> str:
    """A paired row as one table cell: "Δ [CI], p = …" (Holm)."""
    if r is None:
        return "n/a"
    return f"{diff_interval(r)}, {fmt_p(r['p_holm'])}"


def _filter_references(paired: pd.DataFrame, std: str, ctx: Context, source: str) -> tuple[list[Claim], Table | None]:
    """Each trained σ model against its filter-only reference at the output, beside the reference against the
    standard model: the claims for SIS and the table of every output measure (None without references)."""
    out = paired[(paired["point"] == "output") & paired["metric"].isin(list(OUTPUT_METRICS))]
    trained = out[out["reference"].map(is_reference) & (out["model"] != out["reference"])]
    if trained.empty:
        return [], None
    claims, rows = [], []
    for _, r in trained.iterrows():
        f = first_row(out, model=r["reference"], reference=std, metric=r["metric"])
        quantity = OUTPUT_METRICS[r["metric"]]
        sig = model_label(r["model"])
        if r["metric"] == "sis":
            if f is not None:
                claims.append(
                    difference_claim(
                        f"The {sig} blur filter alone (the {model_label(std)} network behind it)",
                        quantity,
                        model_label(std),
                        f,
                        **_paired_test(ctx),
                    )
                )
            claims.append(
                difference_claim(
                    f"Training with the {sig} blur",
                    quantity,
                    "its filter-only reference",
                    r,
                    **_paired_test(ctx),
                )
            )
        rows.append(
            {
                "σ": sig,
                "measure": quantity,
                model_label(std): fmt_num(f["reference_mean"]) if f is not None else "n/a",
                "filter-only reference": fmt_num(r["reference_mean"]),
                "trained": fmt_num(r["mean"]),
                f"filter alone: reference − {model_label(std)}": _cell(f),
                "training: trained − reference": _cell(r),
                "training runs (trained / reference)": (
                    f"{fmt_num(r['n_replicates'])} / {fmt_num(r['n_replicates_reference'])}"
                ),
            }
        )
    table = limited_table(
        pd.DataFrame(rows),
        f"What the blur filter does and what training changed, at the network output (paired over images; "
        f"bracket: {ci_name(LEVEL)}; p: Wilcoxon, Holm within each model × reference).",
        source,
        ctx.max_rows,
    )
    return claims, table


def _correlations(cor: pd.DataFrame, std: str, ctx: Context) -> tuple[list[Claim], list[str]]:
    """Per-image AVR (radial) against SIS of the standard model: the count of significant points and one
    line per point (Pearson r; Holm p and CI must agree)."""
    sel = cor[(cor["model"] == std) & (cor["region"] == "radial")]
    if not len(sel):
        return [], []
    items = []
    for r in sel.itertuples():
        v = judge(r.pearson_r, r.pearson_p_holm, r.pearson_r_ci_low, r.pearson_r_ci_high, alpha=ctx.alpha)
        word = ("positive" if v.direction > 0 else "negative") if v.significant else "no significant"
        r_ci = fmt_ci(r.pearson_r, r.pearson_r_ci_low, r.pearson_r_ci_high, LEVEL)
        items.append(f"{r.point}: {word} correlation, r = {r_ci}, {fmt_p(r.pearson_p_holm, 'p (Holm)')}")
    n_sig = sum(1 for s in items if "no significant" not in s)
    claim = Claim(
        f"Per-image AVR (radial) and SIS of the {model_label(std)} model correlate significantly "
        f"at {n_sig} of {len(items)} downsampling points ({fmt_num(sel['n_images'].max())} images; Pearson r, "
        f"Holm-adjusted p and {ci_name(LEVEL)} must agree).",
        Verdict(n_sig > 0, 0),
    )
    return [claim], items


def _cost_sentence(t: pd.DataFrame) -> str:
    """BlurPool's forward-pass time relative to the standard model ("" when BlurPool was not timed)."""
    r = first_row(t, model="blurpool")
    if r is None:
        return ""
    # on a CPU shared with other jobs the wall clock measures the neighbours: prefer process CPU time
    cpu = str(r["device"]).startswith("cpu") and as_float(r.get("forward_ratio_to_reference_cpu")) is not None
    ratio, ms, clock = (
        (r["forward_ratio_to_reference_cpu"], r.get("forward_cpu_ms_per_image"), "CPU time of the process")
        if cpu
        else (r["forward_ratio_to_reference"], r["forward_ms_per_image"], "wall clock")
    )
    return (
        f"Cost: one BlurPool forward pass took {fmt_num(ratio)}× the time of the standard model's "
        f"({fmt_num(ms)} ms per image on {r['device']}, {clock}; median of interleaved timing rounds, "
        "a measurement, not a statistical estimate)."
    )
