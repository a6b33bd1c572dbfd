"""Replicate groups and the table builders: tidy bootstrap, spectrum, trend and effects tables, formatting.

:func:`replicate_groups` and :func:`filter_references` say which models form one
condition and which filter-only reference each is compared with; :func:`tidy_bootstrap`,
:func:`spectrum_table` turn the statistics of the other submodules into the pipeline's
tables (the run-level σ and comparison tables are in :mod:`blurscope.stats.runs`);
:func:`seed_table`, :func:`format_mean_sem`, :func:`to_markdown` and
:func:`patch_matrix` format and reshape them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..model_id import is_reference
from ._common import Replicates, _as_replicates
from .bootstrap import bootstrap_sem, hierarchical_bootstrap, neuron_bootstrap, percentile_ci

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
    references: Sequence[str] | None = None,
    group_of: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``{trained group: filter-only reference group}`` for the σ series.

    The reference models are ``references`` if given, else the models whose id names a
    reference (:func:`blurscope.model_id.is_reference`); with ``group_of`` the references of one σ (``ref-sigma6``,
    ``ref-sigma6-seed1``: one per σ 0 run) form one group, named by ``group_of``. A
    reference with σ s belongs to the series group with σ s; the series group with the
    smallest σ (σ 0: the network the references are built from) is its own reference, so
    its difference is exactly 0. Empty when no reference model is present.
    """
    refs = list(references) if references is not None else [m for m in models if is_reference(m)]
    refs = [m for m in refs if m in models]
    if not refs:
        return {}
    by_sigma = {float(sigma_of[g]): g for g in series}
    out = {by_sigma[min(by_sigma)]: by_sigma[min(by_sigma)]}
    for r in refs:
        s = float(sigma_of[r])
        if s not in by_sigma:
            raise ValueError(f"filter reference {r!r} has sigma {s:g}, which no model of the series {list(series)} has")
        out[by_sigma[s]] = str((group_of or {}).get(r, r))
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
