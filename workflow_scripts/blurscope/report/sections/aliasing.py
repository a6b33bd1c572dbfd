"""Section "Aliasing and shift stability": AVR at every downsampling point, SIS, BlurPool's effect.

Inputs: ``aliasing_summary``, ``aliasing_paired``, ``aliasing_sigma_trend``,
``aliasing_correlation`` (``results/aliasing/stats/``), ``aliasing_timing``
and the figures ``aliasing_layers``, ``aliasing_sis_sigma``,
``aliasing_avr_sis``, ``aliasing_sweep``.
"""

from __future__ import annotations

import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    as_float,
    ci_name,
    compare_sentence,
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
from .common import Context, first_row, limit_rows, not_run

LEVEL = 0.95  # the confidence level of the aliasing tables' CIs
PAIRED_COLUMNS = [
    "model",
    "reference",
    "point",
    "metric",
    "mean_ref",
    "mean_treat",
    "mean_diff",
    "diff_ci_low",
    "diff_ci_high",
    "rel_change",
    "p_wilcoxon_holm",
]
TREND_COLUMNS = ["point", "metric", "rho", "p_perm_holm", "mean_sigma_min", "mean_sigma_max"]
CORRELATION_COLUMNS = ["model", "point", "region", "pearson_r", "pearson_ci_low", "pearson_ci_high", "pearson_p_holm"]
TIMING_COLUMNS = ["model", "forward_ms_per_image", "forward_ratio_to_reference", "device"]
# figure input (= caption name), title, in report order
FIGURES = (
    ("aliasing_layers", "AVR at every downsampling point"),
    ("aliasing_sis_sigma", "Shift instability against training σ"),
    ("aliasing_avr_sis", "AVR against SIS per image"),
    ("aliasing_sweep", "Frequency sweep with sinusoids"),
)


def section(src: Sources, ctx: Context) -> Section:
    """BlurPool vs the standard model (SIS, consistency, AVR per point), the SIS and AVR trends over σ,
    AVR–SIS correlations and BlurPool's forward-pass cost."""
    sec = Section("aliasing", "Aliasing and shift stability")
    name_s, name_p = "aliasing_summary", "aliasing_paired"
    if not src.has(name_s):
        return not_run(sec, "aliasing", name_s)
    summ = src.table(name_s, ["model", "point", "metric", "mean", "ci_low", "ci_high", "n"])
    paired = src.table(name_p, PAIRED_COLUMNS)
    std = str(ctx.config.get("aliasing", {}).get("standard_model", "sigma0"))
    sec.para(
        "AVR (alias violation ratio) = the share of a feature map's power that 2× subsampling folds back, measured at "
        "the input of every stride > 1 operation (radial region: normalised radius > 1/stride; separable region: "
        "max(|fx|, |fy|) > 1/stride). SIS (shift instability) = mean over the four one-pixel circular shifts of "
        "1 − cos(softmax(original), softmax(shifted)); consistency = the share of shifts that keep the top-1 class. "
        f"Intervals: {ci_name(LEVEL)}s of an image bootstrap; paired tests against the standard model "
        f"({model_label(std)}): Wilcoxon signed-rank, Holm-adjusted per model."
    )
    for name, title in FIGURES:
        sec.add(src.figure(name, title, caption=name))
    claims, sis = _blurpool_shift_claims(summ, paired, ctx)
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
        cor_claims, cor_items = _correlations(src.table("aliasing_correlation", CORRELATION_COLUMNS), std, ctx)
        claims += cor_claims
    sec.add(Bullets([c.text for c in claims]))
    sec.add(avr_table)
    if cor_items:
        sec.para(f"AVR–SIS correlation per point ({model_label(std)}, radial region):")
        sec.add(Bullets(cor_items))
    if src.has("aliasing_timing"):
        sec.para(_cost_sentence(src.table("aliasing_timing", TIMING_COLUMNS)))
    return sec


def _output_value(summ: pd.DataFrame, model: str, metric: str) -> str:
    """Mean with CI of ``metric`` at the network output for ``model`` ("n/a" when absent)."""
    r = first_row(summ, model=model, metric=metric, point="output")
    return fmt_ci(r["mean"], r["ci_low"], r["ci_high"], LEVEL) if r is not None else "n/a"


def _blurpool_shift_claims(summ: pd.DataFrame, paired: pd.DataFrame, ctx: Context) -> tuple[list[Claim], Claim | None]:
    """BlurPool against its reference model: SIS (also returned alone: a headline), then shift consistency
    (paired Wilcoxon, Holm)."""
    claims, sis = [], None
    for metric, quantity in (("sis", "shift instability (SIS)"), ("consistency", "shift consistency")):
        r = first_row(paired, model="blurpool", metric=metric)
        if r is not None:
            claims.append(
                compare_sentence(
                    "BlurPool",
                    quantity,
                    model_label(str(r["reference"])),
                    r["mean_diff"],
                    r["diff_ci_low"],
                    r["diff_ci_high"],
                    r["p_wilcoxon_holm"],
                    alpha=ctx.alpha,
                    level=LEVEL,
                    rel=r["rel_change"],
                    p_label="Wilcoxon p (Holm)",
                    values=(_output_value(summ, str(r["reference"]), metric), _output_value(summ, "blurpool", metric)),
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
        sis = trend_sentence(
            "SIS",
            r["rho"],
            r["p_perm_holm"],
            alpha=ctx.alpha,
            p_label="permutation p (Holm)",
            details=(
                f"; {model_label(lo_m)}: {_output_value(summ, lo_m, 'sis')}, "
                f"{model_label(hi_m)}: {_output_value(summ, hi_m, 'sis')}"
            ),
        )
        claims.append(sis)
    avr = tr[tr["metric"] == "avr_radial"]
    if len(avr):
        vs = [judge(x.rho, x.p_perm_holm, alpha=ctx.alpha) for x in avr.itertuples()]
        nf = sum(v.significant and v.direction < 0 for v in vs)
        nr = sum(v.significant and v.direction > 0 for v in vs)
        claims.append(
            Claim(
                f"Radial AVR against training σ: significant fall at {nf}, rise at {nr}, no significant trend at "
                f"{len(vs) - nf - nr} of {len(vs)} downsampling points (Spearman ρ, permutation p, Holm, "
                f"α = {fmt_num(ctx.alpha)}).",
                Verdict(nf + nr > 0, 0),
            )
        )
    return claims, sis


def _avr_points(paired: pd.DataFrame, std: str, ctx: Context, source: str) -> tuple[list[Claim], Table | None]:
    """BlurPool vs the standard model at every matched downsampling point: counts per region and the table."""
    bp = paired[(paired["model"] == "blurpool") & paired["metric"].isin(["avr_radial", "avr_separable"])]
    if not len(bp):
        return [], None
    rows = []
    counts = {"avr_radial": [0, 0, 0], "avr_separable": [0, 0, 0]}
    for r in bp.itertuples():
        v = judge(r.mean_diff, r.p_wilcoxon_holm, r.diff_ci_low, r.diff_ci_high, alpha=ctx.alpha)
        k = 0 if (v.significant and v.direction < 0) else 1 if (v.significant and v.direction > 0) else 2
        counts[r.metric][k] += 1
        rows.append(
            {
                "point": r.point,
                "BlurPool layer": getattr(r, "layer", ""),
                "region": r.metric.replace("avr_", ""),
                f"AVR {model_label(r.reference)}": fmt_num(r.mean_ref),
                "AVR BlurPool": fmt_num(r.mean_treat),
                "Δ [95 % CI]": fmt_interval(r.mean_diff, r.diff_ci_low, r.diff_ci_high),
                "relative": fmt_pct(r.rel_change),
                "p (Wilcoxon, Holm)": fmt_pval(r.p_wilcoxon_holm),
                "verdict": (
                    ("lower" if v.direction < 0 else "higher")
                    if v.significant
                    else ("inconsistent" if v.conflict else "not significant")
                ),
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
    df, note = limit_rows(pd.DataFrame(rows), ctx.max_rows)
    table = Table(
        df,
        "AVR at matched downsampling points, BlurPool vs the standard model (paired over "
        f"images; bracket: {ci_name(LEVEL)}).",
        source,
        note,
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
        v = judge(r.pearson_r, r.pearson_p_holm, r.pearson_ci_low, r.pearson_ci_high, alpha=ctx.alpha)
        word = ("positive" if v.direction > 0 else "negative") if v.significant else "no significant"
        items.append(
            f"{r.point}: {word} correlation, r = {fmt_ci(r.pearson_r, r.pearson_ci_low, r.pearson_ci_high, LEVEL)}, "
            f"{fmt_p(r.pearson_p_holm, 'p (Holm)')}"
        )
    n_sig = sum(1 for s in items if "no significant" not in s)
    claim = Claim(
        f"Per-image AVR (radial) and SIS of the {model_label(std)} model correlate significantly "
        f"at {n_sig} of {len(items)} downsampling points (Pearson r, Holm-adjusted p and "
        f"{ci_name(LEVEL)} must agree).",
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
