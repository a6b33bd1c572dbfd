"""Resampling and bootstrap means over units: the one resampler, percentile intervals, hierarchical bootstrap.

* **Resampling** — :func:`bootstrap_indices` (the one resampler), :func:`bootstrap_counts`
  (the same draws as counts), :func:`percentile_ci`, :func:`bootstrap_sem`.
* **Means over units** — :func:`neuron_bootstrap` (neurons with all their patches),
  :func:`hierarchical_bootstrap` (replicate models, then their neurons) and
  :func:`mean_difference` (two conditions' means, paired or unpaired).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np

from ._common import (
    _MODELS,
    _REFERENCE,
    Replicates,
    Seed,
    _as_replicates,
    _check_ci,
    _check_iterations,
    _derived,
    _same_groups,
    _slot_seed,
)

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


def mean_difference(values: Replicates, reference: Replicates, iterations: int, seed: int, ci: float = 0.95,
                    paired: bool = False, return_samples: bool = False) -> dict[str, float | np.ndarray]:
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
