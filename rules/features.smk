# Stage "features": top-activating images per neuron (one streaming pass per model),
# their patches (VITAL windows or exact receptive fields) and the VITAL report's grids.
# Outputs and formats: docs/features.md.

import re

# config subsets: each rule reruns only on the keys that change its outputs
TOPK_PASS_CFG = {
    k: config["topk"][k] for k in ("k", "neurons_per_layer", "batch_size", "device")
}
PATCH_CFG = {
    k: config["patches"][k]
    for k in ("method", "window_224", "stride_fraction", "batch_size", "rf_fill")
}
GRID_CFG = {
    k: config["patches"][k]
    for k in (
        "window_224",
        "stride_fraction",
        "batch_size",
        "rf_fill",
        "grid_neurons",
        "n_representative",
        "hf_cutoff",
    )
}

# grid rows: sigma models by sigma, then the BlurPool model (replicates are analysed
# and enter the statistics, but the grids show one network per condition)
GRID_MODELS = SIGMA_MODELS + [BLURPOOL]
GRID_SIGMAS = [model_sigma(m) if m in SIGMA_MODELS else None for m in GRID_MODELS]
FEATURES_MODEL_RE = "|".join(re.escape(m) for m in PREFERENCE_MODELS)


rule features:
    input:
        unpack(model_inputs),
        images=rules.analysis_images.output[0],
    output:
        activations=f"{RESULTS}/activations/{{model}}.npz",
        npz=expand(f"{RESULTS}/patches/{{{{model}}}}/{{layer}}.npz", layer=LAYERS),
        tsv=expand(f"{RESULTS}/patches/{{{{model}}}}/{{layer}}.tsv", layer=LAYERS),
    log:
        rule_log("features", "{model}"),
    benchmark:
        rule_bench("features", "{model}")
    wildcard_constraints:
        model=FEATURES_MODEL_RE,
    priority: 60  # the patch chain (grids, metrics, stats) ends the run otherwise
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        topk=TOPK_PASS_CFG,
        patches=PATCH_CFG,
        n_show=config["topk"]["n_show"],
        layers=LAYERS,
        own_blur=config["analysis"]["own_blur"],
    script:
        "../workflow_scripts/features.py"


rule feature_grids:
    input:
        patches=[patch_files(m) for m in GRID_MODELS],
        activations=expand(f"{RESULTS}/activations/{{model}}.npz", model=GRID_MODELS),
        models=[model_path(m) for m in GRID_MODELS],
        images=rules.analysis_images.output[0],
    output:
        all_neurons=report(
            expand(f"{RESULTS}/figures/all_neurons_grid_{{layer}}.png", layer=LAYERS),
            caption="../report/all_neurons_grid.rst",
            category=report_category("features"),
            labels={"figure": "all neurons"},
        ),
        representative_fig=report(
            expand(
                f"{RESULTS}/figures/representative_neurons_grid_{{layer}}.png",
                layer=LAYERS,
            ),
            caption="../report/representative_neurons_grid.rst",
            category=report_category("features"),
            labels={"figure": "representative neurons"},
        ),
        methods=report(
            expand(f"{RESULTS}/figures/patch_methods_{{layer}}.png", layer=LAYERS),
            caption="../report/patch_methods.rst",
            category=report_category("features"),
            labels={"figure": "patch methods"},
        ),
        representative=expand(
            f"{RESULTS}/patches/representative_{{layer}}.tsv", layer=LAYERS
        ),
    log:
        rule_log("feature_grids"),
    benchmark:
        rule_bench("feature_grids")
    priority: 50  # straight after features: the patch chain must not end the run
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=GRID_CFG,
        n_show=config["topk"]["n_show"],
        window=config["spectra"]["window"],
        device=config["topk"]["device"],
        own_blur=config["analysis"]["own_blur"],
        plots=cfg("plots"),
        models=GRID_MODELS,
        sigmas=GRID_SIGMAS,
        layers=LAYERS,
    script:
        "../workflow_scripts/feature_grids.py"


TARGETS["features"] = (
    expand(f"{RESULTS}/activations/{{model}}.npz", model=PREFERENCE_MODELS)
    + [f for m in PREFERENCE_MODELS for f in patch_files(m) + patch_files(m, "tsv")]
    + list(rules.feature_grids.output)
)
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    **per_layer("representative", rules.feature_grids.output.representative),
    **per_layer("all_neurons_grid", rules.feature_grids.output.all_neurons),
    **per_layer(
        "representative_neurons_grid", rules.feature_grids.output.representative_fig
    ),
    **per_layer("patch_methods", rules.feature_grids.output.methods),
)
