"""Section "Feature visualisation by optimisation": what each model's grid neurons want to see,
independent of the dataset, and whether it agrees with the preferred patches.

Inputs: ``featvis_summary`` / ``featvis_trends`` / ``featvis_runs`` (``results/featvis/``),
``findings`` (every claim, over training runs), per layer the figures ``featvis_grid/<layer>``
and ``featvis_spectra/<layer>``.
"""

from __future__ import annotations

import pandas as pd

from .. import runlevel as rl
from ..claims import Claim, Verdict, fmt_num, layer_label, model_label
from ..document import Bullets, Heading, Section, Table
from ..sources import Sources
from .common import Context, layer_figure, not_run

WORD = {"lower": "lower", "higher": "higher", "no detectable change": "no detectable change",
        "not testable": "not testable", "uninformative": "uninformative", None: "not measured"}


def silent(src: Sources) -> list[str]:
    """"<model> <layer>" of every model × layer where no render raised its objective (``featvis_runs``)."""
    if not src.has("featvis_runs"):
        return []
    runs = src.table("featvis_runs", ["model", "layer", "metric", "n_units"])
    sel = runs[(runs["metric"] == "hf_fraction") & (runs["n_units"].astype(float) == 0)]
    return [f"{model_label(r.model)} ({r.model}), {layer_label(r.layer)}" for r in sel.itertuples()]


def section(src: Sources, ctx: Context) -> Section:
    """Renders per layer, the run-level σ contrast of their HF power (findings), silent layers, and its
    agreement with the preferred patches' contrast."""
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
        "through the trained network alone (no blur layer in front). Its spectrum is measured with the preferred "
        "patches' definition (windowed; HF power fraction above `spectra.hf_cutoff`); a run's value is its mean "
        "over the renders that raised their objective, and the claims are tests over training runs."
    )
    quiet = silent(src)
    if quiet:
        sec.para(f"**Silent:** no render raised its objective in {rl.listing(quiet)}. These networks' channels did "
                 "not respond to any optimised stimulus at that layer (a result, not a failure); the tests use the "
                 "runs that have a value and say when too few are left.")
    tab = rl.findings(src)
    trends = src.table("featvis_trends", ["layer", "metric"])
    claims, agree_rows = [], []
    rendered = src.table("featvis_summary", ["layer"])["layer"].unique() if src.has("featvis_summary") else []
    for layer in ctx.order_layers(pd.unique(pd.Series([*rendered, *trends["layer"].unique()]))):
        sec.add(Heading(layer_label(layer)))
        for fig, title in (("featvis_grid", "Optimised stimuli across blur levels"),
                           ("featvis_spectra", "Spectra of the optimised stimuli")):
            if src.has(f"{fig}/{layer}"):
                sec.add(layer_figure(src, fig, title, layer))
        fv_row = rl.row(tab, f"featvis/{layer}/hf_fraction/sigma")
        if fv_row is None:
            continue
        claims.append(rl.sentence(fv_row, ctx.level("stats")))
        for _, r in rl.rows(tab, stage="featvis", layer=layer, metric="hf_fraction",
                            comparison=["blurpool"]).iterrows():
            claims.append(rl.sentence(r, ctx.level("stats")))
        patch = rl.row(tab, f"patches/{layer}/hf_fraction/sigma")
        d_fv = str(fv_row["verdict"])
        d_patch = str(patch["verdict"]) if patch is not None else None
        if d_patch is None:
            agree = "no patch result to compare"
        elif d_fv == d_patch:
            agree = "agree" if d_fv in rl.DIRECTIONS else f"agree: {d_fv}"
        elif d_fv in rl.DIRECTIONS and d_patch in rl.DIRECTIONS:
            agree = "disagree: opposite directions"
        else:
            agree = "one changes, the other does not" if {d_fv, d_patch} & rl.DIRECTIONS else "differ"
        agree_rows.append({"layer": layer, "preferred patches": WORD.get(d_patch, d_patch),
                           "optimised stimuli": WORD.get(d_fv, d_fv), "do they agree?": agree})
    if agree_rows:
        sec.add(Table(pd.DataFrame(agree_rows),
                      "HF power fraction, σ max vs σ 0 over training runs (primary family, Holm): preferred patches "
                      "(dataset images) vs optimised stimuli (dataset-free).", src.source("findings")))
        n_agree = sum(r["do they agree?"].startswith("agree") for r in agree_rows)
        claims.append(Claim(
            f"Preferred patches and optimised stimuli reach the same verdict on HF power in {n_agree} of "
            f"{len(agree_rows)} layers.", Verdict(None, 0)))
    sec.add(Bullets([c.text for c in claims]))
    return sec
