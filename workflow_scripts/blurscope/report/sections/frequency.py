"""Section "Frequency preference and robustness": hybrid images, PGD spectra, shape bias, corruptions.

Inputs: ``frequency_summary``, ``frequency_trends``, ``frequency_reference`` (trained models
against their filter-only references; ``results/frequency/``) and the figures
``frequency_preference``, ``frequency_shape_bias`` (only with cue-conflict images),
``frequency_corruption_vs_frev``, ``frequency_corruption_heatmap``.
"""

from __future__ import annotations

import pandas as pd

from .. import runlevel as rl
from ..claims import Claim, Verdict, ci_name, fmt_interval, fmt_num, model_label, order_models
from ..document import Bullets, Section, Table
from ..sources import Sources
from .common import Context, first_row, limited_table, stage_table

INPUT = "frequency_summary"
"""The report input (rule output) this section reads; without it the stage did not run."""

# figure input (= caption name), title, in report order
FIGURES = (
    ("frequency_preference", "Hybrid-image frequency preference"),
    ("frequency_shape_bias", "Shape bias against training σ"),
    ("frequency_corruption_vs_frev", "Corruption robustness against f_rev"),
    ("frequency_corruption_heatmap", "Accuracy per corruption and severity"),
)

# f_rev_status other than "crossed" → why f_rev is censored
CENSORED = {
    "low_from_start": "low frequencies win from the first sweep point: f_rev is an upper bound",
    "never": "the low-frequency image never wins: f_rev undefined",
}

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


def section(src: Sources, ctx: Context) -> Section:
    """f_rev, f_0.5, shape bias and robustness per model; their trends over σ; BlurPool against σ = 0."""
    sec = Section("frequency", "Frequency preference and robustness", short="Frequency preference")
    if (summ := stage_table(src, sec, "frequency", INPUT, SUMMARY_COLUMNS)) is None:
        return sec
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
        f"Each run's value comes from its image pairs / images ({ci_name(level)}s of an image bootstrap per model, "
        "appendix); every claim about σ, BlurPool and the blur filter is a test over training runs (exploratory; "
        "the findings table)."
    )
    for fig, title in FIGURES:
        sec.add(src.figure(fig, title, caption=fig))
    tab = rl.findings(src)
    claims: list[Claim] = []
    for kind in ("sigma", "blurpool", "filter", "learned"):
        claims += [rl.sentence(r, level) for _, r in rl.rows(tab, stage="frequency", comparison=kind).iterrows()]
    odd = summ[summ["f_rev_status"].astype(str) != "crossed"]
    if len(odd):
        listed = ", ".join(
            f"{model_label(r.model)} ({CENSORED.get(r.f_rev_status, r.f_rev_status)})" for r in odd.itertuples()
        )
        claims.append(Claim(f"f_rev is censored or undefined for {listed}.", Verdict(None, 0)))
    sec.para(
        "Corruption robustness is also given relative to clean accuracy (corruption accuracy / clean accuracy): a "
        "model that is better on clean images scores higher under corruption too, so the raw mean tracks clean "
        "accuracy; the ratio asks whether blur training protects against corruption beyond that. A measure that "
        "sits at its ceiling or floor in every model (e.g. a shape bias near 1 on the embedded cue-conflict set) "
        "cannot move with any condition and is reported as uninformative."
    )
    sec.add(Bullets([c.text for c in claims]))
    sec.to_appendix(_model_table(summ, level, ctx, src.source(INPUT)))
    if src.has("frequency_reference"):
        sec.to_appendix(_reference_table(src))
    return sec


def _reference_table(src: Sources) -> Table | None:
    """Trained models against their filter-only references, paired over images (conditional on the networks)."""
    ref = src.table("frequency_reference", ["sigma", "metric", "comparison", "model", "reference", "value",
                                            "reference_value", "diff", "diff_ci_low", "diff_ci_high",
                                            "n_replicates", "n_replicates_reference"])
    ref = ref[ref["sigma"] > 0]
    if ref.empty:
        return None
    rows = []
    for r in ref.sort_values(["metric", "sigma", "comparison"]).itertuples():
        rows.append({
            "measure": r.metric, "σ": fmt_num(r.sigma),
            "effect": "filter (reference − σ 0)" if r.comparison == "filter" else "learned (trained − reference)",
            "from": fmt_num(r.reference_value), "to": fmt_num(r.value),
            "change [95 % CI]": fmt_interval(r.diff, r.diff_ci_low, r.diff_ci_high),
            "training runs": f"{fmt_num(r.n_replicates_reference)} vs {fmt_num(r.n_replicates)}",
        })
    return Table(pd.DataFrame(rows), "Trained models against their filter-only references, paired bootstrap over the "
                 "same images or pairs (conditional on these networks; the tests over training runs are in the "
                 "findings table).", src.source("frequency_reference"))


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
