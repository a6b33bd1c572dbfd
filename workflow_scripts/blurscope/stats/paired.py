"""Statistics of means over shared units: any statistic's bootstrap, the paired difference, the paired test.

:func:`bootstrap_statistic` (e.g. f_rev from a mean preference curve over image pairs),
:func:`paired_difference` (trained − reference on the same units, replicate models
resampled too) and :func:`paired_test` (Wilcoxon signed-rank + paired bootstrap CI of
the mean difference + Cohen's d_z).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._common import (
    _MODELS,
    _REFERENCE,
    Replicates,
    _as_replicates,
    _check_ci,
    _check_iterations,
    _derived,
    _same_groups,
    rankdata,
)
from .bootstrap import _defined, bootstrap_counts, bootstrap_sem, percentile_ci
from .effects import cohens_dz

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


def bootstrap_statistic(statistic: Callable[[np.ndarray], np.ndarray], values: Replicates, iterations: int, seed: int,
                        ci: float = 0.95, return_samples: bool = False) -> dict[str, float | np.ndarray]:
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


def paired_difference(statistic: Callable[[np.ndarray], np.ndarray], values: Replicates, reference: Replicates,
                      iterations: int, seed: int, ci: float = 0.95,
                      return_samples: bool = False) -> dict[str, float | np.ndarray]:
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


def paired_test(values: Replicates, reference: Replicates, iterations: int, seed: int, ci: float = 0.95,
                alternative: str = "two-sided") -> dict[str, float]:
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
