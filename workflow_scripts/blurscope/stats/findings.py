"""The findings table: every claim about training σ, tested over training runs, in one table.

:func:`findings` gathers the run-level rows of every stage (docs/statistics.md, "The
design") into ``results/stats/findings.tsv`` — the one table the report's summary,
findings table and sections quote, so that one claim has one number and one verdict:

* the **primary family** — the σ max vs σ 0 contrast of HF power, edge density and
  entropy of the preferred patches and of HF power of the optimised stimuli, at each
  analysed layer (rows of ``patch_trends`` / ``featvis_trends`` with ``family ==
  "primary"``), Holm-adjusted together (:func:`blurscope.stats.primary_family`);
* **exploratory** rows, each judged by its own p and t interval: the other σ contrasts
  (patch and featvis measures, shift instability, band centroids, the deployed-model
  measures, accuracy, the stem kernels), BlurPool against σ 0, and for each filter-only
  reference σ the filter alone (reference run − the σ 0 run it is built on, paired) and
  what training changed (trained runs − reference runs).

Rows are copied from the stage tables unchanged (same numbers), or computed here from
the stages' per-model values with the same functions. Numpy and pandas only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from blurscope import stats

COLUMNS = ["claim", "stage", "measure", "layer", "metric", "comparison", "effect", "family", "sigma_from", "sigma_to",
           "model", "reference", "mean_from", "mean_to", "diff", "diff_ci_low", "diff_ci_high", "rel_change", "t",
           "df", "p", "p_holm", "verdict", "n_runs_from", "n_runs_to", "test", "note", "source"]
"""Columns of :func:`findings` (``from`` = σ 0 / the reference side, ``to`` = σ max / the compared side)."""

CEILING_MARGIN = 0.05
"""A proportion (shape bias, consistency, accuracy) within this distance of 0 or 1 in *every* model has no room
to move: its rows are ``uninformative`` (a property of the [0, 1] scale, not of an image size)."""

PROPORTIONS = {"shape_bias", "clean_acc", "corruption_acc"}
"""Decision rates of a fixed test set on the [0, 1] scale, checked against :data:`CEILING_MARGIN` (shift consistency
is not: SIS, its continuous twin, measures the same thing without a ceiling)."""

DEPLOYED_MEASURES = {
    # metric: (stage, readable name)
    "sis": ("aliasing", "shift instability (SIS)"),
    "consistency": ("aliasing", "shift consistency"),
    "f_rev_cpp": ("frequency", "f_rev (hybrid-image reversal, cyc/px)"),
    "f_half_cpp": ("frequency", "f_0.5 of PGD perturbations (cyc/px)"),
    "shape_bias": ("frequency", "shape bias (cue conflict)"),
    "corruption_acc": ("frequency", "mean accuracy under corruptions"),
    "corruption_rel": ("frequency", "corruption accuracy relative to clean accuracy"),
    "clean_acc": ("accuracy", "clean accuracy"),
}
PATCH_NAMES = {
    "hf_fraction": "HF power of preferred patches",
    "edge_density": "edge density of preferred patches",
    "entropy": "entropy of preferred patches",
    "compression_ratio": "JPEG compression ratio of preferred patches",
    "edge_strength": "mean edge strength of preferred patches",
    "wavelet_approx": "wavelet approximation-energy fraction of preferred patches",
    "wavelet_h": "wavelet horizontal-detail fraction of preferred patches",
    "wavelet_v": "wavelet vertical-detail fraction of preferred patches",
    "wavelet_d": "wavelet diagonal-detail fraction of preferred patches",
    "wavelet_energy": "total wavelet energy of preferred patches",
}
FEATVIS_NAMES = {"hf_fraction": "HF power of optimised stimuli", "peak_freq": "peak frequency of optimised stimuli"}


def _name(metric: str, names: Mapping[str, str], what: str) -> str:
    return names.get(metric, f"{metric.replace('_', ' ')} of {what}")


def _from_trend(tab: pd.DataFrame, stage: str, key: str, names: Mapping[str, str], what: str, effect: str,
                source: str) -> list[dict]:
    """σ contrast rows of a stage table (``sigma_table`` columns) as findings rows."""
    rows = []
    for r in tab.to_dict("records"):
        layer = str(r.get(key, ""))
        metric = str(r.get("metric", r.get("y", r.get("statistic", ""))))
        rows.append({
            "claim": f"{stage}/{layer}/{metric}/sigma", "stage": stage, "measure": _name(metric, names, what),
            "layer": layer, "metric": metric, "comparison": "sigma", "effect": effect,
            "family": r.get("family", stats.EXPLORATORY), "sigma_from": r["sigma_min"], "sigma_to": r["sigma_max"],
            "model": "", "reference": "", "mean_from": r["mean_sigma_min"], "mean_to": r["mean_sigma_max"],
            **{k: r[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "rel_change", "t", "df", "p", "test")},
            "n_runs_from": r["n_runs_sigma_min"], "n_runs_to": r["n_runs_sigma_max"], "note": r.get("note", ""),
            "source": source,
        })
    return rows


def _from_comparisons(tab: pd.DataFrame, stage: str, key: str, names: Mapping[str, str], what: str,
                      effects: Mapping[str, str], sigma_from: Mapping[str, float], source: str,
                      kinds: Sequence[str] = ("blurpool", "filter", "learned")) -> list[dict]:
    """Comparison rows (``comparison_table`` columns) of the given kinds as findings rows."""
    rows = []
    for r in tab[tab["comparison"].isin(kinds)].to_dict("records"):
        layer = str(r.get(key, ""))
        metric = str(r["metric"])
        kind = str(r["comparison"])
        rows.append({
            "claim": f"{stage}/{layer}/{metric}/{kind}/{r['model']}", "stage": stage,
            "measure": _name(metric, names, what), "layer": layer, "metric": metric, "comparison": kind,
            "effect": effects[kind], "family": stats.EXPLORATORY,
            "sigma_from": sigma_from.get(str(r["reference"]), math.nan), "sigma_to": r["sigma"],
            "model": r["model"], "reference": r["reference"], "mean_from": r["reference_mean"], "mean_to": r["mean"],
            **{k: r[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "rel_change", "t", "df", "p", "test")},
            "n_runs_from": r["n_runs_reference"], "n_runs_to": r["n_runs"], "note": r.get("note", ""),
            "source": source,
        })
    return rows


EFFECTS = {
    "sigma": "learned (trained networks, clear input)",
    "blurpool": "architecture (BlurPool − σ 0)",
    "filter": "filter (σ 0 network behind the blur − the same network alone)",
    "learned": "learned (trained σ model − its filter-only reference)",
}
DEPLOYED_EFFECT = "as deployed (training + its blur: filter and training mixed)"
"""What a deployed-model σ trend measures: each σ model behind its own blur, so training and filter together."""


def deployed_runs(aliasing_runs: pd.DataFrame | None, frequency_summary: pd.DataFrame | None) -> pd.DataFrame:
    """One value per model of every deployed-model measure: ``model metric value`` (SIS and consistency at the
    network output from the aliasing runs, f_rev, f_0.5, shape bias, corruption and clean accuracy from the
    frequency summary)."""
    parts = []
    if aliasing_runs is not None and len(aliasing_runs):
        out = aliasing_runs[(aliasing_runs["point"] == "output") & aliasing_runs["metric"].isin(["sis", "consistency"])]
        parts.append(out[["model", "metric", "value"]])
    if frequency_summary is not None and len(frequency_summary):
        cols = [c for c in DEPLOYED_MEASURES if c in frequency_summary.columns]
        parts.append(frequency_summary.melt(id_vars=["model"], value_vars=cols, var_name="metric", value_name="value"))
    if not parts:
        return pd.DataFrame(columns=["model", "metric", "value"])
    return pd.concat(parts, ignore_index=True)


def deployed_rows(runs: pd.DataFrame, sigma_of: Mapping[str, float], group_of: Mapping[str, str],
                  references: Mapping[str, str], series: Sequence[str], blurpool: Sequence[str], ci: float,
                  source: str) -> list[dict]:
    """Run-level BlurPool, filter and learned rows of the deployed-model measures (see :func:`findings`)."""
    if runs.empty:
        return []
    base = series[0]
    comparisons = [("blurpool", g, base, False) for g in blurpool]
    comparisons += [("filter", r, base, True) for r in references]
    comparisons += [("learned", g, r, False) for r, g in references.items()]
    sig_group = {str(group_of.get(m, m)): float(s) for m, s in sigma_of.items()}
    tab = stats.comparison_table(runs.assign(layer="output"), ["layer", "metric"], comparisons, dict(group_of),
                                 sig_group, ci=ci)
    names = {k: v[1] for k, v in DEPLOYED_MEASURES.items()}
    rows = _from_comparisons(tab, "deployed", "layer", names, "the deployed model", EFFECTS, sig_group, source)
    for r in rows:
        r["stage"] = DEPLOYED_MEASURES.get(r["metric"], ("deployed",))[0]
        r["claim"] = f"{r['stage']}/output/{r['metric']}/{r['comparison']}/{r['model']}"
        r["layer"] = ""
    return rows


def _ceiling(rows: pd.DataFrame, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Mark the rows of a proportion that sits within :data:`CEILING_MARGIN` of 0 or 1 in every model."""
    out = rows.copy()
    for metric, vals in values.items():
        v = np.asarray(vals, dtype=np.float64)
        v = v[np.isfinite(v)]
        if metric not in PROPORTIONS or not v.size:
            continue
        top, bottom = bool((v >= 1 - CEILING_MARGIN).all()), bool((v <= CEILING_MARGIN).all())
        if top or bottom:
            bound = "ceiling" if top else "floor"
            note = (f"uninformative: at its {bound} in every model ({v.min():.3g}–{v.max():.3g}, within "
                    f"{CEILING_MARGIN:g} of {'1' if top else '0'})")
            sel = out["metric"] == metric
            out.loc[sel, "note"] = note
    return out


def findings(
    *,
    patch_trends: pd.DataFrame | None = None,
    patch_effects: pd.DataFrame | None = None,
    featvis_trends: pd.DataFrame | None = None,
    featvis_effects: pd.DataFrame | None = None,
    aliasing_trend: pd.DataFrame | None = None,
    aliasing_runs: pd.DataFrame | None = None,
    frequency_trends: pd.DataFrame | None = None,
    frequency_summary: pd.DataFrame | None = None,
    band_trend: pd.DataFrame | None = None,
    stem: pd.DataFrame | None = None,
    sigma_of: Mapping[str, float] | None = None,
    group_of: Mapping[str, str] | None = None,
    series: Sequence[str] = (),
    references: Mapping[str, str] | None = None,
    blurpool: Sequence[str] = (),
    sources: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Every run-level claim of a run in one table (:data:`COLUMNS`), Holm over the primary family, verdicts.

    Args:
        patch_trends, patch_effects, featvis_trends, featvis_effects: the stage tables
            (``sigma_table`` / comparison columns).
        aliasing_trend: ``aliasing/stats/sigma_trend.tsv`` (its ``output`` rows are used);
            aliasing_runs: ``aliasing/stats/runs.tsv``.
        frequency_trends, frequency_summary: ``frequency/trends.tsv``, ``frequency/summary.tsv``.
        band_trend: ``bands/band_trend.tsv``; stem: ``model weights mean`` (each model's mean kernel HF energy;
            the ``trained`` rows are used).
        sigma_of, group_of: σ and replicate group of every model id (references included).
        series: the σ series' group ids (σ ascending; the first is σ 0).
        references: ``{reference group: trained group}`` (``ref-sigma6`` → ``sigma6``).
        blurpool: the BlurPool group id(s).
        sources: ``{input name: path}`` written into ``source``.
        alpha, ci: level of every verdict and of the t intervals.
    """
    src = dict(sources or {})
    sigma_of, group_of, references = dict(sigma_of or {}), dict(group_of or {}), dict(references or {})
    rows: list[dict] = []
    if patch_trends is not None:
        rows += _from_trend(patch_trends, "patches", "layer", PATCH_NAMES, "preferred patches", EFFECTS["sigma"],
                            src.get("patch_trends", ""))
    if featvis_trends is not None:
        rows += _from_trend(featvis_trends, "featvis", "layer", FEATVIS_NAMES, "optimised stimuli",
                            "learned (dataset-free, network alone)", src.get("featvis_trends", ""))
    sig_group = {str(group_of.get(m, m)): float(s) for m, s in sigma_of.items()}
    if patch_effects is not None:
        rows += _from_comparisons(patch_effects, "patches", "layer", PATCH_NAMES, "preferred patches", EFFECTS,
                                  sig_group, src.get("patch_effects", ""))
    if featvis_effects is not None:
        rows += _from_comparisons(featvis_effects, "featvis", "layer", FEATVIS_NAMES, "optimised stimuli", EFFECTS,
                                  sig_group, src.get("featvis_effects", ""))
    names = {k: v[1] for k, v in DEPLOYED_MEASURES.items()}
    if aliasing_trend is not None:
        out = aliasing_trend[(aliasing_trend["point"] == "output") & aliasing_trend["metric"].isin(["sis",
                                                                                                     "consistency"])]
        got = _from_trend(out, "aliasing", "point", names, "the deployed model", DEPLOYED_EFFECT,
                          src.get("aliasing_sigma_trend", ""))
        for r in got:
            r["layer"], r["claim"] = "", f"aliasing/output/{r['metric']}/sigma"
        rows += got
    if frequency_trends is not None:
        got = _from_trend(frequency_trends, "frequency", "x", names, "the deployed model", DEPLOYED_EFFECT,
                          src.get("frequency_trends", ""))
        for r in got:
            r["layer"], r["claim"] = "", f"frequency/output/{r['metric']}/sigma"
            if r["metric"] == "clean_acc":
                r["stage"], r["claim"] = "accuracy", "accuracy/output/clean_acc/sigma"
        rows += got
    if band_trend is not None:
        for r in band_trend.to_dict("records"):
            got = _from_trend(pd.DataFrame([r]), "bands", "layer", {}, "band intervention", EFFECTS["sigma"],
                              src.get("band_trend", ""))
            got[0]["metric"] = f"{r['statistic']}_{r['head']}"
            got[0]["measure"] = (f"band centroid of {'accuracy' if r['statistic'] == 'centroid_acc' else 'GT rank'} "
                                 f"({r['head']} head)")
            got[0]["claim"] = f"bands/{r['layer']}/{got[0]['metric']}/sigma"
            rows += got
    if stem is not None and len(stem):
        st = stem[stem["weights"] == "trained"]
        st = st[st["model"].map(lambda m: str(group_of.get(m, m)) in series)]
        if len(st):
            tab = stats.sigma_table(st.assign(value=st["mean"], key="stem_hf")[["model", "key", "value"]], ["key"],
                                    list(series), sig_group, group_of, ci=ci)
            got = _from_trend(tab.assign(layer="stem", metric="stem_hf"), "stem", "layer",
                              {"stem_hf": "HF energy of the first-layer kernels"}, "", "learned (the weights)",
                              src.get("stem_table", ""))
            rows += got
    runs = deployed_runs(aliasing_runs, frequency_summary)
    rows += deployed_rows(runs, sigma_of, group_of, references, list(series), list(blurpool), ci,
                          "; ".join(s for s in (src.get("aliasing_runs", ""), src.get("frequency_summary", "")) if s))
    table = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("p_holm", "verdict")])
    table["note"] = table["note"].fillna("").astype(str)
    values = {m: runs.loc[runs["metric"] == m, "value"].to_numpy(dtype=float) for m in runs["metric"].unique()}
    table = _ceiling(table, values)
    table = stats.primary_family(table, alpha=alpha)
    return table[COLUMNS]
