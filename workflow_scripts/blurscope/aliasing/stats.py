"""Statistics of the aliasing tables: intervals, paired tests, AVR–SIS correlation, σ trend.

:func:`aliasing_statistics` turns the per-model tables of
:func:`blurscope.aliasing.measure.analyse_images` (rule ``avr_sis``) into the rule
``aliasing_stats`` tables. Every interval, test and correlation comes from
:mod:`blurscope.stats` (docs/statistics.md): :func:`~blurscope.stats.paired_test`
for model vs reference on the same images (conditional on those networks: image-level
tests say nothing about another training run), :func:`~blurscope.stats.correlation` for
AVR vs SIS, and the run-level σ contrast :func:`~blurscope.stats.sigma_table` over each
run's mean (docs/statistics.md, "The design"). Numpy and pandas only: the statistics job
does not import torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from blurscope.stats import (
    correlation,
    holm,
    neuron_bootstrap,
    paired_test,
    replicate_groups,
    sigma_table,
)

IMAGE_METRICS: tuple[str, ...] = ("sis", "consistency", "correct")
"""Per-image output metrics (one value per image, repeated on every layer row)."""

AVR_METRICS: tuple[str, ...] = ("avr_radial", "avr_separable")


def _per_image(table: pd.DataFrame, model: str) -> pd.DataFrame:
    need = {"image", "image_id", "point", "layer", *IMAGE_METRICS, *AVR_METRICS}
    missing = need - set(table.columns)
    if missing:
        raise ValueError(f"aliasing table of model {model!r} lacks columns {sorted(missing)}")
    return table.drop_duplicates("image").set_index("image").sort_index()


def _wide_avr(table: pd.DataFrame) -> pd.DataFrame:
    """``[n_images, (point, metric)]`` AVR values, points in execution order."""
    wide = table.pivot(index="image", columns="point", values=list(AVR_METRICS)).sort_index()
    return wide.swaplevel(axis=1)


def _points_in_order(table: pd.DataFrame) -> list[str]:
    return table.drop_duplicates("point").sort_values("order")["point"].tolist()


def aliasing_statistics(
    tables: Mapping[str, pd.DataFrame],
    sigmas: Mapping[str, float],
    antialiased: Mapping[str, bool],
    standard: str,
    iterations: int = 1000,
    permutations: int = 1000,
    seed: int = 0,
    group_of: Mapping[str, str] | None = None,
    references: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """All aliasing statistics from the per-model ``avr_sis`` tables.

    Args:
        tables: ``{model id: table}`` as written by :func:`analyse_images`
            (``point`` = canonical standard-model layer name), every model on the same images.
        sigmas: training σ of each model (config units); antialiased: BlurPool flag.
        standard: the reference model (standard net at σ = 0, e.g. ``"sigma0"``); its
            replicate group is the reference condition of ``paired``.
        iterations: bootstrap resamples (images are the units; replicate models are
            resampled too); permutations: relabellings of the correlation test and the
            σ trend; seed: RNG seed (the same for every row, so every model is resampled
            on the same images).
        group_of: ``{model: group}`` of the training replicates (``sigma6-seed1`` →
            ``sigma6``); a model without an entry is its own group.
        references: ``{trained group: filter-only reference model}`` (the σ 0 network
            behind the σ blur; the σ 0 group is its own reference); reference models
            stay out of the σ trend.

    Returns:
        ``summary`` (model × point × metric: ``mean sd sem ci_low ci_high n_images``),
        ``paired`` (each group vs the standard group and vs its filter reference, on the
        same images, per point and output metric: :func:`blurscope.stats.paired_test`
        columns; Holm within each group × reference), ``correlation`` (AVR–SIS per model
        × point × region: :func:`blurscope.stats.correlation`; Holm within model ×
        region), ``sigma_trend`` (:func:`blurscope.stats.sigma_table` per point × metric over
        the standard-architecture σ runs, each run's mean over the images; the BlurPool
        runs' means beside it, ``mean_<model>``), ``runs`` (one value per model × point ×
        metric: ``model group sigma point metric value``).

    Raises:
        ValueError: missing model/columns, or models measured on different images.
    """
    if standard not in tables:
        raise ValueError(f"aliasing.standard_model {standard!r} has no table; models: {sorted(tables)}")
    per_img = {m: _per_image(t, m) for m, t in tables.items()}
    ref_ids = per_img[standard]["image_id"].to_numpy()
    for m, df in per_img.items():
        if not np.array_equal(df["image_id"].to_numpy(), ref_ids):
            raise ValueError(f"models {standard!r} and {m!r} were measured on different images "
                             "(image_id columns differ); rerun avr_sis on the same analysis images")
    wide = {m: _wide_avr(t) for m, t in tables.items()}
    layer_of = {m: dict(zip(t["point"], t["layer"])) for m, t in tables.items()}
    order = _points_in_order(tables[standard])
    groups = replicate_groups(list(tables), group_of)
    group_of_model = {m: g for g, ms in groups.items() for m in ms}
    standard_group = group_of_model[standard]
    references = dict(references or {})
    unknown = sorted({*references, *references.values()} - set(groups))
    if unknown:
        raise ValueError(f"aliasing references name models without a table: {unknown}")

    def values(m: str, p: str, met: str) -> np.ndarray:
        if p == "output":
            return per_img[m][met].to_numpy(dtype=float)
        return wide[m][(p, met)].to_numpy(dtype=float)

    keys_of = {m: [(p, met) for p in _points_in_order(tables[m]) for met in AVR_METRICS]
               + [("output", k) for k in IMAGE_METRICS] for m in tables}

    # --- summary (one row per model: replicates are rows of their own)
    rows = []
    for m in tables:
        keys = keys_of[m]
        vals = np.column_stack([values(m, p, met) for p, met in keys])
        res = neuron_bootstrap(vals[:, None, :], iterations, seed)  # images are the units
        sd = np.nanstd(vals, axis=0, ddof=1) if len(vals) > 1 else np.full(len(keys), np.nan)
        for i, (p, met) in enumerate(keys):
            rows.append({"model": m, "group": group_of_model[m], "sigma": sigmas[m],
                         "antialiased": int(antialiased[m]), "point": p, "layer": layer_of[m].get(p, "output"),
                         "metric": met, "mean": res["mean"][i], "sd": sd[i], "sem": res["sem"][i],
                         "ci_low": res["ci_low"][i], "ci_high": res["ci_high"][i], "n_images": len(vals)})
    summary = pd.DataFrame(rows)

    # --- paired: every group vs the standard group, and vs its filter-only reference
    comparisons = [(g, standard_group) for g in groups if g != standard_group]
    comparisons += [(g, r) for g, r in references.items()]
    rows = []
    for g, ref in comparisons:
        a_models, b_models = groups[g], groups[ref]
        first, ref_first = a_models[0], b_models[0]
        block = []
        for p, met in [(p, met) for p in order for met in AVR_METRICS] + [("output", k) for k in IMAGE_METRICS]:
            if p != "output" and not (all(p in layer_of[m] for m in a_models)
                                      and all(p in layer_of[m] for m in b_models)):
                continue
            r = paired_test([values(m, p, met) for m in a_models], [values(m, p, met) for m in b_models],
                            iterations, seed)
            block.append({"point": p, "ref_layer": layer_of[ref_first].get(p, "output"),
                          "layer": layer_of[first].get(p, "output"), "metric": met,
                          **{("n_images" if k == "n" else k): v for k, v in r.items()}})
        bdf = pd.DataFrame(block)
        bdf.insert(0, "reference", ref)
        bdf.insert(0, "antialiased", int(antialiased[first]))
        bdf.insert(0, "sigma", sigmas[first])
        bdf.insert(0, "model", g)
        bdf["p_holm"] = holm(bdf["p"].to_numpy(dtype=float))
        rows.append(bdf)
    paired = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()

    # --- AVR–SIS correlation (per model)
    rows = []
    for m in tables:
        s_vals = per_img[m]["sis"].to_numpy(dtype=float)
        for met in AVR_METRICS:
            block = []
            for p in _points_in_order(tables[m]):
                r = correlation(wide[m][(p, met)].to_numpy(), s_vals, iterations, permutations, seed)
                block.append({"model": m, "group": group_of_model[m], "sigma": sigmas[m],
                              "antialiased": int(antialiased[m]), "point": p, "layer": layer_of[m][p],
                              "region": met.removeprefix("avr_"),
                              **{("n_images" if k == "n" else k): v for k, v in r.items()}})
            bdf = pd.DataFrame(block)
            bdf["p_holm"] = holm(bdf["p"].to_numpy(dtype=float))
            bdf["pearson_p_holm"] = holm(bdf["pearson_p"].to_numpy(dtype=float))
            rows.append(bdf)
    correlation_table = pd.concat(rows, ignore_index=True)

    # --- σ contrast over training runs (standard architecture, σ series: replicates in, filter references
    # out): each run's mean over the images, the run-level design of docs/statistics.md
    ref_models = {m for g, r in references.items() if r != g for m in groups[r]}
    std_models = sorted([m for m in tables if not antialiased[m] and m not in ref_models], key=lambda m: sigmas[m])
    aa_models = [m for m in tables if antialiased[m]]
    keys = [(p, met) for p in order for met in AVR_METRICS] + [("output", k) for k in IMAGE_METRICS]
    run_rows = [{"model": m, "point": p, "metric": met, "value": float(np.nanmean(values(m, p, met)))}
                for m in tables for p, met in keys if p == "output" or p in layer_of[m]]
    runs = pd.DataFrame(run_rows, columns=["model", "point", "metric", "value"])
    std_groups = replicate_groups(std_models, group_of)
    sigma_of_group = {g: sigmas[ms[0]] for g, ms in groups.items()}
    trend = sigma_table(runs[runs["model"].isin(std_models)], ["point", "metric"], list(std_groups), sigma_of_group,
                        group_of_model)
    trend.insert(2, "sigmas", ",".join(f"{v:g}" for v in sorted({sigmas[m] for m in std_models})))
    for m in aa_models:
        sel = runs[runs["model"] == m].set_index(["point", "metric"])["value"]
        trend[f"mean_{m}"] = [sel.get((p, met), math.nan) for p, met in zip(trend["point"], trend["metric"])]
    runs.insert(1, "group", runs["model"].map(group_of_model))
    runs.insert(2, "sigma", runs["model"].map(sigmas))
    return {"summary": summary, "paired": paired, "correlation": correlation_table, "sigma_trend": trend,
            "runs": runs}
