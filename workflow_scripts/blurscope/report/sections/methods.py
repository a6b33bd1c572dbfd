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
            f"mode {g('training.mode')} (fine-tune from: {g('training.finetune_from')}), "
            f"{g('training.epochs')} baseline epochs, {g('training.finetune_epochs')} fine-tune epochs, "
            f"lr {g('training.lr')} / {g('training.finetune_lr')}, batch {g('training.batch_size')}, "
            f"seed {g('training.seed')}, training seeds {g('training.seeds')}.",
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
            f"HF cutoff {g('spectra.hf_cutoff')} cycles/pixel; JPEG quality "
            f"{g('spectra.jpeg_quality')}; Sobel threshold {g('spectra.edge_threshold')}; "
            f"wavelet {g('spectra.wavelet')}, {g('spectra.wavelet_levels')} levels.",
        ),
        (
            "Statistics",
            f"neuron-level bootstrap, {g('stats.bootstrap_iterations')} iterations, CI {g('stats.ci')}; "
            f"{g('stats.n_permutations')} permutations; seed {g('stats.seed')}.",
        ),
        (
            "Aliasing",
            f"{g('aliasing.bootstrap_iterations')} bootstrap iterations, {g('aliasing.permutations')} "
            f"permutations, seed {g('aliasing.seed')}; standard model {g('aliasing.standard_model')}.",
        ),
        (
            "Bands",
            f"bands {g('bands.names')} with edges {g('bands.edges')} (normalised radius); "
            f"{g('bands.bootstrap')} bootstrap iterations, seed {g('bands.seed')}.",
        ),
        (
            "Frequency",
            f"{g('frequency.n_pairs')} hybrid pairs, {g('frequency.n_f_mix')} f_mix steps; PGD "
            f"{g('frequency.pgd_norm')} ε {g('frequency.pgd_eps')}, {g('frequency.pgd_steps')} steps on "
            f"{g('frequency.pgd_n_images')} images; corruptions {g('frequency.corruptions')} at severities "
            f"{g('frequency.severities')}; {g('frequency.bootstrap')} bootstrap iterations, seed {g('frequency.seed')}.",
        ),
    ]
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
