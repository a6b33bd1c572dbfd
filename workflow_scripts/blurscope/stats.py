"""Neuron-level statistics of preferred-patch measures (seed 000 §3.1, §5; DESIGN.md "Bootstrap").

* :func:`neuron_bootstrap` — resample **neurons** (each with all its patches),
  never single patches: the 16 patches of one neuron are correlated, so a
  patch-level bootstrap underestimates the uncertainty (seed 000 §5.1 says
  "patch-level": DESIGN.md overrules it). Vectorised: the resampling is one
  count matrix ``[iterations, n_neurons]`` and the bootstrap means
  are one matrix product, so there is no Python loop over iterations, and any
  trailing axes (metrics, spectrum bins) are bootstrapped in the same call with
  the same resampled neurons.
* :func:`spearman_trend` — Spearman ρ between σ and neuron means with a
  permutation p-value (σ labels shuffled within each neuron by default, since
  the same neurons are measured in every model).
* :func:`cohens_d` — standardised difference with the pooled sd.
* :func:`bonferroni`, :func:`holm` — family-wise p-value adjustment.

Everything that draws random numbers takes a ``seed`` and uses
``numpy.random.default_rng(seed)``: same inputs and seed → identical output.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata


def _check_iterations(iterations: int) -> int:
    if int(iterations) < 2:
        raise ValueError(f"bootstrap iterations must be >= 2, got {iterations}")
    return int(iterations)


def bootstrap_counts(n: int, iterations: int, seed: int) -> np.ndarray:
    """How often each of ``n`` units is drawn in each resample: int64 ``[iterations, n]``.

    Equivalent to drawing ``n`` units with replacement ``iterations`` times.
    """
    if n < 1:
        raise ValueError("bootstrap needs at least one neuron")
    iterations = _check_iterations(iterations)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(iterations, n))
    offsets = (np.arange(iterations, dtype=np.int64) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=iterations * n).reshape(iterations, n)


def neuron_bootstrap(
    values: np.ndarray,
    iterations: int,
    seed: int,
    ci: float = 0.95,
    return_samples: bool = False,
) -> dict[str, np.ndarray]:
    """Neuron-level bootstrap of the mean of a per-patch measure.

    Args:
        values: ``[n_neurons, n_patches, *trailing]``; NaN marks a missing patch.
            The statistic is the mean over all (non-NaN) patches of the resampled
            neurons, computed per trailing element (e.g. per metric or per
            spectrum bin). With equal patch counts this equals the mean of the
            resampled neuron means.
        iterations: number of bootstrap resamples (>= 2).
        seed: RNG seed. The resampled neurons depend only on ``(n_neurons,
            iterations, seed)``, so two models with the same neurons and seed get
            a paired bootstrap.
        ci: coverage of the percentile interval (0.95 → 2.5th and 97.5th percentiles).
        return_samples: also return the bootstrap means ``[iterations, *trailing]``.

    Returns:
        dict with ``mean`` (the statistic on the original data), ``sem`` (sd of the
        bootstrap means, ddof=1), ``ci_low``, ``ci_high``, each shaped
        ``trailing`` (a float for 2-D input), and ``samples`` if asked.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"values must be [n_neurons, n_patches, ...], got shape {arr.shape}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    n = arr.shape[0]
    trailing = arr.shape[2:]
    valid = ~np.isnan(arr)
    sums = np.where(valid, arr, 0.0).sum(axis=1).reshape(n, -1)  # [n, T]
    counts = valid.sum(axis=1).reshape(n, -1).astype(np.float64)  # [n, T]
    if np.any(counts.sum(axis=0) == 0):
        raise ValueError("bootstrap: some measure has no non-NaN value at all")
    draws = bootstrap_counts(n, iterations, seed).astype(np.float64)  # [B, n]
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (draws @ sums) / (draws @ counts)  # [B, T]
    point = sums.sum(axis=0) / counts.sum(axis=0)
    alpha = (1.0 - ci) / 2.0
    low, high = np.nanpercentile(samples, [100 * alpha, 100 * (1 - alpha)], axis=0)
    out = {
        "mean": point.reshape(trailing)[()],
        "sem": np.nanstd(samples, axis=0, ddof=1).reshape(trailing)[()],
        "ci_low": low.reshape(trailing)[()],
        "ci_high": high.reshape(trailing)[()],
    }
    if return_samples:
        out["samples"] = samples.reshape((samples.shape[0], *trailing))
    return out


def spearman_trend(
    sigmas: Sequence[float],
    neuron_means: np.ndarray,
    n_permutations: int,
    seed: int,
    paired: bool = True,
) -> dict[str, float]:
    """Spearman ρ of neuron means against σ, with a two-sided permutation p-value.

    Args:
        sigmas: ``[n_sigma]`` training blur of each model (at least 2 distinct values).
        neuron_means: ``[n_sigma, n_neurons]`` mean measure of each neuron in each model.
            All ``n_sigma·n_neurons`` points enter one Spearman correlation
            (average ranks for ties).
        n_permutations: number of random relabellings (p >= 1/(n_permutations+1)).
        seed: RNG seed.
        paired: shuffle the σ labels within each neuron (the same neurons are measured
            in every model: the exchangeable units under "no σ effect"); ``False``
            shuffles all points freely.

    Returns:
        ``{"rho", "p", "n_permutations"}``; p = (1 + #{|ρ_perm| >= |ρ|}) / (1 + n_permutations).
    """
    x = np.asarray(sigmas, dtype=np.float64)
    y = np.asarray(neuron_means, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != x.size:
        raise ValueError(f"neuron_means must be [n_sigma={x.size}, n_neurons], got shape {y.shape}")
    if np.unique(x).size < 2:
        raise ValueError("a trend over sigma needs at least two distinct sigma values")
    if np.isnan(y).any():
        raise ValueError("neuron_means contain NaN: drop or impute neurons before the trend test")
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    s, n = y.shape
    rx = rankdata(np.repeat(x, n)).reshape(s, n)[:, 0]
    rx = rx - rx.mean()
    ry = rankdata(y.ravel()).reshape(s, n)
    ry = ry - ry.mean()
    norm = np.sqrt((rx**2).sum() * n * (ry**2).sum())
    if norm == 0:
        return {"rho": float("nan"), "p": float("nan"), "n_permutations": int(n_permutations)}
    rho = float((rx[:, None] * ry).sum() / norm)
    rng = np.random.default_rng(seed)
    total = int(n_permutations)
    table = _permutation_table(s) if paired else None
    chunk = max(1, (1 << 22) // (s * n))
    ry_flat = ry.T.ravel()  # [n*s], neuron-major
    exceed = 0
    done = 0
    while done < total:
        b = min(chunk, total - done)
        if paired:
            # one uniformly drawn permutation of the sigma labels per (resample, neuron)
            if table is not None:
                order = table[rng.integers(0, table.shape[0], size=(b, n))]  # [b, n, s]
            else:
                order = np.argsort(rng.random((b, n, s), dtype=np.float32), axis=-1)
            perm_rho = rx[order].reshape(b, n * s) @ ry_flat / norm
        else:
            order = np.argsort(rng.random((b, s * n)), axis=1)
            perm_rho = ry.ravel()[order].reshape(b, s, n).sum(axis=2) @ rx / norm
        exceed += int((np.abs(perm_rho) >= abs(rho) - 1e-12).sum())
        done += b
    return {"rho": rho, "p": (1 + exceed) / (1 + total), "n_permutations": total}


@functools.lru_cache(maxsize=8)
def _permutation_table(s: int) -> np.ndarray | None:
    """All ``s!`` permutations of ``range(s)`` as int8 ``[s!, s]`` for ``s <= 8``, else None."""
    if s > 8:
        return None
    table = np.array(list(itertools.permutations(range(s))), dtype=np.int8).reshape(-1, s)
    table.setflags(write=False)
    return table


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's d = (mean(a) − mean(b)) / pooled sd (ddof=1 in each group).

    Pooled sd = sqrt(((n_a−1)·s_a² + (n_b−1)·s_b²) / (n_a + n_b − 2)).
    Returns NaN when the pooled sd is 0 (unless both means agree: then 0).
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or b.size < 2:
        raise ValueError("Cohen's d needs at least two values per group")
    pooled = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / (a.size + b.size - 2))
    diff = a.mean() - b.mean()
    if pooled == 0:
        return 0.0 if diff == 0 else float("nan")
    return float(diff / pooled)


def bonferroni(p: np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values ``min(1, m·p)``; NaNs are kept and not counted in ``m``."""
    p = np.asarray(p, dtype=np.float64)
    m = int((~np.isnan(p)).sum())
    return np.where(np.isnan(p), np.nan, np.minimum(1.0, p * m))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (monotone, capped at 1); NaNs kept and not counted."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p.ravel()))
    m = ok.size
    if m == 0:
        return out
    flat = p.ravel()[ok]
    order = np.argsort(flat, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * flat[order]))
    res = np.empty(m)
    res[order] = adj
    out_flat = out.ravel()
    out_flat[ok] = res
    return out_flat.reshape(p.shape)


def neuron_means(values: np.ndarray) -> np.ndarray:
    """Mean over patches (NaN-aware): ``[n_neurons, n_patches, *T]`` → ``[n_neurons, *T]``."""
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.nanmean(arr, axis=1)


def tidy_bootstrap(
    values: np.ndarray,
    metrics: Sequence[str],
    iterations: int,
    seed: int,
    ci: float = 0.95,
) -> pd.DataFrame:
    """:func:`neuron_bootstrap` of ``values[n_neurons, n_patches, n_metrics]`` as a tidy table.

    Columns: ``metric mean sem ci_low ci_high n_neurons n_patches``.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != len(metrics):
        raise ValueError(f"values must be [n_neurons, n_patches, {len(metrics)}], got shape {arr.shape}")
    res = neuron_bootstrap(arr, iterations, seed, ci=ci)
    return pd.DataFrame(
        {
            "metric": list(metrics),
            "mean": np.atleast_1d(res["mean"]),
            "sem": np.atleast_1d(res["sem"]),
            "ci_low": np.atleast_1d(res["ci_low"]),
            "ci_high": np.atleast_1d(res["ci_high"]),
            "n_neurons": arr.shape[0],
            "n_patches": (~np.isnan(arr)).sum(axis=(0, 1)),
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
        iterations, seed, ci: as :func:`neuron_bootstrap` (same seed for every model →
            the same neurons are resampled in every model).

    Returns:
        one row per bin: ``bin freq mean sem ci_low ci_high ratio ratio_sem ratio_ci_low ratio_ci_high``.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 3 or power.shape[2] != freqs.size:
        raise ValueError(f"power must be [n_units, n_patches, {freqs.size}], got shape {power.shape}")
    res = neuron_bootstrap(power, iterations, seed, ci=ci, return_samples=True)
    if baseline_power is None:
        base_mean, base_samples = res["mean"], None
        ratio_samples = res["samples"] / res["mean"]
    else:
        base = np.asarray(baseline_power, dtype=np.float64)
        if base.ndim != 3 or base.shape[2] != freqs.size:
            raise ValueError(f"baseline power must be [n_images, n_per_image, {freqs.size}], got {base.shape}")
        bres = neuron_bootstrap(base, iterations, seed + 1, ci=ci, return_samples=True)
        base_mean, base_samples = bres["mean"], bres["samples"]
        ratio_samples = res["samples"] / base_samples
    if np.any(~(base_mean > 0)):
        raise ValueError("baseline spectrum has non-positive bins: cannot form a ratio")
    alpha = (1.0 - ci) / 2.0
    r_low, r_high = np.nanpercentile(ratio_samples, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return pd.DataFrame(
        {
            "bin": np.arange(freqs.size),
            "freq": freqs,
            "mean": res["mean"],
            "sem": res["sem"],
            "ci_low": res["ci_low"],
            "ci_high": res["ci_high"],
            "ratio": res["mean"] / base_mean,
            "ratio_sem": np.nanstd(ratio_samples, axis=0, ddof=1),
            "ratio_ci_low": r_low,
            "ratio_ci_high": r_high,
        }
    )


def _aligned(means: pd.DataFrame, layer: str, metric: str, models: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Neuron means ``[len(models), n_common_neurons]`` for one layer and metric (neurons matched by id)."""
    sub = means[(means["layer"] == layer) & (means["metric"] == metric) & means["model"].isin(models)]
    wide = sub.pivot(index="neuron", columns="model", values="value")
    missing = [m for m in models if m not in wide.columns]
    if missing:
        raise ValueError(f"no neuron means for models {missing} in layer {layer!r}, metric {metric!r}")
    wide = wide[list(models)].dropna()
    if wide.shape[0] < 2:
        raise ValueError(f"fewer than 2 neurons shared by models {list(models)} in layer {layer!r}")
    return wide.to_numpy().T, wide.index.to_numpy()


def trend_table(
    means: pd.DataFrame,
    sigma_models: Sequence[str],
    sigmas: Sequence[float],
    n_permutations: int,
    seed: int,
    summary: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Spearman trend over σ per layer × metric, with Bonferroni and Holm over all rows.

    Args:
        means: neuron means, long: ``layer model neuron metric value``.
        sigma_models, sigmas: the σ series (model ids and their σ), at least two distinct σ.
        n_permutations, seed: for :func:`spearman_trend` (paired within neurons).
        summary: optional bootstrap summary (``layer model metric mean ci_low ci_high``):
            adds the smallest- and largest-σ means and whether their CIs are disjoint.

    Returns:
        ``layer metric rho p_perm p_bonferroni p_holm n_sigma n_neurons n_permutations``
        (+ ``sigma_min mean_sigma_min ci_sigma_min_low ci_sigma_min_high sigma_max
        mean_sigma_max ci_sigma_max_low ci_sigma_max_high cis_disjoint`` with ``summary``).
    """
    models = list(sigma_models)
    sig = np.asarray(sigmas, dtype=np.float64)
    rows = []
    for layer in pd.unique(means["layer"]):
        for metric in pd.unique(means.loc[means["layer"] == layer, "metric"]):
            values, neurons = _aligned(means, layer, metric, models)
            res = spearman_trend(sig, values, n_permutations, seed)
            rows.append({"layer": layer, "metric": metric, "rho": res["rho"], "p_perm": res["p"],
                         "n_sigma": len(models), "n_neurons": neurons.size,
                         "n_permutations": res["n_permutations"]})
    out = pd.DataFrame(rows)
    out.insert(4, "p_bonferroni", bonferroni(out["p_perm"].to_numpy()))
    out.insert(5, "p_holm", holm(out["p_perm"].to_numpy()))
    if summary is not None:
        lo_model, hi_model = models[int(np.argmin(sig))], models[int(np.argmax(sig))]
        extra = []
        for layer, metric in zip(out["layer"], out["metric"]):
            pick = summary[(summary["layer"] == layer) & (summary["metric"] == metric)].set_index("model")
            a, b = pick.loc[lo_model], pick.loc[hi_model]
            extra.append({
                "sigma_min": sig.min(), "mean_sigma_min": a["mean"], "ci_sigma_min_low": a["ci_low"],
                "ci_sigma_min_high": a["ci_high"], "sigma_max": sig.max(), "mean_sigma_max": b["mean"],
                "ci_sigma_max_low": b["ci_low"], "ci_sigma_max_high": b["ci_high"],
                "cis_disjoint": bool(a["ci_high"] < b["ci_low"] or b["ci_high"] < a["ci_low"]),
            })
        out = pd.concat([out, pd.DataFrame(extra, index=out.index)], axis=1)
    return out


def effects_table(
    means: pd.DataFrame,
    reference: str,
    sigma_of: dict[str, float],
    iterations: int,
    seed: int,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Each model vs the reference model (σ = 0) per layer × metric.

    Cohen's d of the neuron means (pooled sd; positive = larger than the
    reference) and the mean paired difference (neurons matched by id) with a
    neuron-level bootstrap CI.

    Returns:
        ``layer metric model sigma cohens_d diff diff_sem diff_ci_low diff_ci_high
        reference_mean rel_change n_neurons`` (``rel_change`` = diff / reference mean,
        seed 000 §5.3's "σ=0 → σ=6 change").
    """
    rows = []
    for layer in pd.unique(means["layer"]):
        for metric in pd.unique(means.loc[means["layer"] == layer, "metric"]):
            for model in sigma_of:
                if model == reference:
                    continue
                values, neurons = _aligned(means, layer, metric, [model, reference])
                diff = values[0] - values[1]
                res = neuron_bootstrap(diff[:, None], iterations, seed, ci=ci)
                ref_mean = float(values[1].mean())
                rows.append({"layer": layer, "metric": metric, "model": model, "sigma": sigma_of[model],
                             "cohens_d": cohens_d(values[0], values[1]), "diff": res["mean"],
                             "diff_sem": res["sem"], "diff_ci_low": res["ci_low"],
                             "diff_ci_high": res["ci_high"], "reference_mean": ref_mean,
                             "rel_change": res["mean"] / ref_mean if ref_mean != 0 else float("nan"),
                             "n_neurons": neurons.size})
    return pd.DataFrame(rows)


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
    """Seed-000-style wide table: one row per model (given order), ``mean ± SEM`` per metric.

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
