# Stage "saliency": SmoothGrad focus of the naive (sigma 0) vs the expert
# (blur-fine-tuned) model on clear and blurred inputs, tested against the
# SmoothGrad noise floor (after Sun, Chen & Hu), see docs/saliency.md.

SAL = config["saliency"]
SAL_NAIVE = model_id(0.0)
SAL_EXPERT = model_id(SAL["expert_sigma"])

# config subsets: each rule reruns only on the keys that change its outputs
SAL_RUN_CFG = {
    **{
        k: SAL[k]
        for k in (
            "n_images",
            "n_samples",
            "noise_level",
            "top_k_pixels",
            "seeds",
            "batch_size",
            "device",
            "n_activation_images",
            "activation_channels",
            "n_figure_images",
        )
    },
    "activation_layers": list(SAL["activation_layers"] or LAYERS),
}
SAL_STATS_CFG = {k: SAL[k] for k in ("bootstrap_iterations", "bootstrap_seed", "alpha")}


rule smoothgrad:
    input:
        naive=model_path(SAL_NAIVE),
        naive_meta=f"{RESULTS}/models/{SAL_NAIVE}.json",
        expert=model_path(SAL_EXPERT),
        expert_meta=f"{RESULTS}/models/{SAL_EXPERT}.json",
        images=rules.analysis_images.output[0],
    output:
        maps=f"{RESULTS}/saliency/smoothgrad.npz",
        activations=f"{RESULTS}/saliency/activations.npz",
        per_image=f"{RESULTS}/saliency/per_image.tsv",
        predictions=f"{RESULTS}/saliency/predictions.tsv",
    log:
        rule_log("smoothgrad"),
    benchmark:
        rule_bench("smoothgrad")
    priority: 80
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=SAL_RUN_CFG,
    script:
        "../workflow_scripts/smoothgrad.py"


rule saliency_stats:
    input:
        per_image=rules.smoothgrad.output.per_image,
    output:
        stats=report(
            f"{RESULTS}/saliency/stats.tsv",
            caption="../report/saliency_tables.rst",
            category=report_category("saliency"),
            labels={"table": "focus tests"},
        ),
    log:
        rule_log("saliency_stats"),
    benchmark:
        rule_bench("saliency_stats")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=SAL_STATS_CFG,
    script:
        "../workflow_scripts/saliency_stats.py"


rule saliency_figures:
    input:
        maps=rules.smoothgrad.output.maps,
        activations=rules.smoothgrad.output.activations,
        per_image=rules.smoothgrad.output.per_image,
        stats=rules.saliency_stats.output.stats,
    output:
        overlays=report(
            f"{RESULTS}/figures/saliency_overlays.png",
            caption="../report/saliency_overlays.rst",
            category=report_category("saliency"),
            labels={"figure": "SmoothGrad overlays"},
        ),
        activations=report(
            f"{RESULTS}/figures/saliency_activations.png",
            caption="../report/saliency_activations.rst",
            category=report_category("saliency"),
            labels={"figure": "activation maps"},
        ),
        distances=report(
            f"{RESULTS}/figures/saliency_distances.png",
            caption="../report/saliency_distances.rst",
            category=report_category("saliency"),
            labels={"figure": "focus distances"},
        ),
    log:
        rule_log("saliency_figures"),
    benchmark:
        rule_bench("saliency_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        plots=cfg("plots"),
    script:
        "../workflow_scripts/saliency_figures.py"


TARGETS["saliency"] = [
    rules.saliency_stats.output.stats,
    rules.smoothgrad.output.predictions,
    *rules.saliency_figures.output,
]
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    saliency_stats=rules.saliency_stats.output.stats,
    saliency_overlays=rules.saliency_figures.output.overlays,
    saliency_activations=rules.saliency_figures.output.activations,
    saliency_distances=rules.saliency_figures.output.distances,
)
