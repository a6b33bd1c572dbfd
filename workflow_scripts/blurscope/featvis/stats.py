"""The feature-visualisation file of one model and the statistics over models (rules featvis_stats, featvis_figures).

:func:`save_featvis` / :func:`load_featvis` write and read the renders of
:func:`blurscope.featvis.optimise.render_layers`; :func:`featvis_summary` is the neuron-level
bootstrap, trend over σ and effects against σ = 0 of their measures. Numpy and pandas
only: the statistics and figure jobs do not import torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from blurscope import stats
from blurscope.io import save_npz

log = logging.getLogger("blurscope.featvis.optimise")

FILE_KEYS = ("images", "neurons", "objective", "objective_init", "power", "hf_fraction", "peak_freq")
"""Per-layer arrays of a featvis file (:func:`save_featvis`)."""


def save_featvis(path: str, layers: Sequence[str], results: Sequence[dict[str, np.ndarray]], **meta: Any) -> None:
    """Write one model's renders as ``.npz`` (atomic, :func:`blurscope.io.save_npz`).

    Keys: ``layers`` (str ``[L]``); for layer ``i``: ``images_<i>`` uint8
    ``[n_i, S, S, 3]``, ``neurons_<i>`` int64 ``[n_i]``, ``objective_<i>``,
    ``objective_init_<i>``, ``hf_fraction_<i>``, ``peak_freq_<i>`` ``[n_i]``,
    ``power_<i>`` ``[n_i, n_bins]``; ``freqs`` ``[n_bins]`` (cycles/pixel); plus the
    ``meta`` values (size, steps, seed, ...) as 0-d arrays.
    """
    if len(layers) != len(results):
        raise ValueError(f"save_featvis: {len(layers)} layers but {len(results)} results")
    arrays: dict[str, np.ndarray] = {"layers": np.asarray(list(layers), dtype=str)}
    for i, res in enumerate(results):
        for key in FILE_KEYS:
            arrays[f"{key}_{i}"] = np.asarray(res[key])
        arrays["freqs"] = np.asarray(res["freqs"])
    for key, value in meta.items():
        if key in arrays or any(key == f"{k}_{i}" for k in FILE_KEYS for i in range(len(layers))):
            raise ValueError(f"save_featvis: meta key {key!r} collides with an array name")
        arrays[key] = np.asarray(value)
    save_npz(path, **arrays)


def load_featvis(path: str) -> dict[str, dict[str, np.ndarray]]:
    """Read a :func:`save_featvis` file: ``{layer: {images, neurons, ..., freqs}}`` in file order."""
    with np.load(path) as z:
        if "layers" not in z.files or "freqs" not in z.files:
            raise ValueError(f"{path}: not a featvis file (needs 'layers' and 'freqs'; has {sorted(z.files)})")
        out: dict[str, dict[str, np.ndarray]] = {}
        for i, layer in enumerate(z["layers"].tolist()):
            missing = [k for k in FILE_KEYS if f"{k}_{i}" not in z.files]
            if missing:
                raise ValueError(f"{path}: layer {layer!r} (index {i}) lacks {missing}")
            out[str(layer)] = {k: z[f"{k}_{i}"] for k in FILE_KEYS}
            out[str(layer)]["freqs"] = z["freqs"]
    return out


METRICS = ("hf_fraction", "peak_freq")
"""Per-image measures that :func:`featvis_summary` bootstraps and tests for a trend."""


def featvis_summary(
    table: pd.DataFrame,
    sigma_of: dict[str, float],
    sigma_models: Sequence[str],
    iterations: int,
    seed: int,
    ci: float = 0.95,
    metrics: Sequence[str] = METRICS,
    *,
    paired: bool,
    group_of: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Neuron-level bootstrap per model group × layer; the run-level σ contrast and comparisons.

    A render that did not raise its objective (``active`` false) is still its starting
    noise and says nothing about the neuron: its measures count as missing. A model ×
    layer without any active render is **silent**: a result (its run value is NaN, ``n_units``
    0, and the report names it), never an error; the tests over runs use the runs that have
    a value and say when too few are left.

    Args:
        table: the featvis rows of all models: ``model layer neuron active <metrics>``.
        sigma_of: σ (px at 224) of every model in ``table`` (BlurPool: 0).
        sigma_models: the σ series (group ids sorted by σ); the first is the reference
            of the comparisons.
        iterations, seed, ci: bootstrap resamples, seed, interval coverage (config ``stats``).
        paired: the models share neuron identity (``training.mode: finetune``): the summary's
            bootstrap then resamples one neuron set for every replicate.
        group_of: ``{replicate model: σ series group}`` (e.g. ``sigma6-seed1 → sigma6``).

    Returns:
        ``summary``: ``model sigma layer metric mean sem ci_low ci_high n_neurons n_active
        n_replicates`` (``model`` = group id; NaN where no render of the group is active);
        ``trends``: :func:`blurscope.stats.sigma_table` per layer × metric (``hf_fraction``
        primary); ``effects``: each σ level and BlurPool against σ 0 over runs
        (:func:`blurscope.stats.sigma_effects`, :func:`blurscope.stats.comparison_table`);
        ``runs``: one value per model × layer × metric (``model group sigma layer metric
        value n_units``; ``n_units`` = active renders).

    Raises:
        ValueError: missing columns or σ, or a model without rows for a layer.
    """
    need = {"model", "layer", "neuron", "active", *metrics}
    missing = sorted(need - set(table.columns))
    if missing:
        raise ValueError(f"featvis table lacks columns {missing} (has {list(table.columns)})")
    present = [str(m) for m in pd.unique(table["model"])]
    unknown = sorted((set(present) | set(sigma_models)) - set(sigma_of) - set((group_of or {}).values()))
    if unknown:
        raise ValueError(f"featvis summary: no sigma for models {unknown}")
    data = table.copy()
    data.loc[~data["active"].astype(bool), list(metrics)] = np.nan
    groups = stats.replicate_groups(present, group_of)
    group_of_model = {m: g for g, ms in groups.items() for m in ms}

    def sigma(group: str) -> float:
        return float(sigma_of[group] if group in sigma_of else sigma_of[groups[group][0]])

    silent = [f"{m} {layer}" for (m, layer), sub in data.groupby(["model", "layer"], sort=False)
              if sub[list(metrics)].isna().all().all()]
    if silent:
        log.warning("featvis: no render raised its objective in %s (silent: reported, left out of the tests)",
                    ", ".join(silent))
    rows = []
    for layer in pd.unique(data["layer"]):
        for group, members in groups.items():
            reps = []
            for m in members:
                sub = data[(data["model"] == m) & (data["layer"] == layer)].sort_values("neuron")
                if sub.empty:
                    raise ValueError(f"featvis summary: model {m!r} has no rows for layer {layer!r}")
                vals = sub[list(metrics)].to_numpy(dtype=np.float64)
                if np.isfinite(vals).any():
                    reps.append(vals[:, None, :])  # [n, 1 image, M]
            if reps:
                tab = stats.tidy_bootstrap(reps, list(metrics), iterations, seed, ci=ci, share_units=paired)
                tab = tab.rename(columns={"n_patches": "n_active"})
            else:  # every run of the group silent at this layer
                tab = pd.DataFrame({"metric": list(metrics), "mean": np.nan, "sem": np.nan, "ci_low": np.nan,
                                    "ci_high": np.nan, "n_neurons": 0, "n_active": 0, "n_replicates": 0})
            tab.insert(0, "layer", layer)
            tab.insert(0, "sigma", sigma(group))
            tab.insert(0, "model", group)
            rows.append(tab)
    summary = pd.concat(rows, ignore_index=True)
    means = data.melt(id_vars=["model", "layer", "neuron"], value_vars=list(metrics), var_name="metric",
                      value_name="value")
    runs = stats.run_values(means, ["layer", "metric"])
    series = [str(g) for g in sigma_models]
    sigma_of_group = {g: sigma(g) for g in groups}
    primary = {(layer, m) for layer in pd.unique(data["layer"]) for m in stats.PRIMARY_FEATVIS_METRICS}
    trends = stats.sigma_table(runs, ["layer", "metric"], series, sigma_of_group, group_of_model, primary=primary,
                               ci=ci)
    others = [g for g in groups if g not in series]
    effects = pd.concat([
        stats.sigma_effects(runs, ["layer", "metric"], series, sigma_of_group, group_of_model, ci=ci),
        stats.comparison_table(runs, ["layer", "metric"], [("blurpool", g, series[0], False) for g in others],
                               group_of_model, sigma_of_group, ci=ci),
    ], ignore_index=True)
    runs.insert(1, "group", runs["model"].map(group_of_model))
    runs.insert(2, "sigma", runs["group"].map(sigma_of_group))
    return summary, trends, effects, runs
