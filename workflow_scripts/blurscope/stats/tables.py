"""Replicate groups and the table builders: tidy bootstrap, spectrum, trend and effects tables, formatting.

:func:`replicate_groups` and :func:`filter_references` say which models form one
condition and which filter-only reference each is compared with; :func:`tidy_bootstrap`,
:func:`spectrum_table`, :func:`trend_table` and :func:`effects_table` turn the
statistics of the other submodules into the pipeline's tables (columns
:data:`TREND_COLUMNS`, :data:`TREND_SUMMARY_COLUMNS`, :data:`EFFECT_COLUMNS`);
:func:`seed_table`, :func:`format_mean_sem`, :func:`to_markdown` and
:func:`patch_matrix` format and reshape them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._common import Replicates, _as_replicates
from .bootstrap import bootstrap_sem, hierarchical_bootstrap, mean_difference, neuron_bootstrap, percentile_ci
from .effects import bonferroni, cohens_d, holm
from .trend import spearman_trend

TREND_COLUMNS = ["layer", "metric", "rho", "rho_ci_low", "rho_ci_high", "p", "p_bonferroni", "p_holm",
                 "permutation_unit", "n_sigma", "n_models", "n_replicates_min", "n_replicates_max", "n_neurons",
                 "n_permutations"]
"""Columns of :func:`trend_table` (without ``summary``)."""

TREND_SUMMARY_COLUMNS = ["sigma_min", "mean_sigma_min", "mean_sigma_min_ci_low", "mean_sigma_min_ci_high",
                         "n_replicates_sigma_min", "sigma_max", "mean_sigma_max", "mean_sigma_max_ci_low",
                         "mean_sigma_max_ci_high", "n_replicates_sigma_max", "cis_disjoint"]
"""Columns :func:`trend_table` adds with ``summary``."""

EFFECT_COLUMNS = ["layer", "metric", "model", "sigma", "reference", "mean", "ci_low", "ci_high", "reference_mean",
                  "reference_ci_low", "reference_ci_high", "diff", "diff_sem", "diff_ci_low", "diff_ci_high",
                  "rel_change", "cohens_d", "paired", "n_neurons", "n_neurons_reference", "n_replicates",
                  "n_replicates_reference"]
"""Columns of :func:`effects_table`."""


# --------------------------------------------------------------------------- replicate groups


def replicate_groups(models: Sequence[str], group_of: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """``{group: [models]}`` in first-seen order; a model without an entry is its own group."""
    groups: dict[str, list[str]] = {}
    for m in models:
        groups.setdefault(str((group_of or {}).get(m, m)), []).append(m)
    return groups


def filter_references(
    models: Sequence[str],
    sigma_of: Mapping[str, float],
    series: Sequence[str],
    prefix: str = "ref-",
    references: Sequence[str] | None = None,
) -> dict[str, str]:
    """``{trained group: filter-only reference}`` for the σ series.

    The reference models are ``references`` if given, else the models named
    ``<prefix>...``. A reference with σ s belongs to the series group with σ s; the
    series group with the smallest σ (σ 0: the network the references are built from)
    is its own reference, so its difference is exactly 0. Empty when no reference model
    is present.
    """
    refs = list(references) if references is not None else [m for m in models if str(m).startswith(prefix)]
    refs = [m for m in refs if m in models]
    if not refs:
        return {}
    by_sigma = {float(sigma_of[g]): g for g in series}
    out = {by_sigma[min(by_sigma)]: by_sigma[min(by_sigma)]}
    for r in refs:
        s = float(sigma_of[r])
        if s not in by_sigma:
            raise ValueError(f"filter reference {r!r} has sigma {s:g}, which no model of the series {list(series)} has")
        out[by_sigma[s]] = r
    return out


# --------------------------------------------------------------------------- tables


def neuron_means(values: np.ndarray) -> np.ndarray:
    """Mean over patches (NaN-aware): ``[n_neurons, n_patches, *T]`` → ``[n_neurons, *T]``."""
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(arr, axis=1)


def tidy_bootstrap(
    values: Replicates,
    metrics: Sequence[str],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    share_units: bool = False,
) -> pd.DataFrame:
    """:func:`hierarchical_bootstrap` of ``values[n_neurons, n_patches, n_metrics]`` (or a list of
    replicates) as a tidy table; one array = :func:`neuron_bootstrap`.

    Columns: ``metric mean sem ci_low ci_high n_neurons n_patches n_replicates``
    (neurons and non-NaN patches summed over the replicates).
    """
    reps = _as_replicates(values)
    for arr in reps:
        if arr.ndim != 3 or arr.shape[2] != len(metrics):
            raise ValueError(f"values must be [n_neurons, n_patches, {len(metrics)}], got shape {arr.shape}")
    res = hierarchical_bootstrap(reps, iterations, seed, ci=ci, share_units=share_units)
    return pd.DataFrame(
        {
            "metric": list(metrics),
            "mean": np.atleast_1d(res["mean"]),
            "sem": np.atleast_1d(res["sem"]),
            "ci_low": np.atleast_1d(res["ci_low"]),
            "ci_high": np.atleast_1d(res["ci_high"]),
            "n_neurons": sum(a.shape[0] for a in reps),
            "n_patches": sum((~np.isnan(a)).sum(axis=(0, 1)) for a in reps),
            "n_replicates": len(reps),
        }
    )


def spectrum_table(
    freqs: np.ndarray,
    power: np.ndarray,
    baseline_power: np.ndarray | None,
    iterations: int,
    seed: int,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Neuron-level bootstrap of a mean spectrum and of its ratio to the baseline spectrum.

    Args:
        freqs: ``[n_bins]`` cycles/pixel.
        power: ``[n_units, n_patches, n_bins]`` (model: neurons; baseline: images).
        baseline_power: ``[n_images, n_per_image, n_bins]`` of the random-patch baseline,
            bootstrapped over images with ``seed + 1`` (independent of the model's
            resampling); ``None`` when ``power`` *is* the baseline: then ``ratio`` is 1
            and its interval is the baseline's own relative bootstrap spread.
        iterations, seed, ci: as :func:`neuron_bootstrap`.

    Returns:
        one row per bin: ``bin freq mean sem ci_low ci_high ratio ratio_sem ratio_ci_low ratio_ci_high``.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 3 or power.shape[2] != freqs.size:
        raise ValueError(f"power must be [n_units, n_patches, {freqs.size}], got shape {power.shape}")
    res = neuron_bootstrap(power, iterations, seed, ci=ci, return_samples=True)
    if baseline_power is None:
        base_mean = res["mean"]
        ratio_samples = res["samples"] / res["mean"]
    else:
        base = np.asarray(baseline_power, dtype=np.float64)
        if base.ndim != 3 or base.shape[2] != freqs.size:
            raise ValueError(f"baseline power must be [n_images, n_per_image, {freqs.size}], got {base.shape}")
        bres = neuron_bootstrap(base, iterations, seed + 1, ci=ci, return_samples=True)
        base_mean = bres["mean"]
        ratio_samples = res["samples"] / bres["samples"]
    if np.any(~(base_mean > 0)):
        raise ValueError("baseline spectrum has non-positive bins: cannot form a ratio")
    r_low, r_high = percentile_ci(ratio_samples, ci)
    return pd.DataFrame(
        {
            "bin": np.arange(freqs.size),
            "freq": freqs,
            "mean": res["mean"],
            "sem": res["sem"],
            "ci_low": res["ci_low"],
            "ci_high": res["ci_high"],
            "ratio": res["mean"] / base_mean,
            "ratio_sem": bootstrap_sem(ratio_samples),
            "ratio_ci_low": r_low,
            "ratio_ci_high": r_high,
        }
    )


def _model_values(means: pd.DataFrame, layer: str, metric: str, models: Sequence[str],
                  paired: bool) -> tuple[list[np.ndarray], int]:
    """Neuron means of each model (sorted by neuron id); paired: only the neurons every model has."""
    sub = means[(means["layer"] == layer) & (means["metric"] == metric) & means["model"].isin(models)]
    wide = sub.pivot(index="neuron", columns="model", values="value")
    missing = [m for m in models if m not in wide.columns]
    if missing:
        raise ValueError(f"no neuron means for models {missing} in layer {layer!r}, metric {metric!r}")
    if paired:
        wide = wide[list(models)].dropna()
        if wide.shape[0] < 2:
            raise ValueError(f"fewer than 2 neurons shared by models {list(models)} in layer {layer!r}")
        return [wide[m].to_numpy() for m in models], int(wide.shape[0])
    vals = [wide[m].dropna().to_numpy() for m in models]
    short = [m for m, v in zip(models, vals) if v.size < 2]
    if short:
        raise ValueError(f"models {short} have fewer than 2 neurons with a value in layer {layer!r}, metric {metric!r}")
    return vals, int(min(v.size for v in vals))


def trend_table(
    means: pd.DataFrame,
    sigma_models: Sequence[str],
    sigmas: Sequence[float],
    n_permutations: int,
    seed: int,
    summary: pd.DataFrame | None = None,
    *,
    paired: bool,
    group_of: Mapping[str, str] | None = None,
    iterations: int = 0,
    ci: float = 0.95,
    lineage_of: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """:func:`spearman_trend` over σ per layer × metric, Bonferroni and Holm over all rows.

    Args:
        means: neuron means, long: ``layer model neuron metric value``; replicate models
            are the rows whose ``group_of`` is a σ series id.
        sigma_models, sigmas: the σ series (group ids and their σ), >= 2 distinct σ.
        n_permutations, seed, paired, iterations, ci: as :func:`spearman_trend`
            (``paired`` from ``training.mode``: fine-tuned models share neurons).
        group_of: ``{model: group}`` of the replicates (a model without an entry is
            its own group).
        lineage_of: ``{model: lineage}`` for ``paired`` (fine-tuned replicate k descends
            from its own σ 0 network; default lineage 0).
        summary: optional group-level bootstrap summary (``layer model metric mean ci_low
            ci_high n_replicates``, ``model`` = group id): adds the smallest- and
            largest-σ means, CIs, replicate counts and whether the CIs are disjoint.

    Returns:
        :data:`TREND_COLUMNS` (+ :data:`TREND_SUMMARY_COLUMNS` with ``summary``).
    """
    series = list(sigma_models)
    sig_of_group = dict(zip(series, (float(s) for s in sigmas)))
    present = list(pd.unique(means["model"]))
    groups = replicate_groups(present, group_of)
    models = [m for g in series for m in groups.get(g, [])]
    lacking = [g for g in series if g not in groups]
    if lacking:
        raise ValueError(f"no neuron means for the sigma series models {lacking}")
    model_sig = [sig_of_group[str((group_of or {}).get(m, m))] for m in models]
    rows = []
    for layer in pd.unique(means["layer"]):
        for metric in pd.unique(means.loc[means["layer"] == layer, "metric"]):
            vals, n_units = _model_values(means, layer, metric, models, paired)
            res = spearman_trend(model_sig, vals, n_permutations, seed, paired=paired, iterations=iterations, ci=ci,
                                 lineages=[int((lineage_of or {}).get(m, 0)) for m in models] if paired else None)
            rows.append({"layer": layer, "metric": metric, "rho": res["rho"], "rho_ci_low": res["rho_ci_low"],
                         "rho_ci_high": res["rho_ci_high"], "p": res["p"],
                         "permutation_unit": res["permutation_unit"], "n_sigma": res["n_sigma"],
                         "n_models": res["n_models"], "n_replicates_min": res["n_replicates_min"],
                         "n_replicates_max": res["n_replicates_max"], "n_neurons": n_units,
                         "n_permutations": res["n_permutations"]})
    out = pd.DataFrame(rows, columns=[c for c in TREND_COLUMNS if c not in ("p_bonferroni", "p_holm")])
    out.insert(out.columns.get_loc("p") + 1, "p_bonferroni", bonferroni(out["p"].to_numpy(dtype=float)))
    out.insert(out.columns.get_loc("p") + 2, "p_holm", holm(out["p"].to_numpy(dtype=float)))
    if summary is not None:
        sig = np.array([sig_of_group[g] for g in series])
        lo_g, hi_g = series[int(np.argmin(sig))], series[int(np.argmax(sig))]
        extra = []
        for layer, metric in zip(out["layer"], out["metric"]):
            pick = summary[(summary["layer"] == layer) & (summary["metric"] == metric)].set_index("model")
            a, b = pick.loc[lo_g], pick.loc[hi_g]
            extra.append({
                "sigma_min": sig.min(), "mean_sigma_min": a["mean"], "mean_sigma_min_ci_low": a["ci_low"],
                "mean_sigma_min_ci_high": a["ci_high"], "n_replicates_sigma_min": int(a.get("n_replicates", 1)),
                "sigma_max": sig.max(), "mean_sigma_max": b["mean"], "mean_sigma_max_ci_low": b["ci_low"],
                "mean_sigma_max_ci_high": b["ci_high"], "n_replicates_sigma_max": int(b.get("n_replicates", 1)),
                "cis_disjoint": bool(a["ci_high"] < b["ci_low"] or b["ci_high"] < a["ci_low"]),
            })
        out = pd.concat([out, pd.DataFrame(extra, index=out.index, columns=TREND_SUMMARY_COLUMNS)], axis=1)
    return out


def effects_table(
    means: pd.DataFrame,
    reference: str,
    sigma_of: Mapping[str, float],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    *,
    paired: bool,
    group_of: Mapping[str, str] | None = None,
    comparisons: Sequence[tuple[str, str]] | None = None,
    lineage_of: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Each condition against a reference condition per layer × metric, replicates resampled.

    ``diff`` = mean − reference mean of the neuron means, with :func:`mean_difference`'s
    CI (``paired``: the same neurons in both conditions, matched by id — fine-tuned
    models, replicates matched by lineage, only the lineages both conditions have;
    otherwise each condition's own neurons, resampled independently — networks
    trained from scratch). ``cohens_d``: pooled-sd standardised difference of the neuron
    means (all replicates pooled; positive = larger than the reference).

    Args:
        means: neuron means, long: ``layer model neuron metric value``.
        reference: the default reference group (σ 0).
        sigma_of: ``{model or group: σ}`` of the conditions.
        group_of: ``{model: group}`` of the replicates.
        comparisons: ``[(group, reference group), ...]``; default: every group of
            ``sigma_of`` against ``reference`` (itself left out). A group compared with
            itself gives diff 0 exactly.
        lineage_of: ``{model: lineage}`` for ``paired`` (default lineage 0).

    Returns:
        :data:`EFFECT_COLUMNS` (``model`` = group id, ``rel_change`` = diff / reference mean).
    """
    present = list(pd.unique(means["model"]))
    groups = replicate_groups(present, group_of)

    def sigma(g: str) -> float:
        if g in sigma_of:
            return float(sigma_of[g])
        return float(sigma_of[groups[g][0]]) if g in groups and groups[g][0] in sigma_of else math.nan

    if comparisons is None:
        wanted = list(dict.fromkeys(str((group_of or {}).get(m, m)) for m in sigma_of))
        comparisons = [(g, reference) for g in wanted if g != reference]
    unknown = sorted({g for pair in comparisons for g in pair} - set(groups))
    if unknown:
        raise ValueError(f"effects: no neuron means for {unknown} (models: {present})")
    rows = []
    for layer in pd.unique(means["layer"]):
        for metric in pd.unique(means.loc[means["layer"] == layer, "metric"]):
            for g, ref in comparisons:
                a_models, b_models = groups[g], groups[ref]
                if paired and g != ref:
                    lin_a = {int((lineage_of or {}).get(m, 0)): m for m in a_models}
                    lin_b = {int((lineage_of or {}).get(m, 0)): m for m in b_models}
                    common = sorted(set(lin_a) & set(lin_b))
                    if not common:
                        raise ValueError(f"effects: {g!r} and {ref!r} share no lineage to pair neurons in")
                    a_models, b_models = [lin_a[k] for k in common], [lin_b[k] for k in common]
                both = list(dict.fromkeys(a_models + b_models))
                vals, _ = _model_values(means, layer, metric, both, paired)
                by_model = dict(zip(both, vals))
                a = [by_model[m][:, None] for m in a_models]
                b = a if g == ref else [by_model[m][:, None] for m in b_models]
                res = mean_difference(a, b, iterations, seed, ci=ci, paired=paired)
                pooled_a, pooled_b = np.concatenate(a)[:, 0], np.concatenate(b)[:, 0]
                rows.append(
                    {
                        "layer": layer,
                        "metric": metric,
                        "model": g,
                        "sigma": sigma(g),
                        "reference": ref,
                        **{
                            k: float(res[k])
                            for k in (
                                "mean",
                                "ci_low",
                                "ci_high",
                                "reference_mean",
                                "reference_ci_low",
                                "reference_ci_high",
                                "diff",
                                "diff_sem",
                                "diff_ci_low",
                                "diff_ci_high",
                                "rel_change",
                            )
                        },
                        "cohens_d": cohens_d(pooled_a, pooled_b),
                        "paired": bool(paired),
                        "n_neurons": int(min(v.size for v in a)),
                        "n_neurons_reference": int(min(v.size for v in b)),
                        "n_replicates": len(a),
                        "n_replicates_reference": len(b),
                    }
                )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def format_mean_sem(mean: float, sem: float) -> str:
    """``"2.83 ± 0.13"``: SEM to two significant digits, the mean to the same decimals
    (at most four significant digits of the mean: ``"1.000 ± 0.000"``)."""
    if not np.isfinite(mean):
        return "n/a"
    if not np.isfinite(sem) or sem <= 0:
        return f"{mean:.3g} ± 0"
    decimals = max(0, 1 - int(np.floor(np.log10(sem))))
    if mean != 0:  # never more than 4 significant digits of the mean (a rounding-level SEM adds nothing)
        decimals = min(decimals, max(0, 3 - int(np.floor(np.log10(abs(mean)) + 1e-6))))
    return f"{mean:.{decimals}f} ± {sem:.{decimals}f}"


def seed_table(summary: pd.DataFrame, models: Sequence[str], metrics: Sequence[str],
               labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Wide table in the VITAL report's layout: one row per model (given order), ``mean ± SEM`` per metric.

    ``summary`` is one layer's bootstrap summary (``model metric mean sem``).
    """
    labels = labels or {}
    rows = []
    for model in models:
        row = {"model": labels.get(model, model)}
        for metric in metrics:
            hit = summary[(summary["model"] == model) & (summary["metric"] == metric)]
            if hit.empty:
                raise ValueError(f"summary lacks metric {metric!r} for model {model!r}")
            row[metric] = format_mean_sem(float(hit["mean"].iloc[0]), float(hit["sem"].iloc[0]))
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub-flavoured markdown table (no extra dependency)."""
    cols = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def patch_matrix(table: pd.DataFrame, metrics: Sequence[str], source: str = "table") -> tuple[np.ndarray, np.ndarray]:
    """Per-patch tidy rows → ``values [n_units, n_per_unit, n_metrics]`` and ``units [n_units]``.

    ``table`` has one row per patch with ``neuron`` (unit id), ``patch`` (0..k−1)
    and the metric columns; every unit must have the same patches (a full grid),
    otherwise the error names ``source``. Units are sorted by id.
    """
    missing = [c for c in ("neuron", "patch", *metrics) if c not in table.columns]
    if missing:
        raise ValueError(f"{source}: missing columns {missing}")
    ordered = table.sort_values(["neuron", "patch"], kind="stable")
    units = np.unique(ordered["neuron"].to_numpy())
    n_per = len(ordered) // max(1, units.size)
    full = units.size > 0 and n_per * units.size == len(ordered)
    if full:
        grid = ordered["patch"].to_numpy().reshape(units.size, n_per)
        ids = ordered["neuron"].to_numpy().reshape(units.size, n_per)
        full = bool((grid == np.arange(n_per)).all() and (ids == units[:, None]).all())
    if not full:
        raise ValueError(f"{source}: rows do not form a full neuron x patch grid ({len(ordered)} rows, "
                         f"{units.size} units)")
    values = ordered[list(metrics)].to_numpy(dtype=np.float64).reshape(units.size, n_per, len(metrics))
    return values, units.astype(np.int64)
