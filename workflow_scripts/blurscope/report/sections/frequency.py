"""Section "Frequency preference and robustness": hybrid images, PGD spectra, shape bias, corruptions.

Inputs: ``frequency_summary``, ``frequency_trends``, ``frequency_reference`` (trained models
against their filter-only references; ``results/frequency/``) and the figures
``frequency_preference``, ``frequency_shape_bias`` (only with cue-conflict images),
``frequency_corruption_vs_frev``, ``frequency_corruption_heatmap``.
"""

from __future__ import annotations

import pandas as pd

from ..claims import (
    Claim,
    Verdict,
    ci_name,
    fmt_interval,
    fmt_num,
    judge,
    model_label,
    order_models,
    overlap_sentence,
    trend_sentence,
)
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, first_row, limited_table, not_run

# figure input (= caption name), title, in report order
FIGURES = (
    ("frequency_preference", "Hybrid-image frequency preference"),
    ("frequency_shape_bias", "Shape bias against training σ"),
    ("frequency_corruption_vs_frev", "Corruption robustness against f_rev"),
    ("frequency_corruption_heatmap", "Accuracy per corruption and severity"),
)

SUMMARY_COLUMNS = [
    "model",
    "sigma",
    "f_rev_cpp",
    "f_rev_ci_low_cpp",
    "f_rev_ci_high_cpp",
    "f_rev_status",
    "f_half_cpp",
    "f_half_ci_low_cpp",
    "f_half_ci_high_cpp",
    "clean_acc",
    "corruption_acc",
    "corruption_acc_ci_low",
    "corruption_acc_ci_high",
]
# f_rev_status other than "crossed" → why f_rev is censored
CENSORED = {
    "low_from_start": "low frequencies win from the first sweep point: f_rev is an upper bound",
    "never": "the low-frequency image never wins: f_rev undefined",
}
# (x, y) of results/frequency/trends.tsv → the quantity's name in the text
FREQ_TRENDS = {
    ("sigma", "f_rev_cpp"): "the reversal frequency f_rev",
    ("sigma", "f_half_cpp"): "the PGD half-power frequency f_0.5",
    ("sigma", "shape_bias"): "the shape bias",
    ("sigma", "corruption_acc"): "the mean accuracy under corruptions",
    ("sigma", "clean_acc"): "the clean accuracy",
}


def section(src: Sources, ctx: Context) -> Section:
    """f_rev, f_0.5, shape bias and robustness per model; their trends over σ; BlurPool against σ = 0."""
    sec = Section("frequency", "Frequency preference and robustness", short="Frequency preference")
    name = "frequency_summary"
    if not src.has(name):
        return not_run(sec, "frequency", name)
    summ = src.table(name, SUMMARY_COLUMNS)
    level = ctx.level("frequency")
    fq = ctx.config.get("frequency", {})
    sec.para(
        f"Hybrid images: the low frequencies of image A (normalised radius ≤ f_mix) plus the rest of image B "
        f"(another class), f_mix swept over (0, √2] in {fmt_num(fq.get('n_f_mix'))} steps on "
        f"{fmt_num(fq.get('n_pairs'))} pairs. f_rev = the first f_mix at which the low-frequency image wins; "
        f"f_0.5 = the radius below which half the power of PGD perturbations lies ({fq.get('pgd_norm', '')}, "
        f"ε = {fmt_num(fq.get('pgd_eps'))}, {fmt_num(fq.get('pgd_steps'))} steps). Both in cycles/pixel; a lower "
        "value = "
        f"a model that relies on lower frequencies. Shape bias on the cue-conflict split; robustness = mean accuracy "
        f"over {len(fq.get('corruptions', []))} corruptions × {len(fq.get('severities', []))} severities. "
        f"Intervals: {ci_name(level)}s of a bootstrap over image pairs / images; trends: Spearman ρ over the σ models "
        "with a permutation p (unadjusted)."
    )
    for fig, title in FIGURES:
        sec.add(src.figure(fig, title, caption=fig))
    claims: list[Claim] = []
    if src.has("frequency_trends"):
        claims, sec.headlines = _trend_claims(
            src.table("frequency_trends", ["x", "y", "rho", "p"]), ctx
        )
    claims += _blurpool_claims(summ, level)
    odd = summ[summ["f_rev_status"].astype(str) != "crossed"]
    if len(odd):
        listed = ", ".join(
            f"{model_label(r.model)} ({CENSORED.get(r.f_rev_status, r.f_rev_status)})" for r in odd.itertuples()
        )
        claims.append(Claim(f"f_rev is censored or undefined for {listed}.", Verdict(None, 0)))
    sec.add(Bullets([c.text for c in claims]))
    sec.add(_model_table(summ, level, ctx, src.source(name)))
    if src.has("frequency_reference"):
        ref_claims = _reference(src, ctx, sec)
        sec.headlines = [c.text for c in ref_claims if c.verdict.significant][:2] + sec.headlines[:1]
    return sec


REFERENCE_NAMES = {
    "f_rev_cpp": "f_rev",
    "f_half_cpp": "f_0.5",
    "shape_bias": "the shape bias",
    "corruption_acc": "the mean corruption accuracy",
}


def _reference(src: Sources, ctx: Context, sec: Section) -> list[Claim]:
    """Each deployed measure split into what the blur filter does (reference − σ 0) and what training
    changed (trained − reference), with paired bootstrap CIs over the shared images."""
    ref = src.table("frequency_reference", ["sigma", "metric", "comparison", "model", "reference", "value",
                                            "reference_value", "diff", "diff_ci_low", "diff_ci_high",
                                            "n_replicates", "n_replicates_reference"])
    ref = ref[ref["sigma"] > 0]
    if ref.empty:
        return []
    sec.para(
        "These measures run each model as deployed, blur layer included, and a blur in front of any network moves "
        "them: an untrained linear model behind blurs of 0 → 1.71 px gives f_0.5 0.400 → 0.070 c/px "
        "(docs/training.md). "
        "So each referenced σ also ran its **filter-only reference** (`ref-sigma<σ>`: the σ = 0 network behind the "
        "same blur, never trained for it). The reference minus the σ = 0 model is what the filter alone does; the "
        "trained model minus its reference is what training changed (paired bootstrap over the same images or "
        "pairs; training replicates resampled)."
    )
    rows, claims = [], []
    for r in ref.sort_values(["metric", "sigma", "comparison"]).itertuples():
        q = REFERENCE_NAMES.get(r.metric, r.metric)
        rows.append({
            "measure": q, "σ": fmt_num(r.sigma),
            "effect": "filter (reference − σ 0)" if r.comparison == "filter" else "learned (trained − reference)",
            "from": fmt_num(r.reference_value), "to": fmt_num(r.value),
            "change [95 % CI]": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
            "training runs": f"{fmt_num(r.n_replicates_reference)} vs {fmt_num(r.n_replicates)}",
        })
    s_max = ref["sigma"].max()
    for metric, q in REFERENCE_NAMES.items():
        for kind, who in (("filter", f"The σ = {fmt_num(s_max)} blur filter alone (the σ = 0 network behind it)"),
                          ("learned", f"Training with the σ = {fmt_num(s_max)} blur")):
            r = first_row(ref[ref["sigma"] == s_max], metric=metric, comparison=kind)
            if r is None:
                continue
            v = judge(r["diff"], None, r["diff_ci_low"], r["diff_ci_high"])
            interval = fmt_interval(r["diff"], r["diff_ci_low"], r["diff_ci_high"])
            if v.significant is None:
                text = f"{who}: {q} change not estimable ({interval})."
            elif v.significant:
                text = f"{who} {'lowers' if v.direction < 0 else 'raises'} {q}: change {interval}."
            else:
                text = f"{who} does not change {q} measurably ({interval}: the CI includes 0)."
            claims.append(Claim(text, v))
    sec.add(Bullets([c.text for c in claims]))
    sec.add(Table(pd.DataFrame(rows), "Trained models against their filter-only references: what the filter does and "
                  "what training changed (from → to: σ 0 → reference for a filter row, reference → trained model "
                  "for a learned row).", src.source("frequency_reference")))
    return claims


def _trend_claims(tr: pd.DataFrame, ctx: Context) -> tuple[list[Claim], list[str]]:
    """Every trend of ``frequency/trends.tsv`` as a sentence; the σ trends of f_rev, f_0.5 and shape bias
    are also the section's headlines."""
    claims, headlines = [], []
    for r in tr.itertuples():
        if (r.x, r.y) in FREQ_TRENDS:
            q = FREQ_TRENDS[(r.x, r.y)]
            x = "training σ"
        elif r.y == "corruption_acc" and r.x == "f_rev_cpp":
            q, x = "the mean accuracy under corruptions", "f_rev (over all models)"
        else:
            q, x = r.y.replace("_", " "), r.x.replace("_", " ")
        c = trend_sentence(q, r.rho, r.p, alpha=ctx.alpha, x=x, p_label="permutation p")
        claims.append(c)
        if r.x == "sigma" and r.y in ("f_rev_cpp", "f_half_cpp", "shape_bias"):
            headlines.append(c.text)
    return claims, headlines


def _blurpool_claims(summ: pd.DataFrame, level: float) -> list[Claim]:
    """BlurPool against σ = 0: f_0.5 and the mean accuracy under corruptions (a direction only when the CIs
    are disjoint); none when either model is missing."""
    base = first_row(summ, model="sigma0")
    bp = first_row(summ, model="blurpool")
    if base is None or bp is None:
        return []
    return [
        overlap_sentence(
            "BlurPool",
            quantity,
            model_label("sigma0"),
            *bp[[col, low, high]],
            *base[[col, low, high]],
            level=level,
        )
        for quantity, col, low, high in (
            ("f_0.5 (cycles/pixel)", "f_half_cpp", "f_half_ci_low_cpp", "f_half_ci_high_cpp"),
            ("mean accuracy under corruptions", "corruption_acc", "corruption_acc_ci_low", "corruption_acc_ci_high"),
        )
    ]


def _model_table(summ: pd.DataFrame, level: float, ctx: Context, source: str) -> Table:
    """f_rev, f_0.5, clean and corruption accuracy (and shape bias) per model, with CIs."""
    rows = []
    has_shape = "shape_bias" in summ.columns
    for m in order_models(summ["model"].unique()):
        r = first_row(summ, model=m)
        row = {
            "model": m,
            "f_rev (cycles/px)": fmt_interval(r["f_rev_cpp"], r["f_rev_ci_low_cpp"], r["f_rev_ci_high_cpp"]),
            "f_rev status": str(r["f_rev_status"]),
            "f_0.5 (cycles/px)": fmt_interval(r["f_half_cpp"], r["f_half_ci_low_cpp"], r["f_half_ci_high_cpp"]),
            "clean accuracy": fmt_num(r["clean_acc"]),
            "corruption accuracy": fmt_interval(
                r["corruption_acc"], r["corruption_acc_ci_low"], r["corruption_acc_ci_high"]
            ),
        }
        if has_shape:
            row["shape bias"] = fmt_interval(r["shape_bias"], r.get("shape_bias_ci_low"), r.get("shape_bias_ci_high"))
        rows.append(row)
    return limited_table(
        pd.DataFrame(rows),
        f"Frequency preference and robustness per model (bracket: {ci_name(level)}).",
        source,
        ctx.max_rows,
    )
