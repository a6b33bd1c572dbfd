"""Statistics of band-intervention results: per-layer summaries, per-image runs on disk, models compared.

:func:`summarize` turns one layer's :class:`blurscope.bands.intervention.BandRun` into a tidy
table with bootstrap CIs over images; :func:`save_run` / :func:`load_run` keep
its per-image outcomes (``.npz``), on which :func:`shift_tables` compares the
models (training σ) per layer and head, paired over the same images (Q5);
:func:`band_centroid` summarises where in frequency a layer's usable
information lies. Every interval, paired difference and trend comes from
:mod:`blurscope.stats` (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from blurscope import stats
from blurscope.freq import BAND_CONTROL_ROWS as CONTROL_ROWS

if TYPE_CHECKING:  # numpy and pandas only at run time: the summary job does not import torch
    from blurscope.bands.intervention import BandRun

# --------------------------------------------------------------------------
# statistics over images


def summarize(run: BandRun, layer_table: pd.DataFrame, iterations: int, seed: int, ci: float = 0.95) -> pd.DataFrame:
    """Tidy table of one layer: one row per (row name, head).

    Columns: ``band kind head accuracy accuracy_ci_low accuracy_ci_high gt_rank
    gt_rank_ci_low gt_rank_ci_high chance_accuracy chance_gt_rank n_images
    n_freqs low high mean_radius map_h map_w``. ``kind`` is ``band`` or
    ``control``; CIs are percentile bootstraps over images (:func:`blurscope.stats.bootstrap_statistic`).
    """
    n = run.correct["own"].shape[1]
    info = layer_table.set_index("band")
    h, w = run.map_hw
    out = []
    for head in run.correct:
        a = stats.bootstrap_statistic(
            _identity, np.asarray(run.correct[head], dtype=np.float64).T, iterations, seed, ci
        )
        r = stats.bootstrap_statistic(_identity, np.asarray(run.rank[head], dtype=np.float64).T, iterations, seed, ci)
        acc, acc_lo, acc_hi = a["value"], a["ci_low"], a["ci_high"]
        rk, rk_lo, rk_hi = r["value"], r["ci_low"], r["ci_high"]
        for i, name in enumerate(run.rows):
            if name in info.index:
                kind, lo, hi, nf, mr = "band", *info.loc[name, ["low", "high", "n_freqs", "mean_radius"]]
            else:
                kind = "control"
                lo, hi = (0.0, float(info["high"].max())) if name != "empty" else (float("nan"), float("nan"))
                nf = {"unmodified": h * w, "union": h * w, "empty": 0}[name]
                mr = float("nan")
            out.append(
                dict(
                    band=name,
                    kind=kind,
                    head=head,
                    accuracy=acc[i],
                    accuracy_ci_low=acc_lo[i],
                    accuracy_ci_high=acc_hi[i],
                    gt_rank=rk[i],
                    gt_rank_ci_low=rk_lo[i],
                    gt_rank_ci_high=rk_hi[i],
                    chance_accuracy=1.0 / run.num_classes,
                    chance_gt_rank=(run.num_classes + 1) / 2.0,
                    n_images=n,
                    n_freqs=int(nf),
                    low=float(lo),
                    high=float(hi),
                    mean_radius=float(mr),
                    map_h=h,
                    map_w=w,
                )
            )
    return pd.DataFrame(out)


def band_centroid(score: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Score-weighted mean band radius: ``Σ_b s_b r_b / Σ_b s_b`` over axis 0.

    ``score``: ``[n_bands, ...]`` non-negative above-chance scores (negative
    values are clipped to 0); ``radius``: ``[n_bands]`` band radii (bands with
    NaN radius — empty bands — get weight 0). NaN where no band is above chance.
    A lower centroid = the layer's usable information sits in lower bands.
    """
    s = np.clip(np.asarray(score, dtype=np.float64), 0.0, None)
    r = np.asarray(radius, dtype=np.float64)
    ok = np.isfinite(r)
    s = s * ok.reshape(-1, *([1] * (s.ndim - 1)))
    rr = np.where(ok, r, 0.0).reshape(-1, *([1] * (s.ndim - 1)))
    tot = s.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, (s * rr).sum(0) / np.where(tot > 0, tot, 1.0), np.nan)


# --------------------------------------------------------------------------
# per-image results on disk and the comparison across models (Q5)


def save_run(path: str, run: BandRun, layer_table: pd.DataFrame, ids: np.ndarray, labels: np.ndarray) -> None:
    """Per-image outcomes as ``.npz`` (atomic): what :func:`shift_tables` bootstraps.

    Arrays: ``rows`` [R] str, ``heads`` [H] str, ``correct_<head>`` bool
    [R, N], ``rank_<head>`` float32 [R, N], ``ids`` / ``labels`` int64 [N],
    ``mean_radius`` / ``n_freqs`` [R] (controls: NaN / bins kept),
    ``num_classes``, ``map_hw``.
    """
    from blurscope.io import save_npz

    info = layer_table.set_index("band")
    h, w = run.map_hw
    radius = np.array([info.loc[r, "mean_radius"] if r in info.index else np.nan for r in run.rows], dtype=np.float64)
    nfreq = np.array(
        [int(info.loc[r, "n_freqs"]) if r in info.index else {"empty": 0}.get(r, h * w) for r in run.rows],
        dtype=np.int64,
    )
    arrays = {
        "rows": np.array(run.rows),
        "heads": np.array(list(run.correct)),
        "ids": np.asarray(ids, dtype=np.int64),
        "labels": np.asarray(labels, dtype=np.int64),
        "mean_radius": radius,
        "n_freqs": nfreq,
        "num_classes": np.int64(run.num_classes),
        "map_hw": np.array(run.map_hw, dtype=np.int64),
    }
    for head in run.correct:
        arrays[f"correct_{head}"] = run.correct[head].astype(bool)
        arrays[f"rank_{head}"] = run.rank[head].astype(np.float32)
    save_npz(path, **arrays)


def load_run(path: str) -> dict:
    """Read :func:`save_run` output; raises ``ValueError`` naming the file if arrays are missing."""
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    need = {"rows", "heads", "ids", "labels", "mean_radius", "n_freqs", "num_classes"}
    if need - set(data):
        raise ValueError(f"{path}: not a band-intervention npz (missing {sorted(need - set(data))})")
    for head in data["heads"]:
        if f"correct_{head}" not in data or f"rank_{head}" not in data:
            raise ValueError(f"{path}: head {head!r} listed but its arrays are missing")
    data["rows"] = [str(r) for r in data["rows"]]
    data["heads"] = [str(h) for h in data["heads"]]
    return data


def _scores(data: dict, head: str, band_rows: list[int]) -> dict[str, np.ndarray]:
    """Per-image above-chance scores ``[n_bands, N]`` for the centroids."""
    k = int(data["num_classes"])
    chance_rank = (k + 1) / 2.0
    correct = data[f"correct_{head}"][band_rows].astype(np.float64)
    rank = data[f"rank_{head}"][band_rows].astype(np.float64)
    return {
        "centroid_acc": (correct - 1.0 / k) / (1.0 - 1.0 / k),
        "centroid_rank": (chance_rank - rank) / max(chance_rank - 1.0, 1e-12),
    }


def _bands_without_samples(data: dict, band_rows: list[int]) -> list[str]:
    """Band rows of a :func:`load_run` result with no frequency sample beyond DC."""
    nf = np.asarray(data["n_freqs"])[band_rows]
    radius = np.asarray(data["mean_radius"], dtype=np.float64)[band_rows]
    return [data["rows"][i] for i, n, r in zip(band_rows, nf, radius) if n == 0 or not r > 0]


def shift_tables(
    runs: dict[tuple[str, str], dict],
    sigma: dict[str, float],
    *,
    reference: str,
    antialiased: dict[str, bool] | None = None,
    iterations: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    group_of: Mapping[str, str] | None = None,
    references: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare models (training σ) per layer and head, paired over the same images.

    Args:
        runs: ``{(model, layer): load_run(...)}``; every run of one layer must
            hold the same image ids in the same order (checked).
        sigma: training σ per model; ``antialiased``: models left out of the
            σ trend (e.g. ``blurpool``).
        reference: model whose replicate group the differences are taken against (e.g. ``sigma0``).
        group_of: ``{model: group}`` of the training replicates; a model without an
            entry is its own group. references: ``{trained group: filter-only
            reference model}``; those rows compare the group with its reference, and
            reference models stay out of the σ trend.

    Returns:
        ``shift``: one row per group × reference × layer × head × statistic
        (``accuracy`` / ``gt_rank`` per band, ``centroid_acc``, ``centroid_rank``):
        ``value ci_low ci_high reference_value diff diff_ci_low diff_ci_high`` from
        :func:`blurscope.stats.paired_difference` (diff = group − reference, the same
        resampled images in every model, replicate models resampled too; a group
        against itself gives diff 0 exactly), ``n_replicates``, ``n_replicates_reference``.
        ``trend``: per layer × head × centroid: the run-level σ contrast
        (:func:`blurscope.stats.sigma_table`) of each σ run's centroid (of its mean band
        scores); always one row per layer × head × centroid, ``note`` saying when the
        design cannot test it (one run per σ level, a single σ).

    A centroid is NaN when no band is above chance (and ρ when a centroid is
    NaN or all centroids are equal); CIs use the bootstrap resamples where the
    statistic is defined, whose fraction is reported as ``boot_defined``.
    A centroid (and its trend) is also NaN, with the reason in ``note``, when a
    band of that run holds no frequency sample beyond DC (empty, or the spatial
    mean alone: ``n_freqs == 0`` or ``mean_radius == 0``): a centroid over the
    bands that exist would be read as one over all bands.
    """
    antialiased = antialiased or {}
    references = dict(references or {})
    layers = list(dict.fromkeys(layer for _, layer in runs))
    notes: dict[tuple[str, str], str] = {}
    shift_rows, trend_rows = [], []
    for layer in layers:
        models = [m for (m, run_layer) in runs if run_layer == layer]
        if reference not in models:
            raise ValueError(
                f"bands.reference_model {reference!r} has no result for layer {layer!r} (models: {models})"
            )
        ref_ids = runs[(reference, layer)]["ids"]
        for m in models:
            if not np.array_equal(runs[(m, layer)]["ids"], ref_ids):
                raise ValueError(f"model {m!r} layer {layer!r} was evaluated on other images than {reference!r}")
        groups = stats.replicate_groups(models, group_of)
        ref_group = next(g for g, ms in groups.items() if reference in ms)
        comparisons = list(dict.fromkeys([(g, ref_group) for g in groups]
                                         + [(g, r) for g, r in references.items() if g in groups]))
        ref_models = {m for g, r in references.items() if r != g and r in groups for m in groups[r]}
        heads = [h for h in runs[(reference, layer)]["heads"] if all(h in runs[(m, layer)]["heads"] for m in models)]
        for head in heads:
            data: dict[str, dict[str, tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]]] = {}
            for m in models:
                d = runs[(m, layer)]
                band_idx = [i for i, r in enumerate(d["rows"]) if r not in CONTROL_ROWS]
                per: dict[str, tuple[Callable[[np.ndarray], np.ndarray], np.ndarray]] = {}
                for metric, arr in (("accuracy", d[f"correct_{head}"]), ("gt_rank", d[f"rank_{head}"])):
                    vals = arr.astype(np.float64)
                    for i, row in enumerate(d["rows"]):
                        per[f"{metric}:{row}"] = (_identity, vals[i])
                radius = d["mean_radius"][band_idx]
                missing = _bands_without_samples(d, band_idx)
                if missing:
                    notes[(m, layer)] = (
                        f"no centroid: band(s) {missing} hold no frequency sample beyond DC at "
                        f"{'x'.join(str(int(v)) for v in d.get('map_hw', ()))} px"
                    )
                for name, score in _scores(d, head, band_idx).items():
                    per[name] = (_undefined if missing else _centroid_of(radius), score.T)  # score.T: [N, n_bands]
                data[m] = per
            for g, ref in comparisons:
                for stat in data[groups[g][0]]:
                    fn = data[groups[g][0]][stat][0]
                    res = stats.paired_difference(
                        fn, [data[m][stat][1] for m in groups[g]], [data[m][stat][1] for m in groups[ref]],
                        iterations, seed, ci=ci)
                    metric, _, band = stat.partition(":")
                    note = next((notes[(m, layer)] for m in groups[g] if (m, layer) in notes), "")
                    shift_rows.append({
                        "model": g,
                        "sigma": float(sigma.get(groups[g][0], np.nan)),
                        "antialiased": bool(antialiased.get(groups[g][0], False)),
                        "layer": layer,
                        "head": head,
                        "statistic": metric,
                        "band": band or "all",
                        "value": float(res["value"]),
                        "ci_low": float(res["ci_low"]),
                        "ci_high": float(res["ci_high"]),
                        "reference": ref,
                        "reference_value": float(res["reference_value"]),
                        "diff": float(res["diff"]),
                        "diff_ci_low": float(res["diff_ci_low"]),
                        "diff_ci_high": float(res["diff_ci_high"]),
                        "boot_defined": float(res["boot_defined"]),
                        "n_images": int(res["n"]),
                        "n_replicates": int(res["n_replicates"]),
                        "n_replicates_reference": int(res["n_replicates_reference"]),
                        "note": note if band == "" else "",
                    })
            # the σ contrast over training runs: each run's centroid of its mean band scores (docs/statistics.md)
            trend_models = sorted((m for m in models if not antialiased.get(m, False) and m not in ref_models),
                                  key=lambda m: sigma.get(m, np.nan))
            trend_groups = stats.replicate_groups(trend_models, group_of)
            for name in ("centroid_acc", "centroid_rank"):
                vals = pd.DataFrame({"model": trend_models, "key": name, "value": [
                    float(np.asarray(data[m][name][0](data[m][name][1].mean(axis=0)))) for m in trend_models]})
                tab = stats.sigma_table(vals, ["key"], list(trend_groups),
                                        {g: sigma[ms[0]] for g, ms in trend_groups.items()},
                                        {m: g for g, ms in trend_groups.items() for m in ms}, ci=ci)
                row = tab.iloc[0].to_dict()
                why = next((notes[(m, layer)] for m in trend_models if (m, layer) in notes), "")
                trend_rows.append({"layer": layer, "head": head, "statistic": name,
                                   **{k: row[k] for k in stats.runs.TREND_COLUMNS},
                                   "sigmas": ",".join(f"{sigma[m]:g}" for m in trend_models),
                                   "note": "; ".join(x for x in (row["note"], why) if x)})
    return pd.DataFrame(shift_rows), pd.DataFrame(trend_rows, columns=TREND_COLUMNS)


TREND_COLUMNS = ["layer", "head", "statistic", *stats.runs.TREND_COLUMNS, "sigmas"]
"""Columns of the ``trend`` table of :func:`shift_tables`."""


def _identity(mean: np.ndarray) -> np.ndarray:
    return mean


def _undefined(mean: np.ndarray) -> np.ndarray:
    """No centroid (a band without samples): NaN per resample."""
    return np.full(mean.shape[:-1], np.nan)


def _centroid_of(radius: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Statistic: :func:`band_centroid` of mean scores ``[..., n_bands]``."""
    return lambda mean: band_centroid(np.moveaxis(mean, -1, 0), radius)
