"""Sections "Power spectra" and "Visual complexity" of the preferred patches (one report part).

Inputs: ``patch_trends``, ``patch_spectra``, ``patch_summary``,
``patch_effects``, ``complexity_table`` (``results/stats/``) and, per layer,
the figures ``models_relative_to_baseline/<layer>`` and
``models_complexity_comparison/<layer>``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..claims import (
    Claim,
    against_value_sentence,
    ci_name,
    fmt_ci,
    fmt_interval,
    fmt_num,
    layer_label,
    model_label,
    order_models,
    sigma_label,
    trend_sentence,
)
from ..document import Bullets, Heading, Section, Table
from ..sources import Sources
from .common import Context, difference_claim, first_row, layer_figure, limited_table, not_run
from .statistics import (
    COMPLEXITY_TEXT_METRICS,
    EFFECT_COLUMNS,
    TREND_COLUMNS,
    is_reference,
    metric_name,
    metric_unit,
    pairing_text,
    runs,
    trend_scope,
)


def _endpoint(row: pd.Series, end: str, level: float, unit: str) -> str:
    """The mean at ``end`` (``sigma_min`` | ``sigma_max``) of one ``patch_trends`` row, with its CI and runs."""
    value = fmt_ci(row[f"mean_{end}"], row[f"mean_{end}_ci_low"], row[f"mean_{end}_ci_high"], level, unit)
    n = runs(row[f"n_replicates_{end}"])
    return f"{sigma_label(row[end])}: {value}" + (f" ({n})" if n else "")


def _trend_claim(row: pd.Series, quantity: str, ctx: Context, unit: str = "") -> Claim:
    """The σ trend of one ``patch_trends`` row (verdict from the Holm p), with the CI of ρ and the endpoint
    means, their CIs and how many training runs stand behind each."""
    level = ctx.level("stats")
    det = (
        f"; ρ {ci_name(level)} [{fmt_num(row['rho_ci_low'], 2)}, {fmt_num(row['rho_ci_high'], 2)}]"
        f"; {_endpoint(row, 'sigma_min', level, unit)}, {_endpoint(row, 'sigma_max', level, unit)}"
    )
    return trend_sentence(quantity, row["rho"], row["p_holm"], alpha=ctx.alpha, p_label="Holm-adjusted p", details=det)


def _effect_claim(row: pd.Series, ctx: Context, quantity: str, unit: str) -> Claim:
    """The difference against its reference of one ``patch_effects`` row, with Cohen's d and the training runs."""
    level = ctx.level("stats")
    ref = model_label(row["reference"])
    return difference_claim(
        f"In {layer_label(row['layer'])}, the {model_label(row['model'])} model",
        quantity,
        f"{ref} ({pairing_text(row['paired'])})",
        row,
        alpha=ctx.alpha,
        level=level,
        unit=unit,
        effect=f"Cohen's d = {fmt_num(row['cohens_d'], 2)}; ",
    )


def _reference_claims(eff: pd.DataFrame, layer: str, metric: str, quantity: str, ctx: Context) -> list[Claim]:
    """For each σ with a filter-only reference: what the blur filter alone does (reference − σ = 0) and what
    training changed (trained − reference) to ``metric`` in ``layer``."""
    level = ctx.level("stats")
    base = f"sigma{ctx.sigmas[0]:g}"
    claims = []
    sel = eff[(eff["layer"] == layer) & (eff["metric"] == metric) & eff["reference"].map(is_reference)]
    for r in sel.itertuples():
        f = first_row(eff, layer=layer, metric=metric, model=r.reference, reference=base)
        sig = model_label(r.model)
        if f is not None:
            claims.append(
                difference_claim(
                    f"In {layer_label(layer)}, the {sig} blur filter alone (σ = 0 network behind it, untrained for it)",
                    quantity,
                    model_label(base),
                    f,
                    alpha=ctx.alpha,
                    level=level,
                )
            )
        claims.append(
            difference_claim(
                f"Training with the {sig} blur",
                quantity,
                "its filter-only reference",
                r,
                alpha=ctx.alpha,
                level=level,
            )
        )
    return claims


def section_spectra(src: Sources, ctx: Context) -> Section:
    """Per layer: spectra relative to random patches, the HF-fraction trend, HF ratios, BlurPool's effect and,
    with filter-only references, what the blur filter does to the HF fraction and what training changed."""
    sec = Section("spectra", "Power spectra of preferred patches")
    name_t, name_s = "patch_trends", "patch_spectra"
    if not src.has(name_t):
        return not_run(sec, "spectra", name_t)
    trends = src.table(name_t, TREND_COLUMNS)
    spec = src.table(name_s, ["model", "layer", "bin", "freq", "ratio", "ratio_ci_low", "ratio_ci_high"])
    summ = src.table("patch_summary", ["model", "layer", "metric", "mean", "ci_low", "ci_high"])
    level = ctx.level("stats")
    cut = ctx.config.get("spectra", {}).get("hf_cutoff")
    scope = trend_scope(trends)
    sec.para(
        "Radial power spectra of the raw preferred patches (grey = mean RGB, mean removed, |FFT|², radial average; "
        "frequency in cycles/pixel) are compared with random patches of the same size from the same images "
        f"(the baseline). The HF power fraction is the power above {fmt_num(cut)} cycles/pixel over all non-DC power. "
        f"Intervals are {ci_name(level)}s of a neuron-level bootstrap "
        f"({fmt_num(ctx.config.get('stats', {}).get('bootstrap_iterations'))} resamples; several training runs of "
        "one σ: the runs resampled first); trends over σ are Spearman ρ"
        + (f" ({scope})" if scope else "")
        + " with a permutation p, Holm-adjusted over all metrics × layers."
    )
    layers = ctx.order_layers(trends["layer"].unique())
    rows = []
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        title = "Power spectra relative to the random-patch baseline"
        sec.add(layer_figure(src, "models_relative_to_baseline", title, layer))
        claims: list[Claim] = []
        tr = first_row(trends, layer=layer, metric="hf_fraction")
        if tr is not None:
            claims.append(_trend_claim(tr, f"in {layer_label(layer)}, the HF power fraction of preferred patches", ctx))
        sl = spec[spec["layer"] == layer]
        if not sl.empty:
            top_bin = sl.loc[sl["freq"].astype(float).idxmax()]
            f_top = float(top_bin["freq"])
            for m in order_models(m for m in sl["model"].unique() if m != "baseline"):
                r = sl[(sl["model"] == m) & np.isclose(sl["freq"].astype(float), f_top)]
                if r.empty:
                    continue
                r = r.iloc[0]
                if m in ("sigma0", f"sigma{ctx.sigmas[-1]:g}", "blurpool"):
                    claims.append(
                        against_value_sentence(
                            f"{model_label(m)}, highest frequency bin ({fmt_num(f_top)} cycles/pixel)",
                            "power relative to random patches",
                            r["ratio"],
                            r["ratio_ci_low"],
                            r["ratio_ci_high"],
                            1.0,
                            "the baseline ratio",
                            level=level,
                            above="more HF power than random patches,",
                            below="less HF power than random patches,",
                        )
                    )
        eff = src.table("patch_effects", EFFECT_COLUMNS) if src.has("patch_effects") else None
        if eff is not None:
            e = first_row(eff, layer=layer, metric="hf_fraction", model="blurpool", reference=f"sigma{ctx.sigmas[0]:g}")
            if e is not None:
                claims.append(_effect_claim(e, ctx, "the HF power fraction", ""))
            claims += _reference_claims(eff, layer, "hf_fraction", "the HF power fraction", ctx)
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
    sec.add(
        limited_table(
            pd.DataFrame(rows),
            f"HF power fraction and model/baseline power ratio at the lowest and highest frequency bins "
            f"(bracket: {ci_name(level)}).",
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
    trends = src.table(name_t, TREND_COLUMNS)
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
        claims = []
        for metric in COMPLEXITY_TEXT_METRICS:
            tr = first_row(trends, layer=layer, metric=metric)
            if tr is not None:
                claims.append(_trend_claim(tr, f"{metric_name(metric)}", ctx, metric_unit(metric)))
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
