"""Section "Feature visualisation by optimisation": what each model's grid neurons want to see,
independent of the dataset, and whether it agrees with the preferred patches.

Inputs: ``featvis_summary`` / ``featvis_trends`` / ``featvis_effects``
(``results/featvis/``), per layer the figures ``featvis_grid/<layer>`` and
``featvis_spectra/<layer>``, and ``patch_trends`` (the patch result it is set beside).
"""

from __future__ import annotations

import pandas as pd

from ..claims import Claim, Verdict, fmt_ci, fmt_num, judge, layer_label, trend_sentence
from ..document import Bullets, Heading, Section, Table
from ..sources import Sources
from .common import Context, first_row, layer_figure, not_run

TREND_COLUMNS = ["layer", "metric", "rho", "rho_ci_low", "rho_ci_high", "p", "sigma_min", "mean_sigma_min",
                 "mean_sigma_min_ci_low", "mean_sigma_min_ci_high", "sigma_max", "mean_sigma_max",
                 "mean_sigma_max_ci_low", "mean_sigma_max_ci_high"]


def direction(row: pd.Series | None, alpha: float) -> int | None:
    """The sign of a significant trend over σ (−1 falls, +1 rises, 0 none), None without a row."""
    if row is None:
        return None
    v = judge(row["rho"], row.get("p"), row.get("rho_ci_low"), row.get("rho_ci_high"), alpha=alpha)
    return v.direction if v.significant else 0


WORD = {-1: "falls", 1: "rises", 0: "no significant trend", None: "not measured"}


def section(src: Sources, ctx: Context) -> Section:
    """Renders per layer, the HF-power trend of the renders, and its agreement with the patches' trend."""
    sec = Section("featvis", "Feature visualisation by optimisation", short="Feature visualisation")
    if not src.has("featvis_trends"):
        return not_run(sec, "feature-visualisation", "featvis_trends")
    fv = ctx.config.get("featvis", {})
    size = fv.get("size") or ctx.config.get("dataset", {}).get("image_size")
    sec.para(
        "The preferred patches show what a neuron prefers among the analysis images; feature visualisation asks "
        "the dataset-free question (Olah et al. 2017, docs/references.md): starting from faint 1/f noise, an image "
        f"of {fmt_num(size)} px is optimised for {fmt_num(fv.get('steps'))} steps to maximise the "
        f"{'spatial mean' if fv.get('objective', 'mean') == 'mean' else 'centre unit'} of each grid neuron's channel, "
        "through the trained network alone (no blur layer in front), with a 1/f-scaled Fourier parameterisation, "
        "decorrelated colour and random jitter, scale and rotation. Its spectrum is measured with the preferred "
        "patches' definition (windowed; HF power fraction above `spectra.hf_cutoff`). Renders that did not raise "
        "their objective are left out."
    )
    trends = src.table("featvis_trends", TREND_COLUMNS)
    patch = src.table("patch_trends", ["layer", "metric", "rho", "p"]) if src.has("patch_trends") else None
    claims, agree_rows = [], []
    rendered = src.table("featvis_summary", ["layer"])["layer"].unique() if src.has("featvis_summary") else []
    for layer in ctx.order_layers(pd.unique(pd.Series([*rendered, *trends["layer"].unique()]))):
        sec.add(Heading(layer_label(layer)))
        for fig, title in (("featvis_grid", "Optimised stimuli across blur levels"),
                           ("featvis_spectra", "Spectra of the optimised stimuli")):
            if src.has(f"{fig}/{layer}"):
                sec.add(layer_figure(src, fig, title, layer))
        r = first_row(trends, layer=layer, metric="hf_fraction")
        if r is None:
            sec.para(f"No trend for {layer_label(layer)}: some model has fewer than two renders that raised their "
                     "objective (`n_active` in the featvis summary table).")
            continue
        ends = (
            f"; σ = {fmt_num(r['sigma_min'])}: "
            f"{fmt_ci(r['mean_sigma_min'], r['mean_sigma_min_ci_low'], r['mean_sigma_min_ci_high'])}, "
            f"σ = {fmt_num(r['sigma_max'])}: "
            f"{fmt_ci(r['mean_sigma_max'], r['mean_sigma_max_ci_low'], r['mean_sigma_max_ci_high'])}"
        )
        claims.append(trend_sentence(f"in {layer_label(layer)}, the HF power fraction of the optimised stimuli",
                                     r["rho"], r["p"], r["rho_ci_low"], r["rho_ci_high"], alpha=ctx.alpha,
                                     details=ends))
        d_fv = direction(r, ctx.alpha)
        d_patch = (
            direction(first_row(patch, layer=layer, metric="hf_fraction"), ctx.alpha) if patch is not None else None
        )
        if d_patch is None:
            verdict = "no patch result to compare"
        elif d_fv == d_patch:
            verdict = "agree" if d_fv else "agree: neither changes"
        elif 0 in (d_fv, d_patch):
            verdict = "one changes, the other does not"
        else:
            verdict = "disagree: opposite directions"
        agree_rows.append({"layer": layer, "preferred patches": WORD[d_patch], "optimised stimuli": WORD[d_fv],
                           "do they agree?": verdict})
    if agree_rows:
        sec.add(Table(pd.DataFrame(agree_rows),
                      "HF power fraction over training σ: preferred patches (dataset images) vs optimised stimuli "
                      "(dataset-free).", src.source("featvis_trends")))
        n_agree = sum(r["do they agree?"].startswith("agree") for r in agree_rows)
        claims.append(Claim(
            f"Preferred patches and optimised stimuli agree on the direction of the HF-power change in {n_agree} of "
            f"{len(agree_rows)} layers.", Verdict(None, 0)))
    sec.add(Bullets([c.text for c in claims]))
    sec.headlines = [c.text for c in claims if c.verdict.significant][:2] or [claims[-1].text] if claims else []
    return sec
