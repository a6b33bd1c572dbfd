"""The run-level design: every claim about training σ is a test over training runs.

One training run is one draw of "train a network at σ". A claim about σ is therefore
tested on **run-level values** — one number per trained model (its mean over neurons,
images or pairs) — and its interval comes from the spread *between* runs (docs/statistics.md,
"The design"). Within-run sampling (neurons, images) is already inside each run's value,
so it adds to that spread; it never replaces it.

* :func:`sigma_contrast` — the test of the primary family: the mean of the runs at the
  largest σ minus the mean of the runs at σ 0, with the between-run variance pooled over
  every σ level (one-way layout), Student t with ``n_runs − n_sigma`` degrees of freedom.
* :func:`run_difference` — two conditions' runs: Welch t (independent networks: BlurPool
  vs σ 0, trained vs filter-only reference) or paired t (the same networks: a filter-only
  reference against the σ 0 run it is built on).
* :func:`verdict` — the one verdict vocabulary (:data:`VERDICTS`) of every table and of
  the report; :func:`primary_family` adds Holm's adjustment over the primary rows.
* :func:`simulate_design` — size, power and interval coverage of :func:`sigma_contrast`
  for a design (σ levels × runs) and a planted effect (docs/statistics.md's tables and
  the acceptance test).

A statistic the design cannot compute (one run on a side, a single σ level) is returned
with NaN numbers and a ``note`` that says why; it is never an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..model_id import seed_index
from .effects import holm

VERDICTS = ("lower", "higher", "no detectable change", "not testable", "uninformative")
"""The one verdict vocabulary: a direction only when the test rejects at α (the t interval then
excludes 0 too); ``not testable`` when the design cannot compute the test (``note`` says why);
``uninformative`` when the measure sits at its ceiling or floor for every model."""

PRIMARY, EXPLORATORY = "primary", "exploratory"
"""The two families: only primary rows (Holm over the family) may be called findings."""

PRIMARY_PATCH_METRICS = ("hf_fraction", "edge_density", "entropy")
"""The preferred-patch measures of the primary family (the VITAL feature-analysis report's claim), per layer."""
PRIMARY_FEATVIS_METRICS = ("hf_fraction",)
"""The optimised-stimulus measure of the primary family, per layer."""

CONTRAST_KEYS = ("sigma_min", "sigma_max", "mean_sigma_min", "mean_sigma_min_ci_low", "mean_sigma_min_ci_high",
                 "mean_sigma_max", "mean_sigma_max_ci_low", "mean_sigma_max_ci_high", "diff", "diff_ci_low",
                 "diff_ci_high", "rel_change", "sd_between", "t", "df", "p", "n_runs", "n_sigma",
                 "n_runs_sigma_min", "n_runs_sigma_max", "n_runs_min", "n_runs_max", "test", "note")
"""Keys of :func:`sigma_contrast`."""

DIFFERENCE_KEYS = ("mean", "reference_mean", "diff", "diff_ci_low", "diff_ci_high", "rel_change", "t", "df", "p",
                   "n_runs", "n_runs_reference", "test", "note")
"""Keys of :func:`run_difference`."""


def _t():  # scipy.stats.t, imported on first use (scipy.stats costs ~1 s to import)
    from scipy.stats import t

    return t


def _finite(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def sigma_contrast(sigmas: Sequence[float], values: Sequence[float], ci: float = 0.95,
                   level: float | None = None) -> dict:
    """Runs at the largest σ (or at ``level``) against runs at the smallest σ, between-run variance pooled
    over every σ level.

    ``diff`` = mean of the run values at σ max (``level``) − mean at σ min (each run weighs the
    same); its standard error is ``sd_between · sqrt(1/n_max + 1/n_min)``, where
    ``sd_between²`` is the pooled variance of the runs around their own σ level's mean
    (all levels, ``df = n_runs − n_sigma``). Two-sided Student t test of ``diff = 0``
    and the t interval at ``ci``: the interval excludes 0 exactly when ``p < 1 − ci``.
    The endpoint means get t intervals from the same pooled variance.

    Args:
        sigmas: ``[n_runs]`` training σ of each run (px at 224).
        values: ``[n_runs]`` run-level values (a run's mean over its units); NaN runs are dropped.
        ci: interval coverage.

    Returns:
        :data:`CONTRAST_KEYS`; numbers NaN and ``note`` set when not testable (fewer than two
        σ levels, or no run left over to estimate the between-run variance: ``df = 0``).
    """
    sig = np.asarray(sigmas, dtype=np.float64).ravel()
    val = np.asarray(values, dtype=np.float64).ravel()
    if sig.size != val.size:
        raise ValueError(f"sigma_contrast: {sig.size} sigmas but {val.size} values")
    ok = np.isfinite(sig) & np.isfinite(val)
    sig, val = sig[ok], val[ok]
    levels = np.unique(sig)
    out: dict = dict.fromkeys(CONTRAST_KEYS, math.nan)
    counts = [int((sig == s).sum()) for s in levels]
    out.update(n_runs=int(sig.size), n_sigma=int(levels.size), n_runs_min=min(counts, default=0),
               n_runs_max=max(counts, default=0), test="pooled t (sigma max vs sigma min)", note="")
    if levels.size < 2:
        out.update(n_runs_sigma_min=int(sig.size), n_runs_sigma_max=int(sig.size),
                   note=f"not testable: {levels.size} sigma level(s); a contrast over sigma needs two")
        return out
    lo, hi = levels[0], levels[-1] if level is None else float(level)
    if hi not in levels:
        raise ValueError(f"sigma_contrast: level {hi:g} is not one of the sigma levels {levels.tolist()}")
    a, b = val[sig == lo], val[sig == hi]
    out.update(sigma_min=float(lo), sigma_max=float(hi), mean_sigma_min=float(a.mean()),
               mean_sigma_max=float(b.mean()), n_runs_sigma_min=int(a.size), n_runs_sigma_max=int(b.size))
    diff = float(b.mean() - a.mean())
    out.update(diff=diff, rel_change=diff / float(a.mean()) if a.mean() != 0 else math.nan)
    df = int(sig.size - levels.size)
    if df < 1:
        out["note"] = (f"not testable: one training run per sigma level ({sig.size} runs at {levels.size} levels) "
                       "leaves no between-run variance to test against")
        return out
    resid = val - np.array([val[sig == s].mean() for s in sig])
    sd = float(np.sqrt((resid**2).sum() / df))
    se = sd * math.sqrt(1 / a.size + 1 / b.size)
    out.update(sd_between=sd, df=df)
    if not se > 0:  # every run of a level identical (a quantised measure): no spread to test against
        out["note"] = "not testable: every run of a sigma level gives the same value (no between-run variance)"
        return out
    q = float(_t().ppf(0.5 + ci / 2, df))
    t = diff / se
    out.update(t=t, p=float(2 * _t().sf(abs(t), df)), diff_ci_low=diff - q * se, diff_ci_high=diff + q * se)
    for key, x in (("mean_sigma_min", a), ("mean_sigma_max", b)):
        half = q * sd / math.sqrt(x.size)
        out.update({f"{key}_ci_low": float(x.mean() - half), f"{key}_ci_high": float(x.mean() + half)})
    return out


def run_difference(values: Sequence[float], reference: Sequence[float], ci: float = 0.95, *,
                   paired: bool) -> dict:
    """``mean(values) − mean(reference)`` over training runs, with a t test and t interval.

    ``paired=False`` (independent networks, e.g. BlurPool vs σ 0, a trained σ model vs
    its filter-only references): Welch's t (unequal variances, Welch–Satterthwaite df).
    ``paired=True`` (the same networks, e.g. ``ref-sigma6-seed<k>`` vs ``sigma0-seed<k>``):
    the run-wise differences, one-sample t. NaN runs (or pairs) are dropped.

    Returns:
        :data:`DIFFERENCE_KEYS`; ``note`` says why a test is missing (a side with one run:
        no between-run variance).
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    b = np.asarray(reference, dtype=np.float64).ravel()
    out: dict = dict.fromkeys(DIFFERENCE_KEYS, math.nan)
    out.update(test="paired t over runs" if paired else "Welch t over runs", note="")
    if paired:
        if a.size != b.size:
            raise ValueError(f"run_difference: paired runs need equal counts, got {a.size} and {b.size}")
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
    else:
        a, b = _finite(a), _finite(b)
    out.update(n_runs=int(a.size), n_runs_reference=int(b.size))
    if a.size == 0 or b.size == 0:
        out["note"] = "not testable: a side has no run with a value"
        return out
    diff = float(a.mean() - b.mean())
    out.update(mean=float(a.mean()), reference_mean=float(b.mean()), diff=diff,
               rel_change=diff / float(b.mean()) if b.mean() != 0 else math.nan)
    if paired:
        if a.size < 2:
            out["note"] = "not testable: one pair of runs gives no between-run variance"
            return out
        d = a - b
        df = float(d.size - 1)
        se = float(d.std(ddof=1) / math.sqrt(d.size))
    else:
        if a.size < 2 or b.size < 2:
            out["note"] = (f"not testable: {min(a.size, b.size)} training run on one side gives no between-run "
                           "variance")
            return out
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        se = float(math.sqrt(va + vb))
        df = float((va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))) if se > 0 else math.nan
    if not se > 0:
        out["note"] = ("not testable: every pair of runs gives the same difference (no between-run variance)" if paired
                       else "not testable: every run of each side gives the same value (no between-run variance)")
        return out
    q = float(_t().ppf(0.5 + ci / 2, df))
    t = diff / se
    out.update(t=t, df=df, p=float(2 * _t().sf(abs(t), df)), diff_ci_low=diff - q * se, diff_ci_high=diff + q * se)
    return out


def verdict(diff: float, p: float, low: float = math.nan, high: float = math.nan, alpha: float = 0.05,
            note: str = "") -> str:
    """The one verdict of a row (:data:`VERDICTS`): ``lower`` / ``higher`` when ``p < alpha`` and the interval
    excludes 0 on the same side; ``not testable`` when ``p`` is missing; else ``no detectable change``.

    ``p`` is the p the row is judged by (Holm-adjusted in the primary family, unadjusted in
    the exploratory rows). ``note`` starting with ``uninformative`` gives ``uninformative``.
    """
    if str(note).startswith("uninformative"):
        return "uninformative"
    if p is None or not np.isfinite(p) or diff is None or not np.isfinite(diff):
        return "not testable"
    ci_known = np.isfinite(low) and np.isfinite(high)
    excludes = (low > 0 or high < 0) if ci_known else True
    if p < alpha and excludes and diff != 0:
        return "lower" if diff < 0 else "higher"
    return "no detectable change"


def primary_family(rows: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Holm's adjustment over the rows of ``family == "primary"`` (``p_holm``) and every row's ``verdict``.

    Primary rows are judged by ``p_holm``, exploratory rows by their own ``p``; both need
    the t interval (``diff_ci_low``, ``diff_ci_high``) on the side of ``diff``.
    """
    out = rows.copy()
    prim = (out["family"] == PRIMARY).to_numpy()
    p = out["p"].to_numpy(dtype=float)
    adj = np.full(p.shape, np.nan)
    adj[prim] = holm(p[prim])
    out["p_holm"] = adj
    judged = np.where(prim, adj, p)
    notes = out["note"].fillna("").astype(str) if "note" in out else pd.Series([""] * len(out))
    out["verdict"] = [verdict(d, q, lo, hi, alpha, n) for d, q, lo, hi, n in
                      zip(out["diff"].to_numpy(dtype=float), judged, out["diff_ci_low"].to_numpy(dtype=float),
                          out["diff_ci_high"].to_numpy(dtype=float), notes)]
    return out


# --------------------------------------------------------------------------- the design's simulation


def simulate_design(
    sigma_levels: Sequence[float],
    runs_per_sigma: int | Sequence[int],
    effect: float | Sequence[float],
    sd_between: float,
    *,
    n_sim: int = 20000,
    seed: int = 0,
    alpha: float = 0.05,
    family_size: int = 1,
    ci: float = 0.95,
    shape: Sequence[float] | None = None,
) -> dict[str, float]:
    """Rejection rate and interval coverage of :func:`sigma_contrast` for a planted effect.

    Each simulated experiment draws, for every run at level σ_j, a run-level value
    ``effect · shape_j + N(0, sd_between²)`` (``shape`` defaults to σ_j / σ_max: linear
    from 0 at σ min to 1 at σ max; ``effect`` is then the true σ max − σ min difference)
    and runs :func:`sigma_contrast`'s test, vectorised.

    Args:
        sigma_levels: the σ levels; runs_per_sigma: runs at each (int: the same at all).
        effect: true difference σ max − σ min (a sequence: one experiment set per value).
        sd_between: between-run sd of a run-level value at a fixed σ.
        n_sim, seed: experiments and RNG seed.
        alpha: level of each test; family_size: the test must pass ``alpha / family_size``
            (the smallest Holm threshold; the power of a row that must pass it alone).
        ci: interval coverage checked.
        shape: ``[n_levels]`` relative effect at each level (0 at σ min, 1 at σ max).

    Returns:
        ``reject`` (share with p below ``alpha / family_size``), ``reject_alpha`` (below ``alpha``),
        ``coverage`` (share of intervals that hold the true difference), ``mean_se``, ``df``.
    """
    levels = np.asarray(sigma_levels, dtype=np.float64)
    reps = np.broadcast_to(np.asarray(runs_per_sigma, dtype=np.int64), levels.shape)
    if levels.size < 2 or np.any(reps < 1) or int(reps.sum()) - levels.size < 1:
        raise ValueError(f"simulate_design: design {list(levels)} x {list(reps)} has no residual degrees of freedom")
    shp = (levels - levels.min()) / (levels.max() - levels.min()) if shape is None else np.asarray(shape, float)
    effects = np.atleast_1d(np.asarray(effect, dtype=np.float64))
    rng = np.random.default_rng(seed)
    df = int(reps.sum() - levels.size)
    lo_n, hi_n = int(reps[np.argmin(levels)]), int(reps[np.argmax(levels)])
    t = _t()
    q = float(t.ppf(0.5 + ci / 2, df))
    out = {"reject": [], "reject_alpha": [], "coverage": [], "mean_se": [], "df": df}
    for eff in effects:
        ss, means = np.zeros(n_sim), []
        for j, r in enumerate(reps):
            x = eff * shp[j] + sd_between * rng.standard_normal((n_sim, int(r)))
            m = x.mean(axis=1)
            means.append(m)
            ss += ((x - m[:, None]) ** 2).sum(axis=1)
        sd = np.sqrt(ss / df)
        se = sd * math.sqrt(1 / lo_n + 1 / hi_n)
        diff = means[int(np.argmax(levels))] - means[int(np.argmin(levels))]
        p = 2 * t.sf(np.abs(diff / se), df)
        out["reject"].append(float((p < alpha / family_size).mean()))
        out["reject_alpha"].append(float((p < alpha).mean()))
        out["coverage"].append(float((np.abs(diff - eff) <= q * se).mean()))
        out["mean_se"].append(float(se.mean()))
    if effects.size == 1:
        return {k: (v[0] if isinstance(v, list) else v) for k, v in out.items()}
    return out


# --------------------------------------------------------------------------- run-level tables

TREND_COLUMNS = ["family", *CONTRAST_KEYS]
"""Columns a run-level σ table adds to its key columns (:func:`sigma_table`)."""

COMPARISON_COLUMNS = ["comparison", "model", "sigma", "reference", "family", *DIFFERENCE_KEYS]
"""Columns a run-level comparison table adds to its key columns (:func:`comparison_table`)."""


def run_values(units: pd.DataFrame, keys: Sequence[str], value: str = "value") -> pd.DataFrame:
    """One value per training run: the mean over its units (neurons, renders, images) of ``value``.

    Args:
        units: long table with ``model`` and ``keys`` columns (e.g. ``layer metric``) and one row per
            unit; NaN values (a render that did not raise its objective) are left out of the mean.
        keys: the columns that name one measure.

    Returns:
        ``model *keys value n_units`` (``n_units``: units with a value; a model whose units are all
        NaN gets NaN and 0).
    """
    cols = ["model", *keys]
    grouped = units.groupby(cols, sort=False)[value]
    out = grouped.mean().rename("value").to_frame()
    out["n_units"] = grouped.count()
    return out.reset_index()


def sigma_table(
    runs: pd.DataFrame,
    keys: Sequence[str],
    series: Sequence[str],
    sigma_of: dict[str, float],
    group_of: dict[str, str] | None = None,
    *,
    primary: set[tuple] | None = None,
    ci: float = 0.95,
    levels: Sequence[float] | None = None,
) -> pd.DataFrame:
    """:func:`sigma_contrast` per measure over the runs of the σ series (σ max vs σ min, or each of ``levels``).

    Args:
        runs: :func:`run_values` output (``model *keys value``).
        keys: measure columns; series: the σ series' group ids; sigma_of: ``{group: σ}``.
        group_of: ``{model: group}`` (a model without an entry is its own group).
        primary: the key tuples of the primary family (``family`` column; others exploratory).
        levels: contrast each of these σ against σ min (default: σ max only).

    Returns:
        ``*keys`` + :data:`TREND_COLUMNS`, one row per measure (× level).
    """
    grp = {m: str((group_of or {}).get(m, m)) for m in runs["model"].unique()}
    series = [str(g) for g in series]
    sub = runs[runs["model"].map(grp).isin(series)]
    rows = []
    for key, block in sub.groupby(list(keys), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        sig = [float(sigma_of[grp[m]]) for m in block["model"]]
        fam = PRIMARY if primary and key in primary else EXPLORATORY
        for lv in (levels if levels is not None else [None]):
            if lv is not None and float(lv) not in sig:
                continue
            res = sigma_contrast(sig, block["value"].to_numpy(dtype=float), ci=ci, level=lv)
            rows.append({**dict(zip(keys, key)), "family": fam, **res})
    return pd.DataFrame(rows, columns=[*keys, *TREND_COLUMNS])


def comparison_table(
    runs: pd.DataFrame,
    keys: Sequence[str],
    comparisons: Sequence[tuple[str, str, str, bool]],
    group_of: dict[str, str] | None = None,
    sigma_of: dict[str, float] | None = None,
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """:func:`run_difference` per measure for each ``(kind, group, reference group, paired)``.

    ``paired`` comparisons match runs by :func:`blurscope.model_id.seed_index` (``ref-sigma6-seed1`` with
    ``sigma0-seed1``: the same weights) and use the runs both sides have. Every row is
    exploratory (the primary family is the σ contrast of the preference measures).

    Returns:
        ``*keys`` + :data:`COMPARISON_COLUMNS`.
    """
    grp = {m: str((group_of or {}).get(m, m)) for m in runs["model"].unique()}
    rows = []
    for key, block in runs.groupby(list(keys), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        by_group: dict[str, dict[int, float]] = {}
        for m, v in zip(block["model"], block["value"].to_numpy(dtype=float)):
            by_group.setdefault(grp[m], {})[seed_index(m)] = v
        for kind, g, ref, paired in comparisons:
            if g not in by_group or ref not in by_group:
                continue
            a, b = by_group[g], by_group[ref]
            if paired:
                common = sorted(set(a) & set(b))
                va, vb = [a[k] for k in common], [b[k] for k in common]
            else:
                va, vb = [a[k] for k in sorted(a)], [b[k] for k in sorted(b)]
            res = run_difference(va, vb, ci=ci, paired=paired)
            rows.append({**dict(zip(keys, key)), "comparison": kind, "model": g,
                         "sigma": float((sigma_of or {}).get(g, math.nan)), "reference": ref, "family": EXPLORATORY,
                         **res})
    return pd.DataFrame(rows, columns=[*keys, *COMPARISON_COLUMNS])


def sigma_effects(
    runs: pd.DataFrame,
    keys: Sequence[str],
    series: Sequence[str],
    sigma_of: dict[str, float],
    group_of: dict[str, str] | None = None,
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Each σ level of the series against σ min (:func:`sigma_contrast` with ``level``, variance pooled over
    all levels) as comparison rows (``comparison = "sigma"``); the σ max row equals the :func:`sigma_table` row.

    Returns:
        ``*keys`` + :data:`COMPARISON_COLUMNS`.
    """
    series = [str(g) for g in series]
    levels = sorted({float(sigma_of[g]) for g in series})
    by_sigma = {float(sigma_of[g]): g for g in series}
    tab = sigma_table(runs, keys, series, sigma_of, group_of, ci=ci, levels=levels[1:])
    out = pd.DataFrame({
        **{k: tab[k] for k in keys},
        "comparison": "sigma",
        "model": [by_sigma.get(float(s), "") for s in tab["sigma_max"]],
        "sigma": tab["sigma_max"],
        "reference": by_sigma[levels[0]] if levels else "",
        "family": EXPLORATORY,
        "mean": tab["mean_sigma_max"], "reference_mean": tab["mean_sigma_min"],
        **{k: tab[k] for k in ("diff", "diff_ci_low", "diff_ci_high", "rel_change", "t", "df", "p")},
        "n_runs": tab["n_runs_sigma_max"], "n_runs_reference": tab["n_runs_sigma_min"],
        "test": tab["test"], "note": tab["note"],
    })
    return out[[*keys, *COMPARISON_COLUMNS]]
