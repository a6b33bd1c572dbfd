# Stage "features": top-activating images per neuron (one streaming pass per model),
# their patches (VITAL windows or exact receptive fields) and seed 000's grids.
# Outputs and formats: docs/features.md.

import re

# config subsets: each rule reruns only on the keys that change its outputs
TOPK_PASS_CFG = {
    k: config["topk"][k] for k in ("k", "neurons_per_layer", "batch_size", "device")
}
PATCH_TOPK_CFG = {k: config["topk"][k] for k in ("n_show", "device")}
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


# parse-time checks JSON Schema cannot express; each error names the key
if config["topk"]["k"] > config["analysis"]["n_images"]:
    raise ValueError(
        f"config key 'topk.k' ({config['topk']['k']}) exceeds 'analysis.n_images' "
        f"({config['analysis']['n_images']}), the images the top-k is taken from"
    )
if config["topk"]["n_show"] > config["topk"]["k"]:
    raise ValueError(
        f"config key 'topk.n_show' ({config['topk']['n_show']}) exceeds 'topk.k' ({config['topk']['k']})"
    )

# grid rows: sigma models by sigma, then the BlurPool model
GRID_MODELS = SIGMA_MODELS + [BLURPOOL]
GRID_SIGMAS = [model_sigma(m) if m in SIGMA_MODELS else None for m in GRID_MODELS]
FEATURES_MODEL_RE = "|".join(re.escape(m) for m in MODELS)
FEATURES_LAYER_RE = "|".join(re.escape(l) for l in LAYERS)


rule top_activations:
    input:
        model=lambda wc: model_path(wc.model),
        images=rules.analysis_images.output[0],
    output:
        f"{RESULTS}/activations/{{model}}.npz",
    log:
        rule_log("top_activations", "{model}"),
    benchmark:
        rule_bench("top_activations", "{model}")
    wildcard_constraints:
        model=FEATURES_MODEL_RE,
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=TOPK_PASS_CFG,
        layers=LAYERS,
        own_blur=config["analysis"]["own_blur"],
    script:
        "../workflow_scripts/top_activations.py"


rule crop_patches:
    input:
        model=lambda wc: model_path(wc.model),
        images=rules.analysis_images.output[0],
        activations=rules.top_activations.output[0],
    output:
        npz=f"{RESULTS}/patches/{{model}}/{{layer}}.npz",
        tsv=f"{RESULTS}/patches/{{model}}/{{layer}}.tsv",
    log:
        rule_log("crop_patches", "{model}_{layer}"),
    benchmark:
        rule_bench("crop_patches", "{model}_{layer}")
    wildcard_constraints:
        model=FEATURES_MODEL_RE,
        layer=FEATURES_LAYER_RE,
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=PATCH_CFG,
        topk=PATCH_TOPK_CFG,
        own_blur=config["analysis"]["own_blur"],
    script:
        "../workflow_scripts/crop_patches.py"


rule feature_grids:
    input:
        patches=expand(
            f"{RESULTS}/patches/{{model}}/{{{{layer}}}}.npz", model=GRID_MODELS
        ),
        activations=expand(f"{RESULTS}/activations/{{model}}.npz", model=GRID_MODELS),
        models=[model_path(m) for m in GRID_MODELS],
        images=rules.analysis_images.output[0],
    output:
        all_neurons=report(
            f"{RESULTS}/figures/all_neurons_grid_{{layer}}.png",
            caption="../report/all_neurons_grid.rst",
            category="2. Feature visualisations",
            labels={"figure": "all neurons", "layer": "{layer}"},
        ),
        representative_fig=report(
            f"{RESULTS}/figures/representative_neurons_grid_{{layer}}.png",
            caption="../report/representative_neurons_grid.rst",
            category="2. Feature visualisations",
            labels={"figure": "representative neurons", "layer": "{layer}"},
        ),
        methods=report(
            f"{RESULTS}/figures/patch_methods_{{layer}}.png",
            caption="../report/patch_methods.rst",
            category="2. Feature visualisations",
            labels={"figure": "patch methods", "layer": "{layer}"},
        ),
        representative=f"{RESULTS}/patches/representative_{{layer}}.tsv",
    log:
        rule_log("feature_grids", "{layer}"),
    benchmark:
        rule_bench("feature_grids", "{layer}")
    wildcard_constraints:
        layer=FEATURES_LAYER_RE,
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=GRID_CFG,
        topk=PATCH_TOPK_CFG,
        own_blur=config["analysis"]["own_blur"],
        plots=cfg("plots"),
        models=GRID_MODELS,
        sigmas=GRID_SIGMAS,
    script:
        "../workflow_scripts/feature_grids.py"


TARGETS["features"] = (
    expand(f"{RESULTS}/activations/{{model}}.npz", model=MODELS)
    + expand(
        f"{RESULTS}/patches/{{model}}/{{layer}}.{{ext}}",
        model=MODELS,
        layer=LAYERS,
        ext=["npz", "tsv"],
    )
    + expand(
        f"{RESULTS}/figures/{{name}}_{{layer}}.png",
        name=["all_neurons_grid", "representative_neurons_grid", "patch_methods"],
        layer=LAYERS,
    )
    + expand(f"{RESULTS}/patches/representative_{{layer}}.tsv", layer=LAYERS)
)
