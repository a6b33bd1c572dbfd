"""Effect sizes and p-value adjustment: Cohen's d and d_z, Bonferroni, Holm, :func:`adjust` by name."""

from __future__ import annotations

import math

import numpy as np

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
