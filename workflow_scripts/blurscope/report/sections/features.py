"""Section "Feature visualisations": grids of the neurons' preferred patches across blur levels.

Inputs, per analysed layer: ``all_neurons_grid/<layer>``,
``representative_neurons_grid/<layer>``, ``patch_methods/<layer>`` (figures)
and ``representative/<layer>`` (``results/patches/representative_<layer>.tsv``).
"""

from __future__ import annotations

from ..claims import fmt_num, layer_label, model_label
from ..document import Bullets, Heading, Section
from ..sources import Sources
from .common import Context, not_run


def analysis_blur_sentence(analysis: dict) -> str:
    """Which input the feature analyses gave each model (``analysis.own_blur``)."""
    if analysis.get("own_blur", True):
        return (
            "Each model saw the clear analysis images through its own training blur, as it was trained "
            "(`analysis.own_blur: true`); patches are cropped from the clear images. The network-alone control "
            "(`analysis.own_blur: false`) removes the blur layer and measures only what fine-tuning changed in the weights."
        )
    return (
        "Network-alone control (`analysis.own_blur: false`): the clear analysis images reached each trained network "
        "without its training blur, so differences between σ come from the fine-tuned weights alone."
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
        f"the same ids in every model) were followed: their top {fmt_num(tk.get('k'))} analysis images by spatial-max "
        f"activation and, from those, the best {fmt_num(tk.get('n_show'))} patches "
        f"(method `{pt.get('method', 'n/a')}`). Grids: rows are models (σ ascending, then BlurPool), columns are neurons; "
        "each cell is a neuron's mosaic of its best patches, each patch contrast-stretched for display only "
        "(every number in this report is computed on the raw patches). "
        + analysis_blur_sentence(ctx.config.get("analysis", {}))
    )
    n_rep = int(ctx.n_representative)
    for layer in layers:
        sec.add(Heading(layer_label(layer)))
        sec.add(
            src.figure(
                f"all_neurons_grid/{layer}",
                f"Neuron features across blur levels, {layer_label(layer)}",
                caption="all_neurons_grid",
                layer=layer,
            )
        )
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
        sec.add(
            src.figure(
                f"representative_neurons_grid/{layer}",
                f"Representative neurons, {layer_label(layer)}",
                caption="representative_neurons_grid",
                layer=layer,
            )
        )
        sec.add(
            src.figure(
                f"patch_methods/{layer}",
                f"Patch methods compared, {layer_label(layer)}",
                caption="patch_methods",
                layer=layer,
            )
        )
    return sec
