"""Section "Methods summary": the settings of this run, rendered from the resolved config.

Input: the resolved configuration (``results/pipeline_info/config.yaml``,
``Context.config``); no table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..claims import fmt_num
from ..document import Section, Table
from ..sources import Sources
from .common import Context


def _get(cfg: dict, dotted: str, default: Any = "n/a") -> Any:
    """``cfg["a"]["b"]`` for ``dotted = "a.b"``; ``default`` when a key is missing."""
    cur: Any = cfg
    for k in dotted.split("."):
        if not isinstance(cur, dict) or k not in cur:
            return default
        cur = cur[k]
    return cur


def _fmt_value(v: Any) -> str:
    """A config value for text: lists and mappings comma-separated, None as "–"."""
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt_value(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt_value(x)}" for k, x in v.items())
    if v is None:
        return "–"
    return str(v)


def _counts_used(src: Sources) -> str:
    """How many images / neurons the analyses really used (a count larger than the data is clamped)."""
    out = []
    for name, column, what in (("aliasing_summary", "n_images", "AVR/SIS images"),
                               ("frequency_summary", "n_pgd_images", "PGD images"),
                               ("frequency_summary", "corruption_n_images", "corruption images"),
                               ("patch_trends", "n_neurons", "neurons per model (fewest)")):
        if src.has(name):
            df = src.table(name)
            if column in df.columns and df[column].notna().any():
                out.append(f"{what} {fmt_num(df[column].min(), 6)}")
    return "; ".join(out) + "." if out else ""


def section(src: Sources, ctx: Context) -> Section:
    """Methods summary rendered from the resolved config (``results/pipeline_info/config.yaml``)."""
    config, alpha = ctx.config, ctx.alpha
    sec = Section("methods", "Methods summary")
    g = lambda k: _fmt_value(_get(config, k))  # noqa: E731
    ds = _get(config, "dataset", {})
    if ds.get("kind") == "embedded":
        e = ds.get("embedded", {})
        data = (
            f"embedded procedural dataset, {g('dataset.embedded.n_classes')} classes, "
            f"{g('dataset.embedded.n_train')}/{g('dataset.embedded.n_val')}/{g('dataset.embedded.n_test')} "
            f"train/val/test images, {g('dataset.embedded.n_cue_conflict')} cue-conflict images, "
            f"generator seed {e.get('seed', 'n/a')}"
        )
        if e.get("texture_coverage") is not None:
            data += f", class texture on {100 * float(e['texture_coverage']):.0f} % of each object's surface"
    else:
        data = f"ImageFolder at `{g('dataset.root')}`"
    sec.para(
        "All values below are read from the resolved configuration of this run "
        "(`results/pipeline_info/config.yaml`)."
    )
    items = [
        ("Data", f"{data}; image size {g('dataset.image_size')} px."),
        (
            "Model",
            f"{g('model.arch')}"
            + (f", widths {g('model.widths')}" if _get(config, "model.widths", None) else "")
            + (f", starting checkpoint `{g('model.weights')}`" if _get(config, "model.weights", None) else "")
            + ".",
        ),
        (
            "Training blur",
            f"σ ∈ {{{g('sigmas')}}} px at 224 px, scaled to the image size (σ_px = σ · "
            f"{g('dataset.image_size')}/224); plus a BlurPool model trained at σ = 0.",
        ),
        (
            "Training",
            (
                f"every model from scratch on images blurred at its σ (a fixed blur layer in front), "
                f"{g('training.epochs')} epochs"
                if _get(config, "training.mode", "scratch") == "scratch"
                else f"σ > 0 fine-tuned from {g('training.finetune_from')} for {g('training.finetune_epochs')} "
                f"epochs (lr {g('training.finetune_lr')} per 256 images); baseline {g('training.epochs')} epochs"
            )
            + f"; SGD (Nesterov, momentum {g('training.momentum')}), one-cycle lr {g('training.lr')} per 256 "
            f"images (× batch / 256), batch {g('training.batch_size')}, weight decay {g('training.weight_decay')}, "
            f"{g('training.precision')}, "
            f"{g('training.threads')} thread(s) (fixed: the weights do not depend on the cores granted); seed "
            f"{g('training.seed')}; {g('training.seeds')} training run(s) of σ ∈ {{{g('training.seed_sigmas')}}}.",
        ),
        (
            "Input condition",
            (
                "preference analyses (top-k, patches, spectra, complexity, bands, feature visualisation): clear images "
                "to the network alone (`analysis.own_blur: false`)"
                if not _get(config, "analysis.own_blur", False)
                else "preference analyses through each model's blur layer (`analysis.own_blur: true`), with "
                "filter-only references"
            )
            + "; deployed-model analyses (AVR/SIS, hybrids, PGD, shape bias, corruptions): each model with its blur "
            "layer, beside filter-only references `ref-sigma<σ>` (the σ = 0 network behind the same blur) at σ ∈ {"
            + (g("references.sigmas") if _get(config, "references.sigmas", None) else "smallest, middle, largest")
            + "}.",
        ),
        (
            "Analysis images",
            f"{g('analysis.n_images')} images of split `{g('analysis.split')}` (seed {g('analysis.seed')}); "
            f"layers {g('analysis.layers')}.",
        ),
        (
            "Top-k and patches",
            f"k = {g('topk.k')} images per neuron, {g('topk.n_show')} patches shown, "
            f"{g('topk.neurons_per_layer')} neurons per layer; patch method {g('patches.method')} "
            f"(window {g('patches.window_224')} px at 224).",
        ),
        (
            "Baseline patches",
            f"{g('baseline.n_patches')} random patches from {g('baseline.n_images')} images "
            f"(seed {g('baseline.seed')}).",
        ),
        (
            "Spectra and complexity",
            f"patch mean removed, {g('spectra.window')} window (power-normalised), bins centred on multiples of 1/P "
            f"and labelled with the mean radius of their samples; HF cutoff {g('spectra.hf_cutoff')} cycles/pixel. "
            f"JPEG quality {g('spectra.jpeg_quality')}, ratio = raw bytes / "
            + (
                "entropy-coded scan bytes (the fixed header and tables excluded)"
                if _get(config, "spectra.jpeg_data", "scan") == "scan"
                else "whole-file bytes"
            )
            + f"; Sobel (unnormalised 3×3 kernels on 0–255 grey: a 10-level step gives magnitude 40) threshold "
            f"{g('spectra.edge_threshold')}; wavelet {g('spectra.wavelet')}, at most {g('spectra.wavelet_levels')} "
            f"levels, capped at what the patch size supports (`pywt.dwt_max_level`; the levels used are a column "
            f"of each complexity table), boundary mode {g('spectra.wavelet_mode')}.",
        ),
        (
            "Statistics",
            "every claim about training σ is a test over training runs (each run's mean over its neurons, renders "
            "or images): σ max vs σ 0 with the between-run variance pooled over the σ levels (Student t), "
            "BlurPool and trained-vs-reference with Welch's t, a reference against its own σ 0 run with a paired "
            f"t; t intervals at {g('stats.ci')}; Holm over the primary family (HF power, edge density, entropy of "
            "preferred patches, HF power of optimised stimuli, per layer), every other row exploratory. "
            f"Descriptive intervals of one network: hierarchical / neuron-level bootstrap, "
            f"{g('stats.bootstrap_iterations')} iterations, seed {g('stats.seed')} (docs/statistics.md).",
        ),
        (
            "Aliasing",
            "AVR of each channel "
            + (
                "minus its spatial mean"
                if _get(config, "aliasing.remove_mean", True)
                else "with its DC term in the total"
            )
            + f" (`aliasing.remove_mean`), radial and separable pass regions; {g('aliasing.bootstrap_iterations')} "
            f"bootstrap iterations, {g('aliasing.permutations')} permutations, seed {g('aliasing.seed')}; standard "
            f"model {g('aliasing.standard_model')}.",
        ),
        (
            "Bands",
            f"bands {g('bands.names')} with edges {g('bands.edges')} (normalised radius) at layers "
            f"{g('bands.layers') if _get(config, 'bands.layers', None) else g('analysis.layers')} (only maps where "
            f"every band holds frequency samples beyond DC); {g('bands.bootstrap')} bootstrap iterations, seed "
            f"{g('bands.seed')}.",
        ),
        (
            "Frequency",
            f"{g('frequency.n_pairs')} hybrid pairs, {g('frequency.n_f_mix')} f_mix steps; PGD "
            f"{g('frequency.pgd_norm')} ε {g('frequency.pgd_eps')}, {g('frequency.pgd_steps')} steps on "
            f"{g('frequency.pgd_n_images')} images; corruptions {g('frequency.corruptions')} (ImageNet-C's "
            f"definitions scaled to the image size; extras as documented in docs/frequency.md) at severities "
            f"{g('frequency.severities')}, on {g('frequency.corruption_n_images')} images (0 = all) corrupted once "
            f"and shared by every model; mCE and relative mCE against {g('frequency.mce_reference')}, paired "
            f"bootstrap CIs; {g('frequency.bootstrap')} bootstrap iterations, seed {g('frequency.seed')}.",
        ),
    ]
    fv = _get(config, "featvis", {})
    if fv:
        items.append(("Feature visualisation", f"{g('featvis.steps')} Adam steps (lr {g('featvis.lr')}), objective "
                      f"{g('featvis.objective')}, size {g('featvis.size')} (0 = the training size), transforms "
                      f"{g('featvis.transforms')}, seed {g('featvis.seed')}, {g('featvis.threads')} thread(s)."))
    used = _counts_used(src)
    if used:
        items.append(("Counts actually used", used))
    sal = _get(config, "saliency", {})
    if sal:
        items.append(("Saliency", ", ".join(f"{k} {_fmt_value(v)}" for k, v in sal.items()) + "."))
    items.append(
        (
            "Reporting",
            f"significance level α = {fmt_num(alpha)}; a direction is stated only when the "
            "test (p < α) and the CI agree; otherwise the text says 'not significant'.",
        )
    )
    sec.add(
        Table(pd.DataFrame([{"part": a, "settings": b} for a, b in items]), "Methods, from the resolved configuration.")
    )
    seeds = {
        k: _get(config, k, None)
        for k in (
            "dataset.embedded.seed",
            "training.seed",
            "analysis.seed",
            "baseline.seed",
            "stats.seed",
            "aliasing.seed",
            "bands.seed",
            "frequency.seed",
        )
    }
    sec.para("Seeds: " + ", ".join(f"`{k}` = {v}" for k, v in seeds.items() if v is not None) + ".")
    return sec
