"""The analyses of a model as deployed (its training blur layer included), one loaded model for all.

Rule ``deployed`` runs, per model id (filter-only references included: the σ 0 network behind the
blur of σ, :func:`blurscope.models.network.load_model_id`), two parts on one loaded model:

1. :func:`aliasing_part` — AVR at every stride point and SIS / consistency
   (:func:`blurscope.aliasing.measure.analyse_images`; docs/aliasing.md);
2. :func:`frequency_part` — the hybrid-image sweep (:func:`hybrid_sweep`), the half-power frequency
   of PGD perturbations (:func:`pgd_spectrum`), the shape bias on a cue-conflict split
   (:func:`shape_bias`) and the accuracy on the shared corrupted sets with its corruption errors
   (:func:`corruption_accuracy`); docs/frequency.md.

Every function takes the model, its id and the config subset of its stage, and returns tables;
the rule script reads the inputs and writes the outputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from blurscope.aliasing import measure as aliasing
from blurscope.aliasing.stride_points import discover_stride_points, match_points
from blurscope.data import files as data
from blurscope.data import imagenet16
from blurscope.frequency import corruptions
from blurscope.frequency import preference as frequency
from blurscope.models.network import model_from_meta

from .runlog import Progress

log = logging.getLogger("blurscope.deployed")


# --------------------------------------------------------------------------- part 1: AVR / SIS


def aliasing_part(model: nn.Module, meta: Mapping[str, Any], model_id: str, arrays: Mapping[str, np.ndarray],
                  cfg: Mapping[str, Any], device: torch.device, source: str = "analysis images",
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per-image AVR at every stride point and SIS / consistency of one model.

    Args:
        model: the model as deployed (:func:`blurscope.models.network.load_model_id`), on ``device``.
        meta: its meta (``arch``, ``sigma``, ``antialiased``; a reference's ``sigma`` is its blur's).
        arrays: the analysis images: ``images`` uint8 ``[N, H, W, 3]`` (square), optional ``labels``,
            ``ids`` ``[N]``.
        cfg: config ``aliasing`` (``n_images`` (0 = all), ``batch_size``, ``forward_chunks`` (0 = 1 on
            CUDA, 5 elsewhere), ``remove_mean``).
        source: the images' file, named in errors.

    Returns:
        ``(table, info)``: one row per image × stride point (:func:`blurscope.aliasing.measure.analyse_images`,
        ``model`` first), and the run info (stride points, standard ↔ BlurPool matching for an
        antialiased model, timing in wall-clock seconds and images/s).
    """
    n_avail = len(arrays["images"])
    n = int(cfg["n_images"]) or n_avail
    if n > n_avail:
        raise ValueError(f"aliasing.n_images = {n} but {source} holds only {n_avail} images "
                         "(raise analysis.n_images or lower aliasing.n_images; 0 = all)")
    images = arrays["images"][:n]  # uint8 [N, H, W, 3]; converted to float one batch at a time
    labels = arrays["labels"][:n] if "labels" in arrays else None
    ids = arrays["ids"][:n] if "ids" in arrays else None
    chunks = int(cfg["forward_chunks"]) or (1 if device.type == "cuda" else 5)
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(f"{source}: expected square RGB images [N, H, W, 3], got {images.shape}")
    size = images.shape[1]
    points = discover_stride_points(model, size)
    if not points:
        raise ValueError(f"model {model_id} ({meta.get('arch')}) has no stride>1 conv/pool/BlurPool layer")
    info: dict[str, Any] = {
        "model": model_id, "arch": meta.get("arch"), "sigma": meta.get("sigma"), "forward_chunks": chunks,
        "antialiased": bool(meta.get("antialiased", False)), "n_images": n, "image_size": size,
        "device": str(device), "points": [p.__dict__ for p in points], "avr_remove_mean": bool(cfg["remove_mean"]),
        "reference_blur_sigma": meta.get("sigma") if "reference_of" in meta else None,
    }
    names = {p.name: p.name for p in points}
    if info["antialiased"]:
        twin = model_from_meta({**meta, "antialiased": False}).eval()  # untrained: only its graph is used
        table = match_points(discover_stride_points(twin, size), points)
        names = dict(zip(table["blurpool"], table["point"]))
        info["matching"] = table.to_dict(orient="records")
        log.info("standard ↔ BlurPool matching:\n%s",
                 table[["standard", "blurpool", "blurpool_op", "rule"]].to_string())
    log.info("model %s: %d stride points: %s", model_id, len(points), ", ".join(f"{p.name}({p.op})" for p in points))

    progress = Progress(log, n, "images")
    df, timing = aliasing.analyse_images(model, images, points, int(cfg["batch_size"]), labels=labels, image_ids=ids,
                                         point_names=names, device=device, progress=progress.update, chunks=chunks,
                                         remove_mean=bool(cfg["remove_mean"]))
    df.insert(0, "model", model_id)
    info["timing"] = timing  # wall clock of this job; like-for-like ratios: rule aliasing_timing
    log.info("%s: mean SIS %.4g, consistency %.3f, %.1f images/s (AVR + SIS)", model_id,
             df.drop_duplicates("image")["sis"].mean(), df.drop_duplicates("image")["consistency"].mean(),
             timing["images_per_s"])
    return df, info


# --------------------------------------------------------------------------- part 2: frequency preference


def _ci(samples: np.ndarray, level: float, axis: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap ``samples`` along ``axis``."""
    return np.quantile(samples, [(1 - level) / 2, 1 - (1 - level) / 2], axis=axis)


def hybrid_sweep(model: nn.Module, model_id: str, sigma: float, images: torch.Tensor, labels: np.ndarray,
                 cfg: Mapping[str, Any], device: torch.device) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """The hybrid-image sweep: p_low / p_high per f_mix (bootstrap CIs over pairs) and f_rev.

    Args:
        images: float ``[N, 3, H, W]`` in [0, 1]; labels ``[N]``.
        cfg: config ``frequency`` (``n_f_mix``, ``n_pairs``, ``seed``, ``bootstrap``, ``ci``, ``batch_size``).

    Returns:
        ``(curves, reversal, units)``: one row per f_mix (Nyquist units and cycles/pixel);
        :func:`blurscope.frequency.preference.reversal_summary`; the per-pair outcomes (``hits_low``, ``hits_high``
        bool ``[n_f_mix, n_pairs]``, ``f_mix``, ``pair_low``, ``pair_high``).
    """
    seed, boot, level, bs = int(cfg["seed"]), int(cfg["bootstrap"]), float(cfg["ci"]), int(cfg["batch_size"])
    f_mix = frequency.f_mix_grid(int(cfg["n_f_mix"]))
    idx_low, idx_high = frequency.make_pairs(labels, int(cfg["n_pairs"]), seed)
    prog = Progress(log, f_mix.size * idx_low.size, "hybrids")
    preds = frequency.hybrid_predictions(model, images, idx_low, idx_high, f_mix, bs, device, prog.update)
    hits_low, hits_high = frequency.preference_curves(preds, labels[idx_low], labels[idx_high])
    n_p = idx_low.size
    w = frequency.bootstrap_counts(n_p, boot, seed)
    ci_cols = {}
    for name, hits in (("p_low", hits_low), ("p_high", hits_high)):
        samples = w @ hits.T.astype(np.float64) / n_p  # [iterations, F]
        ci_cols[f"{name}_ci_low"], ci_cols[f"{name}_ci_high"] = _ci(samples, level)
    curves = pd.DataFrame({
        "model": model_id,
        "sigma": sigma,
        "f_mix": f_mix,
        "f_mix_cpp": frequency.to_cpp(f_mix),
        "p_low": hits_low.mean(1),
        "p_high": hits_high.mean(1),
        "p_other": 1.0 - hits_low.mean(1) - hits_high.mean(1),
        **ci_cols,
        "n_pairs": n_p,
    })
    rev = frequency.reversal_summary(f_mix, hits_low, hits_high, boot, seed, level)
    log.info("f_rev = %.4g cycles/pixel [%.4g, %.4g] (%s)", rev["f_rev_cpp"], rev["f_rev_ci_low_cpp"],
             rev["f_rev_ci_high_cpp"], rev["f_rev_status"])
    if rev["f_rev_status"] == frequency.STATUS_LOW_FROM_START:
        log.warning("p_low >= p_high already at the first sweep point: f_rev reported as that point (%.4g "
                    "cycles/pixel), an upper bound; use a larger frequency.n_f_mix to resolve it",
                    frequency.to_cpp(f_mix[0]))
    elif rev["f_rev_status"] == frequency.STATUS_NEVER:
        log.warning("p_low < p_high at every sweep point (even where the hybrid is the low-frequency image itself): "
                    "f_rev is NaN; check the model's clean accuracy")
    units = {"hits_low": hits_low, "hits_high": hits_high, "f_mix": f_mix, "pair_low": idx_low, "pair_high": idx_high}
    return curves, rev, units


def pgd_spectrum(model: nn.Module, model_id: str, sigma: float, images: torch.Tensor, labels: np.ndarray,
                 cfg: Mapping[str, Any], device: torch.device) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """PGD perturbations of the first ``pgd_n_images`` images and their half-power frequency f_0.5.

    Args:
        images: float ``[N, 3, H, W]`` in [0, 1]; labels ``[N]``.
        cfg: config ``frequency`` (``pgd_*``, ``seed``, ``bootstrap``, ``ci``, ``batch_size``).

    Returns:
        ``(spectrum, summary, units)``: the mean radial power fraction and its cumulative sum per
        radius (cycles/pixel); f_0.5 with its CI (:func:`blurscope.frequency.preference.half_power_summary`) and
        the PGD settings, success rate and perturbation RMS; ``pgd_power`` ``[n_images, n_radii]`` and
        ``pgd_radii``.
    """
    seed, boot, level, bs = int(cfg["seed"]), int(cfg["bootstrap"]), float(cfg["ci"]), int(cfg["batch_size"])
    n_pgd = min(int(cfg["pgd_n_images"]), len(labels))
    deltas, fooled = [], []
    prog = Progress(log, n_pgd, "PGD images")
    for start in range(0, n_pgd, bs):
        stop = min(start + bs, n_pgd)
        d, f = frequency.pgd_perturbations(
            model, images[start:stop].to(device), torch.as_tensor(labels[start:stop]), float(cfg["pgd_eps"]),
            int(cfg["pgd_steps"]), float(cfg["pgd_step_size"]), cfg["pgd_norm"], bool(cfg["pgd_random_start"]),
            seed + start,
        )
        deltas.append(d.cpu())
        fooled.append(f.cpu())
        prog.update(stop - start)
    delta = torch.cat(deltas)
    radii, power = frequency.radial_power_profile(delta)
    half = frequency.half_power_summary(radii, power, boot, seed, level)
    if half["n_pgd_images"] == 0:
        log.warning("%s: every PGD perturbation is zero (the input gradient vanished on all %d images): f_0.5 is "
                    "undefined for this model (NaN)", model_id, n_pgd)
    success = torch.cat(fooled).float().mean()
    log.info("f_0.5 = %.4g cycles/pixel [%.4g, %.4g]; PGD success %.3f", half["f_half_cpp"],
             half["f_half_ci_low_cpp"], half["f_half_ci_high_cpp"], success.item())
    ok = np.isfinite(power).all(1)
    mean_power = power[ok].mean(0)
    spectrum = pd.DataFrame({
        "model": model_id,
        "sigma": sigma,
        "f_cpp": radii,
        "power_fraction": mean_power,
        "cumulative": np.cumsum(mean_power),
    })
    summary = {
        **half,
        "pgd_norm": cfg["pgd_norm"],
        "pgd_eps": float(cfg["pgd_eps"]),
        "pgd_steps": int(cfg["pgd_steps"]),
        "pgd_success_rate": float(success),
        "pgd_perturbation_rms": float(delta.pow(2).mean().sqrt()),
    }
    return spectrum, summary, {"pgd_power": power, "pgd_radii": radii}


def shape_bias(model: nn.Module, model_id: str, sigma: float, cue_conflict: Mapping[str, Any],
               cfg: Mapping[str, Any], device: torch.device, source: str = "cue-conflict images",
               ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The shape bias on a cue-conflict split (Geirhos et al.), with its bootstrap CI over images.

    Args:
        cue_conflict: ``images`` uint8 ``[N, H, W, 3]``, ``shape_labels``, ``texture_labels`` ``[N]`` and
            optionally ``label_space`` (``imagenet16``: an ImageNet model's 1000 classes aggregated to
            the 16 categories of the stimuli).
        cfg: config ``frequency`` (``seed``, ``bootstrap``, ``ci``, ``batch_size``).
        source: the split's file, named in errors.

    Returns:
        ``(table, units)``: one row (``model sigma`` + :func:`blurscope.frequency.preference.shape_bias_summary`),
        and ``shape_pred``, ``shape_labels``, ``texture_labels``.
    """
    missing = [k for k in ("shape_labels", "texture_labels") if k not in cue_conflict]
    if missing:
        raise ValueError(f"{source}: missing array(s) {missing}; expected images, shape_labels, texture_labels")
    shape_labels = np.asarray(cue_conflict["shape_labels"], dtype=np.int64)
    texture_labels = np.asarray(cue_conflict["texture_labels"], dtype=np.int64)
    if not (len(shape_labels) == len(texture_labels) == len(cue_conflict["images"])):
        raise ValueError(f"{source}: images, shape_labels and texture_labels differ in length")
    imagenet = str(cue_conflict.get("label_space", "dataset")) == "imagenet16"
    predict = imagenet16.predict if imagenet else frequency.predict
    pred = predict(model, data.to_float(cue_conflict["images"]), int(cfg["batch_size"]), device)
    res = frequency.shape_bias_summary(pred, shape_labels, texture_labels, int(cfg["bootstrap"]), int(cfg["seed"]),
                                       float(cfg["ci"]))
    log.info("shape bias %.3f [%.3f, %.3f] (shape acc %.3f, texture acc %.3f, n=%d)", res["shape_bias"],
             res["shape_bias_ci_low"], res["shape_bias_ci_high"], res["shape_acc"], res["texture_acc"],
             res["n_conflict"])
    table = pd.DataFrame([{"model": model_id, "sigma": sigma, **res}])
    return table, {"shape_pred": np.asarray(pred), "shape_labels": shape_labels, "texture_labels": texture_labels}


def corruption_ids(arrays: Mapping[str, np.ndarray], sets: Mapping[str, Mapping[str, np.ndarray]],
                   source: str = "analysis images") -> np.ndarray:
    """The manifest ids of the images of the corrupted ``sets`` (``{corruption: set}``), checked: every set
    holds the same images, the first ``n`` of the analysis images ``arrays`` (``source``, named in errors).
    """
    names = list(sets)
    ids = sets[names[0]]["ids"]
    for name, z in sets.items():
        if not np.array_equal(z["ids"], ids):
            raise ValueError(f"corrupted set {name!r} holds other images than {names[0]!r}: "
                             "rerun rule corrupted_images")
    if not np.array_equal(arrays["ids"][: len(ids)], ids):
        raise ValueError(f"{source}: the corrupted sets were made from other analysis images: "
                         f"rerun rule corrupted_images")
    return np.asarray(ids)


@dataclass(frozen=True)
class CorruptionResult:
    """Accuracy of one model on the shared corrupted sets (:func:`corruption_accuracy`)."""

    table: pd.DataFrame
    """``model sigma corruption severity accuracy ci_low ci_high n_images``: clean, every corruption ×
    severity, and ``mean`` over the corrupted conditions."""
    ce: pd.DataFrame
    """Corruption errors CE per type and mCE (:func:`blurscope.frequency.corruptions.corruption_errors`)."""
    conditions: pd.DataFrame
    """``corruption severity`` of each row of ``hits``."""
    hits: np.ndarray
    """bool ``[n_conditions, n_images]``: per-image outcomes (the mCE reference of the other models)."""
    ids: np.ndarray
    """Manifest ids of the images."""


def corruption_accuracy(model: nn.Module, model_id: str, sigma: float, arrays: Mapping[str, np.ndarray],
                        sets: Mapping[str, Mapping[str, np.ndarray]], cfg: Mapping[str, Any], device: torch.device,
                        reference_hits: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
                        sources: Mapping[str, str] | None = None) -> CorruptionResult:
    """Accuracy on the shared corrupted sets (forwards only) and the corruption errors against the reference.

    Args:
        arrays: the analysis images (``images`` uint8 ``[N, H, W, 3]``, ``labels``, ``ids``); the sets
            were made from the first ``n`` of them.
        sets: ``{corruption: set}`` in the order of config ``frequency.corruptions``
            (:func:`blurscope.frequency.corruptions.load_corruption_set`).
        cfg: config ``frequency`` (``corruptions``, ``severities``, ``corruption_n_images``,
            ``mce_reference`` (a model id or ``published``), ``mce_reference_errors``, ``seed``,
            ``bootstrap``, ``ci``, ``batch_size``).
        reference_hits: the mCE reference model's per-image outcomes
            (:func:`blurscope.frequency.corruptions.load_hits`); None when the reference is this model or the
            published errors.
        sources: ``images`` / ``mce_reference`` files, named in errors.

    Raises:
        ValueError: the sets hold other images than each other or than the analysis images, or the
            reference was evaluated on other conditions or images.
    """
    src = {"images": "analysis images", "mce_reference": "mCE reference outcomes", **(sources or {})}
    names, severities = list(cfg["corruptions"]), [int(s) for s in cfg["severities"]]
    boot, level, seed = int(cfg["bootstrap"]), float(cfg["ci"]), int(cfg["seed"])
    ids = corruption_ids(arrays, sets, src["images"])
    n = len(ids)
    clean, clean_labels = arrays["images"][:n], np.asarray(arrays["labels"][:n], dtype=np.int64)
    log.info("model %s (sigma=%g): %d images (frequency.corruption_n_images=%d) x (%d corruptions x %d severities "
             "+ clean); forwards only, the corrupted images are shared by all models", model_id, sigma, n,
             int(cfg["corruption_n_images"]), len(names), len(severities))
    prog = Progress(log, n * (1 + len(names) * len(severities)), "images")
    conds, hits = corruptions.corruption_hits(model, clean, {k: z["images"] for k, z in sets.items()}, severities,
                                              clean_labels, int(cfg["batch_size"]), device, prog.update)
    w = frequency.bootstrap_counts(n, boot, seed)
    samples = w @ hits.T.astype(np.float64) / n  # [iterations, conditions]
    lo, hi = _ci(samples, level)
    table = conds.assign(model=model_id, sigma=sigma, accuracy=hits.mean(1), ci_low=lo, ci_high=hi, n_images=n)
    # Mean over all corruption x severity conditions (one robustness number), same resamples.
    corr = conds["corruption"].to_numpy() != "clean"
    mlo, mhi = _ci(samples[:, corr].mean(1), level, axis=None)
    table = pd.concat([table, pd.DataFrame([{"corruption": "mean", "severity": 0, "model": model_id, "sigma": sigma,
                                             "accuracy": hits[corr].mean(), "ci_low": mlo, "ci_high": mhi,
                                             "n_images": n}])], ignore_index=True)
    table = table[["model", "sigma", "corruption", "severity", "accuracy", "ci_low", "ci_high", "n_images"]]
    log.info("clean accuracy %.3f, mean corruption accuracy %.3f [%.3f, %.3f]", hits[0].mean(), hits[corr].mean(),
             mlo, mhi)

    reference = cfg["mce_reference"]
    if reference == corruptions.PUBLISHED:
        ce = corruptions.corruption_errors(conds, hits, published=cfg["mce_reference_errors"], weights=w, level=level)
        ref_label = "published errors (frequency.mce_reference_errors)"
    else:
        if reference == model_id:
            ref_hits = hits
        else:
            if reference_hits is None:
                raise ValueError(f"the outcomes of the mCE reference {reference!r} are needed for {model_id!r}")
            ref_conds, ref_hits, ref_ids = reference_hits
            same = ref_conds.astype(str).values.tolist() == conds.astype(str).values.tolist()
            if not (same and np.array_equal(ref_ids, ids)):
                raise ValueError(
                    f"{src['mce_reference']}: the reference {reference!r} was evaluated on other conditions "
                    f"or images than {model_id!r}: rerun its rule deployed"
                )
        ce = corruptions.corruption_errors(conds, hits, reference_hits=ref_hits, weights=w, level=level)
        ref_label = reference
    ce.insert(0, "sigma", sigma)
    ce.insert(0, "model", model_id)
    ce = ce.assign(reference=ref_label, n_images=n)
    m = ce[ce["corruption"] == "mCE"].iloc[0]
    log.info("mCE %.3f [%.3f, %.3f], relative mCE %.3f [%.3f, %.3f] over %d ImageNet-C types, reference %s",
             m["ce"], m["ce_ci_low"], m["ce_ci_high"], m["relative_ce"], m["relative_ce_ci_low"],
             m["relative_ce_ci_high"], m["n_types"], ref_label)
    return CorruptionResult(table, ce, conds, hits, ids)


@dataclass(frozen=True)
class FrequencyResult:
    """The outputs of :func:`frequency_part` (docs/frequency.md names their columns)."""

    curves: pd.DataFrame
    """Hybrid sweep, one row per f_mix (:func:`hybrid_sweep`)."""
    spectrum: pd.DataFrame
    """PGD perturbation power per radius (:func:`pgd_spectrum`)."""
    preference: pd.DataFrame
    """One row: f_rev, f_0.5 and the PGD settings."""
    units: dict[str, np.ndarray]
    """Per-pair / per-image outcomes for the paired bootstraps of a trained model against its reference."""
    shape_bias: pd.DataFrame | None
    """:func:`shape_bias` (None without a cue-conflict split)."""
    corruption: CorruptionResult
    """:func:`corruption_accuracy`."""


def frequency_part(model: nn.Module, meta: Mapping[str, Any], model_id: str, arrays: Mapping[str, np.ndarray],
                   sets: Mapping[str, Mapping[str, np.ndarray]], cfg: Mapping[str, Any], device: torch.device,
                   cue_conflict: Mapping[str, Any] | None = None,
                   reference_hits: tuple[pd.DataFrame, np.ndarray, np.ndarray] | None = None,
                   sources: Mapping[str, str] | None = None) -> FrequencyResult:
    """Hybrid sweep (f_rev), PGD (f_0.5), shape bias and corruption accuracy of one model as deployed.

    Args:
        model: the model as deployed, on ``device``; ``meta`` its meta (``sigma``, ``arch``, ``num_classes``).
        arrays: the analysis images (``images`` uint8 ``[N, H, W, 3]``, ``labels``, ``ids``).
        sets, reference_hits: see :func:`corruption_accuracy`; ``cue_conflict``: see :func:`shape_bias`
            (None: no shape bias).
        cfg: config ``frequency`` (the per-model keys).
        sources: ``images`` / ``cue_conflict`` / ``mce_reference`` files, named in errors.
    """
    src = {"images": "analysis images", "cue_conflict": "cue-conflict images", **(sources or {})}
    if "labels" not in arrays:
        raise ValueError(f"{src['images']}: expected a 'labels' array")
    corruption_ids(arrays, sets, src["images"])  # the shared corrupted sets, checked before any work
    sigma = float(meta["sigma"])
    images = data.to_float(arrays["images"])
    labels = np.asarray(arrays["labels"], dtype=np.int64)
    num_classes = int(meta["num_classes"])
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"{src['images']}: labels outside [0, {num_classes}) of model {model_id}")
    log.info("model %s (sigma=%g, %s), %d images %s, device %s", model_id, sigma, meta["arch"], len(labels),
             tuple(images.shape[1:]), device)
    curves, rev, units = hybrid_sweep(model, model_id, sigma, images, labels, cfg, device)
    spectrum, pgd, pgd_units = pgd_spectrum(model, model_id, sigma, images, labels, cfg, device)
    units.update(pgd_units)
    preference = pd.DataFrame([{
        "model": model_id,
        "sigma": sigma,
        **rev,
        "f_rev_normalised": rev["f_rev_cpp"] * 2,
        **pgd,
        "n_f_mix": int(units["f_mix"].size),
    }])
    table = None
    if cue_conflict is not None:
        table, sb_units = shape_bias(model, model_id, sigma, cue_conflict, cfg, device, src["cue_conflict"])
        units.update(sb_units)
    corruption = corruption_accuracy(model, model_id, sigma, arrays, sets, cfg, device, reference_hits, src)
    return FrequencyResult(curves, spectrum, preference, units, table, corruption)

