"""Section "Aliasing and shift stability": AVR at every downsampling point, SIS, BlurPool's effect,
and what the blur filter alone does against what training changed (filter-only references).

Inputs: ``aliasing_summary``, ``aliasing_paired``, ``aliasing_sigma_trend``,
``aliasing_correlation`` (``results/aliasing/stats/``, keys in docs/statistics.md),
``aliasing_timing`` and the figures ``aliasing_layers``, ``aliasing_sis_sigma``,
``aliasing_avr_sis``, ``aliasing_sweep``.
"""

from __future__ import annotations

import pandas as pd

from ...model_id import BLURPOOL, is_reference
from ...stats.runs import verdict
from .. import runlevel as rl
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
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, diff_interval, first_row, limited_table, not_run
from .statistics import runs

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
TREND_COLUMNS = ["point", "metric", "sigma_min", "sigma_max", "diff", "diff_ci_low", "diff_ci_high", "p",
                 "n_runs_sigma_min", "n_runs_sigma_max", "note"]
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
    """SIS and consistency over training runs (σ contrast, BlurPool, filter, learned: the findings rows), the AVR
    σ contrast per downsampling point, AVR–SIS correlations and BlurPool's cost; the image-level paired tables
    (conditional on the networks) in the appendix."""
    sec = Section("aliasing", "Aliasing and shift stability")
    name_s, name_p = "aliasing_summary", "aliasing_paired"
    if not src.has(name_s):
        return not_run(sec, "aliasing", name_s)
    summ = src.table(name_s, SUMMARY_COLUMNS)
    paired = src.table(name_p, PAIRED_COLUMNS)
    std_model = str(ctx.config.get("aliasing", {}).get("standard_model", "sigma0"))
    std = _group_of(summ, std_model)
    n_images = as_float(summ["n_images"].max())
    sec.para(
        "AVR (alias violation ratio) = the share of a feature map's power that 2× subsampling folds back, measured at "
        "the input of every stride > 1 operation (radial region: normalised radius > 1/stride; separable region: "
        "max(|fx|, |fy|) > 1/stride). SIS (shift instability) = mean over the four one-pixel circular shifts of "
        "1 − cos(softmax(original), softmax(shifted)); consistency = the share of shifts that keep the top-1 class. "
        f"Each run's value is its mean over the {fmt_num(n_images)} analysis images; claims about σ, BlurPool and "
        "the blur filter are tests over training runs (the findings table). These measures run the model as "
        "deployed (blur layer included), so a σ contrast mixes the filter with training; the filter-only "
        "references separate them. The paired Wilcoxon tests over images (appendix) are conditional on the "
        "trained networks and say nothing about another training run."
    )
    for name, title in FIGURES:
        sec.add(src.figure(name, title, caption=name))
    tab = rl.findings(src)
    claims = [rl.sentence(r, LEVEL) for _, r in rl.rows(tab, stage="aliasing").iterrows()]
    if src.has("aliasing_sigma_trend"):
        claims += _avr_trend(src.table("aliasing_sigma_trend", TREND_COLUMNS), ctx)
    cor_items: list[str] = []
    if src.has("aliasing_correlation"):
        cor_claims, cor_items = _correlations(src.table("aliasing_correlation", CORRELATION_COLUMNS), std_model, ctx)
        claims += cor_claims
    sec.add(Bullets([c.text for c in claims]))
    sec.to_appendix(_avr_points(paired, std, ctx, src.source(name_p)), _filter_references(paired, std, ctx,
                                                                                           src.source(name_p)))
    if cor_items:
        sec.para(f"AVR–SIS correlation per point within the {model_label(std_model)} network (radial region):")
        sec.add(Bullets(cor_items))
    if src.has("aliasing_timing"):
        sec.para(_cost_sentence(src.table("aliasing_timing", TIMING_COLUMNS)))
    return sec


def _group_of(summ: pd.DataFrame, model: str) -> str:
    """The replicate group of ``model`` (the summary's ``group``; the model itself when it has no row)."""
    r = first_row(summ, model=model)
    return str(r["group"]) if r is not None else model


def _avr_trend(tr: pd.DataFrame, ctx: Context) -> list[Claim]:
    """The radial AVR σ contrast over training runs at every downsampling point, counted by verdict
    (exploratory: each judged by its own p and t interval)."""
    avr = tr[tr["metric"] == "avr_radial"]
    if not len(avr):
        return []
    words = [verdict(r.diff, r.p, r.diff_ci_low, r.diff_ci_high, ctx.alpha, str(r.note) if pd.notna(r.note) else "")
             for r in avr.itertuples()]
    counts = {w: words.count(w) for w in dict.fromkeys(words)}
    return [Claim(
        f"Radial AVR, σ = {fmt_num(avr['sigma_min'].iloc[0])} → σ = {fmt_num(avr['sigma_max'].iloc[0])} over "
        f"training runs ({fmt_num(avr['n_runs_sigma_min'].iloc[0])} vs {fmt_num(avr['n_runs_sigma_max'].iloc[0])} "
        f"runs; exploratory, α = {fmt_num(ctx.alpha)}), at the {len(words)} downsampling points: "
        + ", ".join(f"{w} at {n}" for w, n in counts.items()) + ".",
        Verdict(None, 0),
    )]


def _avr_points(paired: pd.DataFrame, std: str, ctx: Context, source: str) -> Table | None:
    """BlurPool vs the standard model at every matched downsampling point, paired over images (conditional on
    these networks: an appendix table, not evidence about training)."""
    bp = paired[
        (paired["model"] == BLURPOOL)
        & (paired["reference"] == std)
        & paired["metric"].isin(["avr_radial", "avr_separable"])
    ]
    if not len(bp):
        return None
    rows = []
    for r in bp.itertuples():
        rows.append(
            {
                "point": r.point,
                "BlurPool layer": getattr(r, "layer", ""),
                "region": r.metric.replace("avr_", ""),
                f"AVR {model_label(r.reference)}": fmt_num(r.reference_mean),
                "AVR BlurPool": fmt_num(r.mean),
                "Δ [95 % CI]": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
                "relative": fmt_pct(r.rel_change),
                "p (Wilcoxon over images, Holm)": fmt_pval(r.p_holm),
            }
        )
    first = bp.iloc[0]
    return limited_table(
        pd.DataFrame(rows),
        f"AVR at matched downsampling points, BlurPool ({runs(first['n_replicates'])}) vs the standard model "
        f"({runs(first['n_replicates_reference'])}), paired over {fmt_num(first['n_images'])} images "
        f"(bracket: {ci_name(LEVEL)}; conditional on these networks, not a test over training runs).",
        source,
        ctx.max_rows,
    )


def _cell(r: pd.Series | None) -> str:
    """A paired row as one table cell: "Δ [CI], p = …" (Holm)."""
    if r is None:
        return "n/a"
    return f"{diff_interval(r)}, {fmt_p(r['p_holm'])}"


def _filter_references(paired: pd.DataFrame, std: str, ctx: Context, source: str) -> Table | None:
    """Each trained σ model against its filter-only references at the output, beside the references against the
    standard model, paired over images (conditional on the networks: an appendix table)."""
    out = paired[(paired["point"] == "output") & paired["metric"].isin(list(OUTPUT_METRICS))]
    trained = out[out["reference"].map(is_reference) & (out["model"] != out["reference"])]
    if trained.empty:
        return None
    rows = []
    for _, r in trained.iterrows():
        f = first_row(out, model=r["reference"], reference=std, metric=r["metric"])
        rows.append(
            {
                "σ": model_label(r["model"]),
                "measure": OUTPUT_METRICS[r["metric"]],
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
    return limited_table(
        pd.DataFrame(rows),
        f"What the blur filter does and what training changed at the network output, paired over images "
        f"(bracket: {ci_name(LEVEL)}; p: Wilcoxon over images, Holm within each model × reference; conditional on "
        "these networks — the tests over training runs are in the findings table).",
        source,
        ctx.max_rows,
    )


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
    r = first_row(t, model=BLURPOOL)
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
