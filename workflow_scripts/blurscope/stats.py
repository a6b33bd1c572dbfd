"""The one statistics core of blurscope: resampling, paired test, Spearman trend, adjustment.

Every table of the pipeline gets its intervals, tests and effect sizes from here
(docs/statistics.md lists the result keys and the decisions behind them).

* **Resampling** — :func:`bootstrap_indices` is the one resampler (``n`` units
  drawn with replacement per resample, ``numpy.random.default_rng(seed)``);
  :func:`bootstrap_counts` is the same draws as counts, so that a resampled mean is
  one matrix product; :func:`percentile_ci` is the one percentile interval (over
  the finite samples).
* **Means over units** — :func:`neuron_bootstrap` resamples **neurons**, each with
  all its patches, never single patches (the patches of one neuron are correlated,
  so a patch-level bootstrap understates the uncertainty, as the VITAL
  feature-analysis report says). :func:`hierarchical_bootstrap` adds the
  training replicates: it resamples the replicate models of one condition, then
  the neurons within each drawn model; with one replicate it returns exactly
  :func:`neuron_bootstrap`'s numbers.
* **Any statistic of a mean over shared units** — :func:`bootstrap_statistic`
  (e.g. f_rev from a mean preference curve over image pairs) and
  :func:`paired_difference` (trained − reference on the same units, replicate
  models resampled too).
* **Differences** — :func:`paired_test` (Wilcoxon signed-rank + paired bootstrap
  CI of the mean difference + Cohen's d_z) for two conditions measured on the same
  units; :func:`mean_difference` for two conditions with their own units
  (independently trained networks share no neuron identity), or paired over
  shared neurons (fine-tuned models).
* **Rank correlation** — :func:`spearman_rho` is the one ρ (average ranks);
  :func:`spearman_trend` the one trend test over σ (permutation p at the level of
  the exchangeable unit, hierarchical bootstrap CI of ρ); :func:`model_trend` the
  same for one number per model; :func:`correlation` for two measures on the same
  units.
* **Effect sizes and adjustment** — :func:`cohens_d`, :func:`cohens_dz`,
  :func:`bonferroni`, :func:`holm`, :func:`adjust`.

Everything that draws random numbers takes a ``seed`` and uses
``numpy.random.default_rng``: same inputs and seed → identical output. Streams
that must be independent of the first one (replicate draws, further replicate
slots, an unpaired reference) use ``default_rng([seed, tag, ...])``.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

Seed = int | Sequence[int]
"""A seed for ``numpy.random.default_rng``: an int, or a list of ints (a derived stream)."""

_MODELS = 1  # stream tag: which replicate model each slot draws
_UNITS = 2  # stream tag: unit resample of slot j > 0
_REFERENCE = 3  # stream tag: an unpaired reference condition

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


# --------------------------------------------------------------------------- checks


def _check_iterations(iterations: int) -> int:
    if int(iterations) < 2:
        raise ValueError(f"bootstrap iterations must be >= 2, got {iterations}")
    return int(iterations)


def _check_ci(ci: float) -> float:
    if not 0 < float(ci) < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    return float(ci)


def _derived(seed: Seed, *tags: int) -> list[int]:
    """A seed list for an independent stream derived from ``seed``."""
    base = [int(seed)] if np.ndim(seed) == 0 else [int(s) for s in seed]  # type: ignore[union-attr]
    if min(base) < 0:
        raise ValueError(f"seeds must be >= 0, got {seed}")
    return [*base, *tags]


def _slot_seed(seed: Seed, slot: int) -> Seed:
    """Unit-resample seed of replicate slot ``slot``: slot 0 uses ``seed`` itself."""
    return seed if slot == 0 else _derived(seed, _UNITS, slot)


# --------------------------------------------------------------------------- resampling


def bootstrap_indices(n: int, iterations: int, seed: Seed) -> np.ndarray:
    """The one resampler: int64 ``[iterations, n]``, row ``b`` = the ``n`` units drawn in resample ``b``.

    ``numpy.random.default_rng(seed).integers(0, n, (iterations, n))``: units drawn
    with replacement, the same draws for the same ``(n, iterations, seed)``.
    """
    if int(n) < 1:
        raise ValueError(f"bootstrap needs at least one unit, got n={n}")
    iterations = _check_iterations(iterations)
    return np.random.default_rng(seed).integers(0, int(n), size=(iterations, int(n)))


def bootstrap_counts(n: int, iterations: int, seed: Seed) -> np.ndarray:
    """:func:`bootstrap_indices` as counts: int64 ``[iterations, n]``, how often each unit is drawn.

    ``counts @ x / n`` is the resampled mean of per-unit values ``x[n, ...]``. The same
    ``(n, iterations, seed)`` is asked for many times (every model, stride point, metric on
    the same images): the last few are cached and returned read-only.
    """
    if isinstance(seed, (int, np.integer)) or (
        isinstance(seed, tuple) and all(isinstance(v, (int, np.integer)) for v in seed)
    ):
        return _cached_counts(int(n), int(iterations), seed if isinstance(seed, tuple) else int(seed))
    return _counts(n, iterations, seed)


@functools.lru_cache(maxsize=8)
def _cached_counts(n: int, iterations: int, seed: int | tuple) -> np.ndarray:
    out = _counts(n, iterations, seed)
    out.setflags(write=False)
    return out


def _counts(n: int, iterations: int, seed: Seed) -> np.ndarray:
    draws = bootstrap_indices(n, iterations, seed)
    b, n = draws.shape
    offsets = (np.arange(b, dtype=np.int64) * n)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=b * n).reshape(b, n)


def percentile_ci(samples: np.ndarray, ci: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval ``(low, high)`` of the finite bootstrap samples along ``axis``.

    Non-finite samples (a statistic undefined in that resample) are left out; NaN where
    no sample is finite. 0.95 → the 2.5th and 97.5th percentiles (linear interpolation).
    """
    ci = _check_ci(ci)
    s = np.asarray(samples, dtype=np.float64)
    s = np.where(np.isfinite(s), s, np.nan)
    alpha = (1.0 - ci) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices → NaN
        low, high = np.nanquantile(s, [alpha, 1.0 - alpha], axis=axis)
    return low[()], high[()]


def bootstrap_sem(samples: np.ndarray, axis: int = 0) -> np.ndarray:
    """SEM = sd (ddof=1) of the finite bootstrap samples along ``axis``; NaN with fewer than 2."""
    s = np.asarray(samples, dtype=np.float64)
    s = np.where(np.isfinite(s), s, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanstd(s, axis=axis, ddof=1)[()]


def _defined(samples: np.ndarray) -> np.ndarray:
    """Fraction of finite samples along axis 0."""
    return np.isfinite(np.asarray(samples, dtype=np.float64)).mean(axis=0)[()]


# --------------------------------------------------------------------------- means over units


def _unit_sums(values: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Per-unit sums and non-NaN counts ``[n, T]`` of ``values[n, k, *T]``, and ``T``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim < 2:
        raise ValueError(f"values must be [n_neurons, n_patches, ...], got shape {arr.shape} (replicate {index})")
    if arr.shape[0] < 1:
        raise ValueError(f"bootstrap needs at least one neuron (replicate {index} has none)")
    n = arr.shape[0]
    valid = ~np.isnan(arr)
    sums = np.where(valid, arr, 0.0).sum(axis=1).reshape(n, -1)
    counts = valid.sum(axis=1).reshape(n, -1).astype(np.float64)
    if np.any(counts.sum(axis=0) == 0):
        raise ValueError(f"bootstrap: some measure of replicate {index} has no non-NaN value at all")
    return sums, counts, arr.shape[2:]


def _hierarchical_samples(
    groups: Sequence[np.ndarray], iterations: int, unit_seed: Seed, model_seed: Seed, share_units: bool
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Point ``[T]`` (mean over models of each model's patch mean), samples ``[B, T]``, ``T``."""
    if len(groups) == 0:
        raise ValueError("hierarchical bootstrap needs at least one replicate model")
    parts = [_unit_sums(g, i) for i, g in enumerate(groups)]
    trailing = parts[0][2]
    if any(p[2] != trailing for p in parts):
        raise ValueError(f"replicates differ in their trailing axes: {[p[2] for p in parts]}")
    r = len(parts)
    sizes = [p[0].shape[0] for p in parts]
    if share_units and len(set(sizes)) > 1:
        raise ValueError(f"share_units needs the same units in every replicate, got {sizes} neurons")
    point = np.mean([p[0].sum(axis=0) / p[1].sum(axis=0) for p in parts], axis=0)
    draw = (np.zeros((iterations, r), dtype=np.int64) if r == 1
            else np.random.default_rng(model_seed).integers(0, r, size=(iterations, r)))
    by_size: dict[int, list[int]] = {}
    for i, n in enumerate(sizes):
        by_size.setdefault(n, []).append(i)
    width = int(np.prod(trailing, dtype=np.int64))
    stacked = {n: (np.concatenate([parts[m][0] for m in members], axis=1),  # [n, len(members)*W]
                   np.concatenate([parts[m][1] for m in members], axis=1)) for n, members in by_size.items()}
    position = np.empty(r, dtype=np.int64)  # a model's place within its size group
    for members in by_size.values():
        position[members] = np.arange(len(members))
    size_of = np.asarray(sizes)
    samples = np.zeros((iterations, width))
    rows = np.arange(iterations)
    for slot in range(r):
        seed = unit_seed if share_units else _slot_seed(unit_seed, slot)
        drawn = draw[:, slot]
        for n, members in by_size.items():
            pick = slice(None) if len(by_size) == 1 else size_of[drawn] == n
            w = bootstrap_counts(n, iterations, seed).astype(np.float64)  # [B, n]
            sums, counts = stacked[n]
            with np.errstate(invalid="ignore", divide="ignore"):
                means = ((w @ sums) / (w @ counts)).reshape(iterations, len(members), width)
            samples[pick] += means[rows[pick], position[drawn[pick]]]
    return point, samples / r, trailing


def _summary(point: np.ndarray, samples: np.ndarray, ci: float, trailing: tuple[int, ...],
             return_samples: bool) -> dict[str, np.ndarray]:
    low, high = percentile_ci(samples, ci, axis=0)
    out = {
        "mean": np.asarray(point).reshape(trailing)[()],
        "sem": np.asarray(bootstrap_sem(samples)).reshape(trailing)[()],
        "ci_low": np.asarray(low).reshape(trailing)[()],
        "ci_high": np.asarray(high).reshape(trailing)[()],
    }
    if return_samples:
        out["samples"] = samples.reshape((samples.shape[0], *trailing))
    return out


def hierarchical_bootstrap(
    groups: Sequence[np.ndarray],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    return_samples: bool = False,
    share_units: bool = False,
) -> dict[str, np.ndarray]:
    """Two-level bootstrap of one condition's mean over its replicate models.

    Each resample draws ``R`` models with replacement from the ``R`` replicates, then,
    for each drawn model, its neurons with replacement (each draw its own neuron
    resample; drawing one model twice gives two resamples). The statistic is the mean
    over the drawn models of each model's mean over all (non-NaN) patches of its
    resampled neurons; the point estimate is the mean over the replicates of their
    patch means, each replicate weighing the same.

    With one replicate the model draw is trivial and the result is exactly
    :func:`neuron_bootstrap`'s (same seed → identical numbers). With few replicates
    the between-model spread is estimated from few models and the interval is too
    narrow (coverage in docs/statistics.md); with many it is a little conservative
    (the within-model spread counts twice).

    Args:
        groups: one ``[n_neurons, n_patches, *T]`` array per replicate model; NaN marks
            a missing patch. Neuron counts may differ unless ``share_units``.
        iterations: resamples (>= 2). seed: RNG seed (>= 0).
        ci: coverage of the percentile interval.
        return_samples: also return the bootstrap means ``[iterations, *T]``.
        share_units: the replicates measure the same neurons (fine-tuned from one
            network): every drawn model gets the same neuron resample.

    Returns:
        ``mean`` ``sem`` (sd of the bootstrap means) ``ci_low`` ``ci_high``, each
        shaped ``T`` (a float for 2-D input), and ``samples`` if asked.
    """
    iterations = _check_iterations(iterations)
    ci = _check_ci(ci)
    point, samples, trailing = _hierarchical_samples(groups, iterations, seed, _derived(seed, _MODELS), share_units)
    return _summary(point, samples, ci, trailing, return_samples)


def neuron_bootstrap(
    values: np.ndarray,
    iterations: int,
    seed: int,
    ci: float = 0.95,
    return_samples: bool = False,
) -> dict[str, np.ndarray]:
    """Neuron-level bootstrap of the mean of a per-patch measure (one model).

    Args:
        values: ``[n_neurons, n_patches, *T]``; NaN marks a missing patch. The
            statistic is the mean over all (non-NaN) patches of the resampled neurons,
            per trailing element (metric, spectrum bin), with the same resampled
            neurons for every trailing element. With equal patch counts this is the
            mean of the resampled neuron means.
        iterations: resamples (>= 2).
        seed: RNG seed; the resampled neurons depend only on ``(n_neurons,
            iterations, seed)``, so models with the same neurons and seed are
            resampled in pairs.
        ci: coverage of the percentile interval (0.95 → 2.5th and 97.5th percentiles).
        return_samples: also return the bootstrap means ``[iterations, *T]``.

    Returns:
        ``mean`` (on the original data), ``sem`` (sd of the bootstrap means, ddof=1),
        ``ci_low``, ``ci_high``, each shaped ``T`` (a float for 2-D input), and
        ``samples`` if asked.
    """
    return hierarchical_bootstrap([values], iterations, seed, ci=ci, return_samples=return_samples)


def _same_groups(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    """True when two conditions are the same models (the same arrays, or equal ones)."""
    return len(a) == len(b) and all(
        x is y or (np.shape(x) == np.shape(y) and np.array_equal(x, y, equal_nan=True)) for x, y in zip(a, b)
    )


def _as_replicates(values: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One array → one replicate; a list/tuple of arrays → the replicates."""
    if isinstance(values, (list, tuple)):
        return [np.asarray(v, dtype=np.float64) for v in values]
    return [np.asarray(values, dtype=np.float64)]


def mean_difference(
    values: np.ndarray | Sequence[np.ndarray],
    reference: np.ndarray | Sequence[np.ndarray],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    paired: bool = False,
    return_samples: bool = False,
) -> dict[str, float | np.ndarray]:
    """Difference of two conditions' means (``values`` − ``reference``), replicates resampled.

    Each condition is :func:`hierarchical_bootstrap`'ed. ``paired=False`` (networks
    trained independently: neuron k of one is unrelated to neuron k of the other):
    the two conditions are resampled independently. ``paired=True`` (fine-tuned
    models: ``values[i]`` and ``reference[i]`` descend from the same network, so they
    hold the same neurons in the same order): replicate *pairs* are drawn together and
    every model gets the same neuron resample, so the interval is that of the
    within-neuron differences. When both conditions are the same models (e.g. σ 0
    against its own filter reference) the same resamples are used and the difference
    is exactly 0 with a zero-width interval.

    Args:
        values, reference: ``[n_neurons, n_patches, *T]`` or a list of them (replicates;
            paired: as many in both, matched by position).

    Returns:
        ``mean ci_low ci_high`` (values), ``reference_mean reference_ci_low
        reference_ci_high``, ``diff diff_sem diff_ci_low diff_ci_high``, ``rel_change``
        (diff / reference_mean), ``n_replicates``, ``n_replicates_reference`` (+ ``samples``
        of the difference).
    """
    iterations = _check_iterations(iterations)
    ci = _check_ci(ci)
    a_groups, b_groups = _as_replicates(values), _as_replicates(reference)
    if paired and (len(a_groups) != len(b_groups) or len({g.shape[0] for g in a_groups + b_groups}) > 1):
        raise ValueError("a paired difference needs as many replicates in both conditions, each with the same "
                         f"neurons: {[g.shape[0] for g in a_groups]} vs {[g.shape[0] for g in b_groups]}")
    pa, sa, trailing = _hierarchical_samples(a_groups, iterations, seed, _derived(seed, _MODELS), paired)
    if _same_groups(a_groups, b_groups):
        pb, sb = pa, sa
    else:
        unit_seed = seed if paired else _derived(seed, _REFERENCE)
        model_seed = _derived(seed, _MODELS) if paired else _derived(seed, _REFERENCE, _MODELS)
        pb, sb, t_b = _hierarchical_samples(b_groups, iterations, unit_seed, model_seed, paired)
        if t_b != trailing:
            raise ValueError(f"values and reference differ in their trailing axes: {trailing} vs {t_b}")
    a = _summary(pa, sa, ci, trailing, False)
    b = _summary(pb, sb, ci, trailing, False)
    d = _summary(pa - pb, sa - sb, ci, trailing, return_samples)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(np.asarray(b["mean"]) != 0, np.asarray(d["mean"]) / np.asarray(b["mean"]), np.nan)[()]
    out = {"mean": a["mean"], "ci_low": a["ci_low"], "ci_high": a["ci_high"],
           "reference_mean": b["mean"], "reference_ci_low": b["ci_low"], "reference_ci_high": b["ci_high"],
           "diff": d["mean"], "diff_sem": d["sem"], "diff_ci_low": d["ci_low"], "diff_ci_high": d["ci_high"],
           "rel_change": rel, "n_replicates": len(a_groups), "n_replicates_reference": len(b_groups)}
    if return_samples:
        out["samples"] = d["samples"]
    return out


# --------------------------------------------------------------------------- statistics of means over shared units


def _check_units(reps: list[np.ndarray], name: str, n: int | None = None) -> int:
    sizes = {r.shape[0] if r.ndim else -1 for r in reps}
    if len(sizes) != 1 or min(sizes) < 1:
        raise ValueError(f"{name}: every replicate needs the same >= 1 units on axis 0, got {sorted(sizes)}")
    size = sizes.pop()
    if n is not None and size != n:
        raise ValueError(f"{name} has {size} units, the other condition {n}: both must be measured on the same units")
    return size


def _statistic_side(
    statistic: Callable[[np.ndarray], np.ndarray], reps: list[np.ndarray], w: np.ndarray, draw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Point (mean over replicates of the statistic) and samples ``[B, ...]`` of one condition."""
    b, n = w.shape
    boots, points = [], []
    for r in reps:
        boots.append(np.asarray(statistic((w @ r.reshape(n, -1) / n).reshape(b, *r.shape[1:])), dtype=np.float64))
        points.append(np.asarray(statistic(r.mean(axis=0)[None]), dtype=np.float64)[0])
    stack = np.stack(boots)  # [R, B, ...]
    samples = stack[draw, np.arange(b)[:, None]].mean(axis=1) if len(reps) > 1 else stack[0]
    return np.mean(points, axis=0), samples


def bootstrap_statistic(
    statistic: Callable[[np.ndarray], np.ndarray],
    values: np.ndarray | Sequence[np.ndarray],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    return_samples: bool = False,
) -> dict[str, float | np.ndarray]:
    """Bootstrap of any statistic of a mean over units (images, image pairs, ...).

    ``statistic`` maps means over units ``[B, *F]`` to ``[B, ...]`` (vectorised over the
    leading axis). Each resample draws the units with :func:`bootstrap_counts`; with
    replicate models (a list) it also draws the replicates, and the condition's value is
    the mean over the drawn replicates of the statistic (every replicate measured on the
    same units, resampled alike).

    Args:
        values: per-unit data ``[n_units, *F]``, or a list of them (replicates).

    Returns:
        ``value`` (the statistic of the full data; mean over replicates), ``sem``,
        ``ci_low``, ``ci_high`` (percentile, over the resamples where the statistic is
        finite), ``boot_defined`` (that fraction), ``n`` (units), ``n_replicates``
        (+ ``samples``).
    """
    iterations = _check_iterations(iterations)
    ci = _check_ci(ci)
    reps = _as_replicates(values)
    n = _check_units(reps, "values")
    w = bootstrap_counts(n, iterations, seed).astype(np.float64)
    draw = np.random.default_rng(_derived(seed, _MODELS)).integers(0, len(reps), size=(iterations, len(reps)))
    point, samples = _statistic_side(statistic, reps, w, draw)
    low, high = percentile_ci(samples, ci)
    out = {"value": point[()], "sem": bootstrap_sem(samples), "ci_low": low, "ci_high": high,
           "boot_defined": _defined(samples), "n": n, "n_replicates": len(reps)}
    if return_samples:
        out["samples"] = samples
    return out


def paired_difference(
    statistic: Callable[[np.ndarray], np.ndarray],
    values: np.ndarray | Sequence[np.ndarray],
    reference: np.ndarray | Sequence[np.ndarray],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    return_samples: bool = False,
) -> dict[str, float | np.ndarray]:
    """Paired bootstrap of ``statistic(values) − statistic(reference)`` over shared units.

    Both conditions are measured on the same units (the same images or image pairs),
    so every model of both is resampled with the same unit draws; replicate models are
    drawn independently per condition. When both conditions are the same models the
    difference is exactly 0 (same draws). ``statistic`` as in :func:`bootstrap_statistic`.

    Returns:
        ``value ci_low ci_high`` (values), ``reference_value reference_ci_low
        reference_ci_high``, ``diff diff_sem diff_ci_low diff_ci_high``, ``boot_defined``
        (fraction of resamples with a finite difference), ``n`` (units),
        ``n_replicates``, ``n_replicates_reference`` (+ ``samples`` of the difference).
    """
    iterations = _check_iterations(iterations)
    ci = _check_ci(ci)
    a_reps, b_reps = _as_replicates(values), _as_replicates(reference)
    n = _check_units(a_reps, "values")
    _check_units(b_reps, "reference", n)
    w = bootstrap_counts(n, iterations, seed).astype(np.float64)
    draw_a = np.random.default_rng(_derived(seed, _MODELS)).integers(0, len(a_reps), size=(iterations, len(a_reps)))
    pa, sa = _statistic_side(statistic, a_reps, w, draw_a)
    if _same_groups(a_reps, b_reps):
        pb, sb = pa, sa
    else:
        draw_b = np.random.default_rng(_derived(seed, _REFERENCE, _MODELS)).integers(
            0, len(b_reps), size=(iterations, len(b_reps)))
        pb, sb = _statistic_side(statistic, b_reps, w, draw_b)
    d = sa - sb
    a_lo, a_hi = percentile_ci(sa, ci)
    b_lo, b_hi = percentile_ci(sb, ci)
    d_lo, d_hi = percentile_ci(d, ci)
    out = {"value": pa[()], "ci_low": a_lo, "ci_high": a_hi,
           "reference_value": pb[()], "reference_ci_low": b_lo, "reference_ci_high": b_hi,
           "diff": (pa - pb)[()], "diff_sem": bootstrap_sem(d), "diff_ci_low": d_lo, "diff_ci_high": d_hi,
           "boot_defined": _defined(d), "n": n, "n_replicates": len(a_reps), "n_replicates_reference": len(b_reps)}
    if return_samples:
        out["samples"] = d
    return out


def paired_test(
    values: np.ndarray | Sequence[np.ndarray],
    reference: np.ndarray | Sequence[np.ndarray],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    alternative: str = "two-sided",
) -> dict[str, float]:
    """The one paired comparison of ``values`` and ``reference`` measured on the same units.

    Per unit, ``d = values − reference`` (with replicate models: the mean over each
    condition's replicates). Units with a NaN in any replicate are dropped.

    * ``p``: Wilcoxon signed-rank test of ``d`` (zeros dropped, Wilcoxon's convention;
      the exact null distribution for <= 50 non-zero differences without ties, else the
      normal approximation with scipy's tie-corrected variance), ``alternative``
      "two-sided", "greater" (values > reference) or "less". It is a test over units,
      conditional on the models: it cannot include training variance.
    * ``diff`` and its percentile CI: :func:`paired_difference` of the mean (units
      resampled in pairs; replicate models resampled too).
    * ``d_z``: mean(d) / sd(d) (ddof=1; ±inf for a constant non-zero d);
      ``rank_biserial``: (T+ − T−)/(T+ + T−) in [−1, 1].

    Identical conditions give p = 1, diff = d_z = 0. Fewer than 2 units give NaN tests.

    Returns:
        ``n`` (units), ``mean``, ``reference_mean``, ``diff``, ``diff_sem``,
        ``diff_ci_low``, ``diff_ci_high``, ``rel_change`` (diff / reference_mean),
        ``d_z``, ``rank_biserial``, ``w`` (scipy's statistic), ``p``,
        ``n_replicates``, ``n_replicates_reference``.
    """
    from scipy import stats as sps

    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be two-sided/greater/less, got {alternative!r}")
    a_reps, b_reps = _as_replicates(values), _as_replicates(reference)
    for name, reps in (("values", a_reps), ("reference", b_reps)):
        if any(r.ndim != 1 for r in reps):
            raise ValueError(f"paired_test: {name} must be 1-D per replicate, got {[r.shape for r in reps]}")
    n_all = _check_units(a_reps, "values")
    _check_units(b_reps, "reference", n_all)
    keep = ~(np.isnan(np.stack(a_reps)).any(axis=0) | np.isnan(np.stack(b_reps)).any(axis=0))
    a_reps, b_reps = [r[keep] for r in a_reps], [r[keep] for r in b_reps]
    n = int(keep.sum())
    nan = math.nan
    out: dict[str, float] = {"n": n, "n_replicates": len(a_reps), "n_replicates_reference": len(b_reps)}
    if n == 0:
        out.update(mean=nan, reference_mean=nan, diff=nan, diff_sem=nan, diff_ci_low=nan, diff_ci_high=nan,
                   rel_change=nan, d_z=nan, rank_biserial=nan, w=nan, p=nan)
        return out
    a, b = np.mean(a_reps, axis=0), np.mean(b_reps, axis=0)
    d = a - b
    res = paired_difference(lambda m: m, a_reps, b_reps, iterations, seed, ci)
    ref_mean = float(b.mean())
    out.update(mean=float(a.mean()), reference_mean=ref_mean, diff=float(res["diff"]),
               diff_sem=float(res["diff_sem"]), diff_ci_low=float(res["diff_ci_low"]),
               diff_ci_high=float(res["diff_ci_high"]),
               rel_change=float(res["diff"]) / ref_mean if ref_mean != 0 else nan)
    nz = d[d != 0]
    if n < 2:
        out.update(d_z=nan, rank_biserial=nan, w=nan, p=nan)
    elif nz.size == 0:
        out.update(d_z=0.0, rank_biserial=0.0, w=0.0, p=1.0)
    else:
        ranks = rankdata(np.abs(nz))
        t_plus, t_minus = ranks[nz > 0].sum(), ranks[nz < 0].sum()
        abs_nz = np.abs(nz)
        exact = nz.size <= 50 and np.unique(abs_nz).size == nz.size  # the exact null has no ties
        test = sps.wilcoxon(nz, alternative=alternative, zero_method="wilcox", method="exact" if exact else "approx")
        out.update(d_z=cohens_dz(d), rank_biserial=float((t_plus - t_minus) / (t_plus + t_minus)),
                   w=float(test.statistic), p=float(test.pvalue))
    return out


# --------------------------------------------------------------------------- rank correlation


def _count_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ranks ``[B, n]`` that each element of ``values [n]`` has within resample ``b``, where
    ``counts[b, j]`` copies of element ``j`` are drawn (ties in ``values`` share one rank group).

    O(B·n) instead of a sort per resample: the elements' order is found once; within a
    resample a tie group of G copies preceded by C smaller copies has ranks C+1 … C+G, average
    C + (G + 1)/2. Elements drawn 0 times get a rank that no statistic weights.
    """
    order = np.argsort(values, kind="stable")
    v = values[order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    c = counts[:, order].astype(np.float64)
    ties = starts.size < v.size
    g = np.add.reduceat(c, starts, axis=1) if ties else c  # [B, groups]
    grp_rank = np.cumsum(g, axis=1) - g + (g + 1.0) / 2.0
    ranks = np.empty(counts.shape, dtype=np.float64)
    if ties:
        gid = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, v.size]))
        ranks[:, order] = grp_rank[:, gid]
    else:
        ranks[:, order] = grp_rank
    return ranks


def spearman_from_counts(x: np.ndarray, y: np.ndarray, counts: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Spearman ρ ``[B]`` of the resamples that draw ``counts[b, j]`` copies of the pair ``(x_j, y_j)``.

    Equals :func:`spearman_rho` of the explicitly resampled arrays (average ranks for ties),
    without sorting each resample (:func:`_count_ranks`): the bootstrap of a rank
    correlation over thousands of units in O(B·n). NaN where a resample has fewer than 2
    pairs or a constant side. Pairs with a non-finite value must have zero counts.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != x.size or y.size != x.size:
        raise ValueError(f"counts must be [B, n={x.size}] for x and y of length n, got {counts.shape}, {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        if counts[:, bad].any():
            raise ValueError("spearman_from_counts: a pair with a non-finite value is drawn")
        x, y = np.where(bad, np.inf, x), np.where(bad, np.inf, y)
    out = np.empty(counts.shape[0])
    for s in range(0, counts.shape[0], chunk):
        c = counts[s : s + chunk].astype(np.float64)
        n = c.sum(axis=1, keepdims=True)
        mid = (n + 1.0) / 2.0
        rx, ry = _count_ranks(x, c) - mid, _count_ranks(y, c) - mid
        with np.errstate(invalid="ignore", divide="ignore"):
            den = np.sqrt((c * rx**2).sum(axis=1) * (c * ry**2).sum(axis=1))
            out[s : s + chunk] = np.where((n[:, 0] >= 2) & (den > 0), (c * rx * ry).sum(axis=1) / den, np.nan)
    return out



def spearman_rho(x: np.ndarray, y: np.ndarray, axis: int = -1, nan: str = "propagate") -> np.ndarray:
    """The one Spearman ρ: Pearson correlation of average ranks along ``axis`` (broadcast).

    ``nan="propagate"``: NaN where ``x`` or ``y`` has a NaN along ``axis``; ``"omit"``:
    only the pairs where both are finite count. NaN where fewer than 2 pairs remain or
    either side is constant. Equal to ``scipy.stats.spearmanr`` on 1-D input.
    """
    if nan not in ("propagate", "omit"):
        raise ValueError(f"nan must be 'propagate' or 'omit', got {nan!r}")
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    ok = np.isfinite(x) & np.isfinite(y)
    bad = ~ok.all(axis=-1) if nan == "propagate" else ok.sum(axis=-1) < 2
    if ok.all():
        rx, ry = rankdata(x, axis=-1), rankdata(y, axis=-1)
    else:
        x, y = np.where(ok, x, np.nan), np.where(ok, y, np.nan)
        rx, ry = rankdata(x, axis=-1, nan_policy="omit"), rankdata(y, axis=-1, nan_policy="omit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        rx = rx - np.nanmean(rx, axis=-1, keepdims=True)
        ry = ry - np.nanmean(ry, axis=-1, keepdims=True)
        den = np.sqrt(np.nansum(rx**2, axis=-1) * np.nansum(ry**2, axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.nansum(rx * ry, axis=-1) / den
    return np.where(bad | ~(den > 0), np.nan, rho)[()]


@functools.lru_cache(maxsize=8)
def _permutation_table(s: int) -> np.ndarray | None:
    """All ``s!`` permutations of ``range(s)`` as int8 ``[s!, s]`` for ``s <= 8``, else None."""
    if s > 8:
        return None
    table = np.array(list(itertools.permutations(range(s))), dtype=np.int8).reshape(-1, s)
    table.setflags(write=False)
    return table


def _as_model_values(values: np.ndarray | Sequence[np.ndarray], n_models: int) -> list[np.ndarray]:
    if isinstance(values, np.ndarray) and values.ndim == 2:
        out = [np.asarray(v, dtype=np.float64) for v in values]
    else:
        out = [np.asarray(v, dtype=np.float64).ravel() for v in values]
    if len(out) != n_models:
        raise ValueError(f"values must hold one array per model (n_models={n_models}), got {len(out)}")
    if any(v.size < 1 for v in out):
        raise ValueError("every model needs at least one unit")
    if any(np.isnan(v).any() for v in out):
        raise ValueError("trend values contain NaN: drop or impute units before the trend test")
    return out


def _pooled(sig: np.ndarray, vals: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(sig, [v.size for v in vals]), np.concatenate(vals)


def _model_permutation_rhos(sig: np.ndarray, vals: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """ρ of the pooled points with the σ labels of whole models permuted: ``order [P, M]``."""
    sizes = np.array([v.size for v in vals])
    total = sizes.sum()
    ry = rankdata(np.concatenate(vals))
    ry = ry - ry.mean()
    s_model = np.add.reduceat(ry, np.concatenate([[0], np.cumsum(sizes)[:-1]]))  # [M]
    den_y = (ry**2).sum()
    c = (total + 1) / 2.0
    if np.all(sizes == sizes[0]):  # the x ranks of the models are a fixed multiset: permute them
        rx = rankdata(np.repeat(sig, sizes)).reshape(len(vals), sizes[0])[:, 0] - c
        den = np.sqrt(sizes[0] * (rx**2).sum() * den_y)
        return (rx[order] @ s_model) / den if den > 0 else np.full(order.shape[0], np.nan)
    levels, lab = np.unique(sig, return_inverse=True)
    perm_lab = lab[order]  # [P, M]: σ level each model gets
    onehot = perm_lab[..., None] == np.arange(levels.size)  # [P, M, V]
    cnt = np.einsum("pmv,m->pv", onehot, sizes.astype(np.float64))
    rank_v = np.cumsum(cnt, axis=1) - cnt + (cnt + 1) / 2.0 - c  # [P, V] centred average rank
    rx = np.take_along_axis(rank_v, perm_lab, axis=1)  # [P, M]
    den = np.sqrt((cnt * rank_v**2).sum(axis=1) * den_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * s_model).sum(axis=1) / den


def _trend_p_model(sig: np.ndarray, vals: list[np.ndarray], rho: float, n_permutations: int,
                   seed: int) -> tuple[float, int]:
    """Two-sided permutation p with whole models as the exchangeable units (exact for <= 8 models)."""
    m = len(vals)
    table = _permutation_table(m)
    if table is not None:
        perm = _model_permutation_rhos(sig, vals, table.astype(np.int64))
        return float((np.abs(perm) >= abs(rho) - 1e-12).sum() / table.shape[0]), int(table.shape[0])
    rng = np.random.default_rng(seed)
    exceed, done = 0, 0
    chunk = max(1, (1 << 20) // m)
    while done < n_permutations:
        b = min(chunk, n_permutations - done)
        order = rng.permuted(np.broadcast_to(np.arange(m), (b, m)), axis=1)
        exceed += int((np.abs(_model_permutation_rhos(sig, vals, order)) >= abs(rho) - 1e-12).sum())
        done += b
    return (1 + exceed) / (1 + n_permutations), int(n_permutations)


def _trend_p_paired(sig: np.ndarray, y: np.ndarray, rho: float, n_permutations: int, seed: int,
                    lineages: np.ndarray) -> float:
    """Two-sided permutation p, σ labels shuffled within each shared unit among the models of its lineage."""
    s, n = y.shape
    rx_all = rankdata(np.repeat(sig, n)).reshape(s, n)[:, 0]
    rx_all = rx_all - rx_all.mean()
    ry_all = rankdata(y.ravel()).reshape(s, n)
    ry_all = ry_all - ry_all.mean()
    norm = np.sqrt((rx_all**2).sum() * n * (ry_all**2).sum())
    blocks = [np.flatnonzero(lineages == v) for v in np.unique(lineages)]
    rng = np.random.default_rng(seed)
    chunk = max(1, (1 << 22) // (s * n))
    exceed, done = 0, 0
    while done < n_permutations:
        b = min(chunk, n_permutations - done)
        perm_num = np.zeros(b)
        for block in blocks:
            k = block.size
            rx, ry_flat = rx_all[block], ry_all[block].T.ravel()  # [k], [n*k] unit-major
            if k == 1:
                perm_num += rx[0] * ry_flat.sum()
                continue
            table = _permutation_table(k)
            if table is not None:  # one uniformly drawn permutation of the σ labels per (resample, unit)
                order = table[rng.integers(0, table.shape[0], size=(b, n))]  # [b, n, k]
            else:
                order = np.argsort(rng.random((b, n, k), dtype=np.float32), axis=-1)
            perm_num += rx[order].reshape(b, n * k) @ ry_flat
        exceed += int((np.abs(perm_num / norm) >= abs(rho) - 1e-12).sum())
        done += b
    return (1 + exceed) / (1 + n_permutations)


def _replicate_levels(sig: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """Models of each σ level (ascending) and the replicate counts."""
    levels = np.unique(sig)
    members = [np.flatnonzero(sig == v) for v in levels]
    return members, [len(mm) for mm in members]


def _draw_within_levels(sig: np.ndarray, iterations: int, seed: Seed) -> np.ndarray:
    """``[B, M]``: for slot m, a model drawn with replacement from the models of σ_m."""
    rng = np.random.default_rng(seed)
    draw = np.empty((iterations, sig.size), dtype=np.int64)
    for mm in _replicate_levels(sig)[0]:
        pick = rng.integers(0, mm.size, size=(iterations, mm.size))
        draw[:, mm] = mm[pick]
    return draw


def spearman_trend(
    sigmas: Sequence[float],
    values: np.ndarray | Sequence[np.ndarray],
    n_permutations: int,
    seed: int,
    *,
    paired: bool,
    iterations: int = 0,
    ci: float = 0.95,
    lineages: Sequence[int] | None = None,
) -> dict[str, float | int | str]:
    """The one trend over σ: Spearman ρ of σ against the units' values of every model.

    All points (model m's σ, each of its unit values — e.g. neuron means) enter one
    Spearman correlation (average ranks). Replicate models are separate models with
    the same σ.

    p-value (two-sided; ``permutation_unit`` says which):

    * ``paired=False`` — the unit is the **model**: whole models' σ labels are
      permuted (all ``M!`` orders for ``M <= 8`` models, exact; else
      ``n_permutations`` random ones). This is the test for networks trained
      independently (``training.mode: scratch``), whose unit k share nothing across
      models, and for one value per model. Its floor is set by the number of models
      (e.g. 5 models: p >= 1/120 for any ρ).
    * ``paired=True`` — the unit is the shared **unit** (a neuron measured in every
      fine-tuned model, or an image every model saw): the σ labels are shuffled across
      models within each unit. Conditional on the models: a run-to-run effect of
      training is not in this p (it is in the CI with replicates). With ``lineages``
      (fine-tuned replicates: replicate k descends from its own σ 0 network, so only
      models of one lineage share neurons) the labels are shuffled among the models of
      the unit's lineage.

    CI (``iterations > 0``): hierarchical bootstrap of ρ — the models of each σ drawn
    with replacement (with one replicate per σ: that model), then the units within
    each drawn model (paired: one unit resample shared by every model; unpaired: each
    drawn model its own).

    Args:
        sigmas: ``[M]`` σ of each model (>= 2 distinct values).
        values: ``[M, n_units]`` (required for ``paired``) or a list of M 1-D arrays.
        n_permutations: random relabellings where not exact (p >= 1/(n_permutations+1)).
        seed: RNG seed (>= 0).
        paired: models share their units (see above); set from ``training.mode``.
        iterations, ci: bootstrap of ρ (0 = no CI: NaN).
        lineages: ``[M]`` lineage of each model (paired only; default: one lineage).

    Returns:
        ``rho p n_permutations permutation_unit rho_ci_low rho_ci_high boot_defined
        n_models n_sigma n_replicates_min n_replicates_max n_units`` (``n_units``:
        the fewest units of a model).
    """
    sig = np.asarray(sigmas, dtype=np.float64).ravel()
    vals = _as_model_values(values, sig.size)
    if np.unique(sig).size < 2:
        raise ValueError("a trend over sigma needs at least two distinct sigma values")
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    if paired and len({v.size for v in vals}) > 1:
        raise ValueError(f"a paired trend needs the same units in every model, got sizes {[v.size for v in vals]}")
    counts = _replicate_levels(sig)[1]
    x, y = _pooled(sig, vals)
    rho = float(spearman_rho(x, y))
    out: dict[str, float | int | str] = {
        "rho": rho, "p": math.nan, "n_permutations": 0, "permutation_unit": "unit" if paired else "model",
        "rho_ci_low": math.nan, "rho_ci_high": math.nan, "boot_defined": math.nan, "n_models": int(sig.size),
        "n_sigma": len(counts), "n_replicates_min": int(min(counts)), "n_replicates_max": int(max(counts)),
        "n_units": int(min(v.size for v in vals)),
    }
    if not np.isfinite(rho):
        return out
    if paired:
        lin = np.zeros(sig.size, dtype=np.int64) if lineages is None else np.asarray(lineages).ravel()
        if lin.size != sig.size:
            raise ValueError(f"lineages must hold one entry per model ({sig.size}), got {lin.size}")
        out["p"] = _trend_p_paired(sig, np.stack(vals), rho, int(n_permutations), seed, lin)
        out["n_permutations"] = int(n_permutations)
    else:
        out["p"], out["n_permutations"] = _trend_p_model(sig, vals, rho, int(n_permutations), seed)
    if iterations:
        boot = _trend_bootstrap(sig, vals, _check_iterations(iterations), seed, paired)
        out["rho_ci_low"], out["rho_ci_high"] = (float(v) for v in percentile_ci(boot, ci))
        out["boot_defined"] = float(_defined(boot))
    return out


def _trend_bootstrap(sig: np.ndarray, vals: list[np.ndarray], iterations: int, seed: int, paired: bool) -> np.ndarray:
    """ρ of the pooled points in each hierarchical resample, ``[B]``."""
    m = sig.size
    sizes = np.array([v.size for v in vals])
    n_max = int(sizes.max())
    pad = np.full((m, n_max), np.nan)
    for i, v in enumerate(vals):
        pad[i, : v.size] = v
    draw = _draw_within_levels(sig, iterations, _derived(seed, _MODELS))  # [B, M]
    shared = bootstrap_indices(n_max, iterations, seed) if paired else None
    # every drawn (model, unit) pair as a count of element model * n_max + unit: the pooled points
    width = m * n_max
    rows = (np.arange(iterations, dtype=np.int64) * width)[:, None]
    flat = []
    for slot in range(m):
        n_drawn = sizes[draw[:, slot]]  # [B]
        if paired:
            idx = shared
        else:
            idx = np.random.default_rng(_slot_seed(seed, slot)).integers(0, n_drawn[:, None], size=(iterations, n_max))
        keep = np.arange(n_max)[None, :] < n_drawn[:, None]
        flat.append((rows + draw[:, slot][:, None] * n_max + idx)[keep])
    counts = np.bincount(np.concatenate(flat), minlength=iterations * width).reshape(iterations, width)
    xs = np.repeat(sig, n_max)
    return spearman_from_counts(xs, pad.ravel(), counts)


def model_trend(
    sigmas: Sequence[float],
    point: Sequence[float],
    n_permutations: int,
    seed: int,
    samples: np.ndarray | None = None,
    ci: float = 0.95,
) -> dict[str, float | int | str]:
    """Trend of one number per model (f_rev, a band centroid) over σ: the model is the unit.

    ``rho`` = Spearman of σ against ``point`` (NaN if any point is NaN); ``p`` = the
    model-level permutation p of :func:`spearman_trend`. With ``samples`` ``[M, B]``
    (each model's bootstrap samples, from the same resamples of shared units) the CI of
    ρ comes from those samples with the replicate models of each σ drawn with
    replacement too; without, the CI is NaN.

    Returns:
        ``rho p n_permutations permutation_unit rho_ci_low rho_ci_high boot_defined
        n_models n_sigma n_replicates_min n_replicates_max``.
    """
    sig = np.asarray(sigmas, dtype=np.float64).ravel()
    pts = np.asarray(point, dtype=np.float64).ravel()
    if pts.size != sig.size:
        raise ValueError(f"point must hold one value per model ({sig.size}), got {pts.size}")
    counts = _replicate_levels(sig)[1]
    out: dict[str, float | int | str] = {
        "rho": math.nan, "p": math.nan, "n_permutations": 0, "permutation_unit": "model", "rho_ci_low": math.nan,
        "rho_ci_high": math.nan, "boot_defined": math.nan, "n_models": int(sig.size), "n_sigma": len(counts),
        "n_replicates_min": int(min(counts)) if counts else 0, "n_replicates_max": int(max(counts)) if counts else 0,
    }
    if sig.size < 2 or np.unique(sig).size < 2 or not np.isfinite(pts).all():
        return out
    res = spearman_trend(sig, pts[:, None], n_permutations, seed, paired=False)
    out.update(rho=res["rho"], p=res["p"], n_permutations=res["n_permutations"])
    if samples is not None:
        smp = np.asarray(samples, dtype=np.float64)
        if smp.ndim != 2 or smp.shape[0] != sig.size:
            raise ValueError(f"samples must be [n_models={sig.size}, iterations], got {smp.shape}")
        draw = _draw_within_levels(sig, smp.shape[1], _derived(seed, _MODELS))  # [B, M]
        ys = smp[draw, np.arange(smp.shape[1])[:, None]]  # [B, M]
        boot = np.asarray(spearman_rho(sig[None, :], ys))
        lo, hi = percentile_ci(boot, ci)
        out.update(rho_ci_low=float(lo), rho_ci_high=float(hi), boot_defined=float(_defined(boot)))
    return out


def correlation(
    x: np.ndarray, y: np.ndarray, iterations: int, n_permutations: int, seed: int, ci: float = 0.95
) -> dict[str, float]:
    """Spearman (and Pearson) correlation of two measures on the same units (e.g. images).

    ``rho`` with a permutation ``p`` (pairings permuted: :func:`spearman_trend` with one
    point per unit) and a percentile bootstrap CI over units (pairs resampled with
    :func:`bootstrap_indices`); Pearson ``r`` with scipy's p and the CI from the same
    resamples; ``r2`` = r². NaN pairs are dropped; NaN results for fewer than 3 pairs
    or a constant side.

    Returns:
        ``n rho p rho_ci_low rho_ci_high pearson_r pearson_p pearson_r_ci_low
        pearson_r_ci_high r2 n_permutations``.
    """
    from scipy import stats as sps

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"correlation samples must be 1-D and equally long, got {x.shape} and {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = x.size
    keys = ("rho", "p", "rho_ci_low", "rho_ci_high", "pearson_r", "pearson_p", "pearson_r_ci_low",
            "pearson_r_ci_high", "r2")
    out: dict[str, float] = {"n": n, **{k: math.nan for k in keys}, "n_permutations": 0}
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    w = bootstrap_counts(n, iterations, seed).astype(np.float64)  # the same draws as bootstrap_indices
    boot_s = spearman_from_counts(x, y, w)
    mx, my = (w @ x / n)[:, None], (w @ y / n)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        sxy = (w * (x[None] - mx) * (y[None] - my)).sum(axis=1)
        boot_p = sxy / np.sqrt((w * (x[None] - mx) ** 2).sum(axis=1) * (w * (y[None] - my) ** 2).sum(axis=1))
    trend = spearman_trend(x, y[:, None], n_permutations, seed, paired=False)
    pr = sps.pearsonr(x, y)
    s_lo, s_hi = percentile_ci(boot_s, ci)
    p_lo, p_hi = percentile_ci(boot_p, ci)
    out.update(rho=float(trend["rho"]), p=float(trend["p"]), rho_ci_low=float(s_lo), rho_ci_high=float(s_hi),
               pearson_r=float(pr.statistic), pearson_p=float(pr.pvalue), pearson_r_ci_low=float(p_lo),
               pearson_r_ci_high=float(p_hi), r2=float(pr.statistic) ** 2, n_permutations=int(trend["n_permutations"]))
    return out


# --------------------------------------------------------------------------- effect sizes and adjustment


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's d = (mean(a) − mean(b)) / pooled sd (ddof=1 in each group), for unpaired groups.

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


def cohens_dz(d: np.ndarray) -> float:
    """Cohen's d_z of paired differences: mean(d) / sd(d) (ddof=1); ±inf for a constant non-zero d, 0 for d ≡ 0."""
    d = np.asarray(d, dtype=np.float64).ravel()
    if d.size < 2:
        raise ValueError("Cohen's d_z needs at least two paired differences")
    sd, mean = d.std(ddof=1), d.mean()
    if sd > 0:
        return float(mean / sd)
    return 0.0 if mean == 0 else math.copysign(math.inf, float(mean))


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


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Family-wise adjustment by name: ``"holm"`` or ``"bonferroni"``."""
    methods = {"holm": holm, "bonferroni": bonferroni}
    if method not in methods:
        raise ValueError(f"adjustment method must be one of {sorted(methods)}, got {method!r}")
    return methods[method](p)


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
    values: np.ndarray | Sequence[np.ndarray],
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
