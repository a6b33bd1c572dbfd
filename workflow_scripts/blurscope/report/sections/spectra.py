"""Sections "Power spectra" and "Visual complexity" of the preferred patches (one report part).

Inputs: ``patch_trends``, ``patch_spectra``, ``patch_summary``,
``patch_effects``, ``complexity_table`` (``results/stats/``) and, per layer,
the figures ``models_relative_to_baseline/<layer>`` and
``models_complexity_comparison/<layer>``.
"""

from __future__ import annotations

import pandas as pd

from .. import runlevel as rl
from ..claims import (
    Claim,
    ci_name,
    fmt_interval,
    fmt_num,
    layer_label,
    order_models,
)
from ..document import Bullets, Heading, Section, Table
from ..sources import Sources
from .common import Context, first_row, layer_figure, limited_table, not_run
from .statistics import COMPLEXITY_TEXT_METRICS, metric_name


def _claims(src: Sources, ctx: Context, layer: str, metric: str, kinds: tuple[str, ...]) -> list[Claim]:
    """The findings sentences of one patch metric in ``layer``: its σ contrast, BlurPool, filter, learned."""
    tab = rl.findings(src)
    sel = rl.rows(tab, stage="patches", layer=layer, metric=metric, comparison=list(kinds))
    return [rl.sentence(r, ctx.level("stats")) for _, r in sel.iterrows()]


def section_spectra(src: Sources, ctx: Context) -> Section:
    """Per layer: spectra relative to random patches, the HF-fraction trend, HF ratios, BlurPool's effect and,
    with filter-only references, what the blur filter does to the HF fraction and what training changed."""
    sec = Section("spectra", "Power spectra of preferred patches")
    name_t, name_s = "patch_trends", "patch_spectra"
    if not src.has(name_t):
        return not_run(sec, "spectra", name_t)
    trends = src.table(name_t, ["layer", "metric"])
    spec = src.table(name_s, ["model", "layer", "bin", "freq", "ratio", "ratio_ci_low", "ratio_ci_high"])
    summ = src.table("patch_summary", ["model", "layer", "metric", "mean", "ci_low", "ci_high"])
    level = ctx.level("stats")
    cut = ctx.config.get("spectra", {}).get("hf_cutoff")
    sec.para(
        "Radial power spectra of the raw preferred patches (grey = mean RGB, mean removed, |FFT|², radial average; "
        "frequency in cycles/pixel) are compared with random patches of the same size from the same images "
        f"(the baseline). The HF power fraction is the power above {fmt_num(cut)} cycles/pixel over all non-DC power. "
        "Claims about training σ are tests over training runs (section 4; the findings table); the spectra and "
        f"ratios per model carry {ci_name(level)}s of a neuron bootstrap, which describe one network each."
    )
    layers = ctx.order_layers(trends["layer"].unique())
    rows = []
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        title = "Power spectra relative to the random-patch baseline"
        sec.add(layer_figure(src, "models_relative_to_baseline", title, layer))
        claims: list[Claim] = _claims(src, ctx, layer, "hf_fraction", ("sigma",))
        sl = spec[spec["layer"] == layer]
        claims += _claims(src, ctx, layer, "hf_fraction", ("blurpool", "filter", "learned"))
        sec.add(Bullets([c.text for c in claims]))
        for m in order_models(summ.loc[summ["layer"] == layer, "model"].unique()):
            h = first_row(summ, layer=layer, model=m, metric="hf_fraction")
            lo_bin = sl[sl["model"] == m].sort_values("freq")
            rows.append(
                {
                    "layer": layer,
                    "model": m,
                    "HF power fraction": fmt_interval(
                        *(h[["mean", "ci_low", "ci_high"]] if h is not None else [None] * 3)
                    ),
                    "ratio, lowest bin": (
                        fmt_interval(*lo_bin.iloc[0][["ratio", "ratio_ci_low", "ratio_ci_high"]])
                        if len(lo_bin)
                        else "n/a"
                    ),
                    "ratio, highest bin": (
                        fmt_interval(*lo_bin.iloc[-1][["ratio", "ratio_ci_low", "ratio_ci_high"]])
                        if len(lo_bin)
                        else "n/a"
                    ),
                }
            )
    sec.to_appendix(
        limited_table(
            pd.DataFrame(rows),
            f"HF power fraction and model/baseline power ratio at the lowest and highest frequency bins, per model "
            f"(bracket: {ci_name(level)} of a neuron bootstrap: one network each).",
            src.source(name_s),
            ctx.max_rows,
        )
    )
    return sec


def section_complexity(src: Sources, ctx: Context) -> Section:
    """Per layer: the complexity figure and the σ trend of each complexity measure; the summary table."""
    sec = Section("complexity", "Visual complexity of preferred patches")
    name_t = "patch_trends"
    if not src.has(name_t):
        return not_run(sec, "spectra", name_t)
    trends = src.table(name_t, ["layer", "metric"])
    sp = ctx.config.get("spectra", {})
    sec.para(
        f"Six complexity measures of the raw preferred patches (JPEG q = {fmt_num(sp.get('jpeg_quality'))} compression "
        f"ratio; grey-level entropy in bits; fraction of Sobel magnitudes > {fmt_num(sp.get('edge_threshold'))} "
        f"(edge density) and their mean (edge strength); {sp.get('wavelet', 'db4')} wavelet energy fractions over "
        f"{fmt_num(sp.get('wavelet_levels'))} levels and total wavelet energy), with neuron-level bootstrap "
        f"{ci_name(ctx.level('stats'))}s."
    )
    for layer in ctx.order_layers(trends["layer"].unique()):
        sec.add(Heading(layer_label(layer)))
        sec.add(layer_figure(src, "models_complexity_comparison", "Complexity measures across models", layer))
        claims = [c for metric in COMPLEXITY_TEXT_METRICS for c in _claims(src, ctx, layer, metric, ("sigma",))]
        sec.add(Bullets([c.text for c in claims]))
    if src.has("complexity_table"):
        ct = src.table("complexity_table", ["model", "sigma", "layer", "n_replicates"])
        metrics = [c[: -len("_mean")] for c in ct.columns if c.endswith("_mean") and f"{c[:-5]}_sem" in ct.columns]
        rows = []
        for r in ct.to_dict("records"):
            base = r["model"] == "baseline"
            row = {
                "model": r["model"],
                "σ": fmt_num(r["sigma"]) if not base else "–",
                "training runs": fmt_num(r["n_replicates"]) if not base else "–",
            }
            for m in metrics:
                row[metric_name(m)] = f"{fmt_num(r[f'{m}_mean'])} ± {fmt_num(r[f'{m}_sem'], 2)}"
            rows.append(row)
        layer = str(ct["layer"].iloc[0])
        sec.add(
            Table(
                pd.DataFrame(rows),
                f"Complexity summary, {layer_label(layer)}: mean ± bootstrap SEM (the layout of §3.3 of the VITAL "
                "feature-analysis report); one row per σ model, its training runs resampled together.",
                src.source("complexity_table"),
            )
        )
    return sec
