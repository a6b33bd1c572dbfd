"""Rank correlation and trend tests: Spearman ρ, its count-weighted bootstrap, the trend over σ.

:func:`spearman_rho` is the one ρ (average ranks); :func:`spearman_from_counts` the ρ of
count-weighted resamples; :func:`spearman_trend` the one trend test over σ (permutation
p at the level of the exchangeable unit, hierarchical bootstrap CI of ρ);
:func:`model_trend` the same for one number per model; :func:`correlation` for two
measures on the same units.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from ._common import _MODELS, Replicates, Seed, _check_iterations, _derived, _slot_seed, rankdata
from .bootstrap import _defined, bootstrap_counts, bootstrap_indices, percentile_ci

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
    c = np.take(counts, order, axis=1)  # np.take: one gather, 2-3x faster than fancy indexing here
    if c.dtype != np.float64:
        c = c.astype(np.float64)
    ties = starts.size < v.size
    g = np.add.reduceat(c, starts, axis=1) if ties else c  # [B, groups]
    grp_rank = np.cumsum(g, axis=1)
    grp_rank -= g
    grp_rank += (g + 1.0) / 2.0
    inv = np.empty_like(order)
    inv[order] = np.arange(order.size)
    # element j (sorted position inv[j]) takes its tie group's rank: a gather, no scatter
    idx = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, v.size]))[inv] if ties else inv
    return np.take(grp_rank, idx, axis=1)


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
        c = np.asarray(counts[s : s + chunk], dtype=np.float64)
        n = c.sum(axis=1, keepdims=True)
        mid = (n + 1.0) / 2.0
        rx, ry = _count_ranks(x, c), _count_ranks(y, c)
        rx -= mid
        ry -= mid
        # c·rx², c·ry², c·rx·ry with in-place temporaries (the same products as written out)
        sxx, syy, sxy = np.square(rx), np.square(ry), c * rx
        sxx *= c
        syy *= c
        sxy *= ry
        with np.errstate(invalid="ignore", divide="ignore"):
            den = np.sqrt(sxx.sum(axis=1) * syy.sum(axis=1))
            out[s : s + chunk] = np.where((n[:, 0] >= 2) & (den > 0), sxy.sum(axis=1) / den, np.nan)
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


def _as_model_values(values: Replicates, n_models: int) -> list[np.ndarray]:
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
    values: Replicates,
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
