"""Section "Feature visualisations": grids of the neurons' preferred patches across blur levels.

Inputs, per analysed layer: ``all_neurons_grid/<layer>``,
``representative_neurons_grid/<layer>``, ``patch_methods/<layer>`` (figures)
and ``representative/<layer>`` (``results/patches/representative_<layer>.tsv``).
"""

from __future__ import annotations

from ..claims import fmt_num, layer_label, model_label
from ..document import Bullets, Heading, Section
from ..sources import Sources
from .common import Context, layer_figure, not_run


def analysis_blur_sentence(analysis: dict, training: dict | None = None) -> str:
    """Which input the preference analyses gave each model (``analysis.own_blur``), and what that measures."""
    finetuned = str((training or {}).get("mode", "scratch")) == "finetune"
    if analysis.get("own_blur", False):
        return (
            "Each model saw the clear analysis images through its own training blur layer (`analysis.own_blur: true`): "
            "the low-pass filter alone then makes preferred patches smoother, even for an untrained network, so every "
            "difference across σ mixes the filter with what training changed; the filter-only references "
            "(`ref-sigma<σ>`, the σ = 0 network behind the same blur) measure the filter's share."
        )
    return (
        "The clear analysis images reached each trained network without its training blur (`analysis.own_blur: "
        "false`, the VITAL study's protocol), so every difference across σ is what training changed"
        + (
            "; the σ > 0 models were fine-tuned from a trained model (`training.mode: finetune`), so their weights "
            "stay close to it and such differences are expected to be small."
            if finetuned
            else " (every σ model trained from scratch on its blurred images)."
        )
    )


def section(src: Sources, ctx: Context) -> Section:
    """Per layer: the all-neurons grid, the representative neurons (listed with their HF drop), patch methods."""
    sec = Section("features", "Feature visualisations")
    layers = [layer for layer in ctx.layers if src.has(f"all_neurons_grid/{layer}")]
    if not layers:
        return not_run(sec, "features", "all_neurons_grid/<layer>")
    tk, pt = ctx.config.get("topk", {}), ctx.config.get("patches", {})
    sec.para(
        f"For every model and analysed layer, {fmt_num(tk.get('neurons_per_layer'))} neurons (channels, evenly spread, "
        f"the same channel ids in every model; independently trained networks share no neuron identity, so a "
        f"column compares channels, not the same neuron) were followed: their top {fmt_num(tk.get('k'))} analysis "
        "images by spatial-max "
        f"activation and, from those, the best {fmt_num(tk.get('n_show'))} patches "
        f"(method `{pt.get('method', 'n/a')}`). Grids: rows are models (σ ascending, then BlurPool), columns are "
        "neurons; "
        "each cell is a neuron's mosaic of its best patches, each patch contrast-stretched for display only "
        "(every number in this report is computed on the raw patches). "
        + analysis_blur_sentence(ctx.config.get("analysis", {}), ctx.config.get("training", {}))
    )
    n_rep = int(ctx.n_representative)
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        sec.add(layer_figure(src, "all_neurons_grid", "Neuron features across blur levels", layer))
        rep_name = f"representative/{layer}"
        if src.has(rep_name):
            rep = src.table(rep_name, ["neuron", "hf_first", "hf_last", "hf_drop", "first_model", "last_model"])
            rep = rep.sort_values("hf_drop", ascending=False).head(n_rep)
            items = [
                f"neuron {r.neuron}: HF power fraction {fmt_num(r.hf_first)} ({model_label(r.first_model)}) → "
                f"{fmt_num(r.hf_last)} ({model_label(r.last_model)})"
                for r in rep.itertuples()
            ]
            sec.para(
                f"Representative neurons of {layer_label(layer)}: the neurons whose patches lose the most HF power "
                f"from the smallest to the largest training σ (selected for that drop, so these per-neuron "
                f"values illustrate, they do not estimate; the population estimates with CIs are in the "
                f"next sections):"
            )
            sec.add(Bullets(items))
        sec.add(layer_figure(src, "representative_neurons_grid", "Representative neurons", layer))
        sec.add(layer_figure(src, "patch_methods", "Patch methods compared", layer))
    return sec
