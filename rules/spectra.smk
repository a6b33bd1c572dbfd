# Stage "spectra": power spectra, complexity and neuron-level statistics of the
# preferred patches against random baseline patches (seed 000 §2-§5), see docs/spectra.md.

import re

BASELINE_MODEL = "baseline"  # pseudo-model: random patches of the analysis images
SPECTRA_MODELS = MODELS + [BASELINE_MODEL]


# parse-time checks JSON Schema cannot express; each error names the key
_SPECTRA_BASELINE = config["baseline"]
if _SPECTRA_BASELINE["n_patches"] % _SPECTRA_BASELINE["n_images"]:
    raise ValueError(
        f"config key 'baseline.n_patches' ({_SPECTRA_BASELINE['n_patches']}) must be a multiple of "
        f"'baseline.n_images' ({_SPECTRA_BASELINE['n_images']})"
    )
if _SPECTRA_BASELINE["n_images"] > config["analysis"]["n_images"]:
    raise ValueError(
        f"config key 'baseline.n_images' ({_SPECTRA_BASELINE['n_images']}) exceeds 'analysis.n_images' "
        f"({config['analysis']['n_images']}), the images baseline patches are drawn from"
    )
if BASELINE_MODEL in MODELS:
    raise ValueError(
        f"model id {BASELINE_MODEL!r} is reserved for the random-patch baseline"
    )

# config subsets: each rule reruns only on the keys that change its numbers
SPECTRA_CFG = {k: config["spectra"][k] for k in ("n_bins", "hf_cutoff")}
COMPLEXITY_CFG = {
    k: config["spectra"][k]
    for k in ("jpeg_quality", "edge_threshold", "wavelet", "wavelet_levels")
}
SPECTRA_PAIRS = [[m, l] for m in SPECTRA_MODELS for l in LAYERS]

# per-rule constraints (a global wildcard_constraints would bind other stages' wildcards)
SPECTRA_MODEL_RE = "|".join(re.escape(m) for m in SPECTRA_MODELS)
SPECTRA_LAYER_RE = "|".join(re.escape(l) for l in LAYERS)


# preferred patches of a model (features stage) or the layer's random baseline patches
SPECTRA_PATCH_FILE = lambda wc: (
    f"{RESULTS}/baseline/{wc.layer}.npz"
    if wc.model == BASELINE_MODEL
    else f"{RESULTS}/patches/{wc.model}/{wc.layer}.npz"
)


rule baseline_patches:
    input:
        images=rules.analysis_images.output[0],
        # read only for the layer's patch size (the .npy header)
        reference=f"{RESULTS}/patches/{MODELS[0]}/{{layer}}.npz",
    output:
        f"{RESULTS}/baseline/{{layer}}.npz",
    log:
        rule_log("baseline_patches", "{layer}"),
    benchmark:
        rule_bench("baseline_patches", "{layer}")
    wildcard_constraints:
        layer=SPECTRA_LAYER_RE,
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=cfg("baseline"),
    script:
        "../workflow_scripts/baseline_patches.py"


rule spectra:
    input:
        patches=SPECTRA_PATCH_FILE,
    output:
        f"{RESULTS}/spectra/{{model}}/{{layer}}.npz",
    log:
        rule_log("spectra", "{model}_{layer}"),
    benchmark:
        rule_bench("spectra", "{model}_{layer}")
    wildcard_constraints:
        model=SPECTRA_MODEL_RE,
        layer=SPECTRA_LAYER_RE,
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=SPECTRA_CFG,
    script:
        "../workflow_scripts/spectra.py"


rule complexity:
    input:
        patches=SPECTRA_PATCH_FILE,
    output:
        f"{RESULTS}/complexity/{{model}}/{{layer}}.tsv",
    log:
        rule_log("complexity", "{model}_{layer}"),
    benchmark:
        rule_bench("complexity", "{model}_{layer}")
    wildcard_constraints:
        model=SPECTRA_MODEL_RE,
        layer=SPECTRA_LAYER_RE,
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=COMPLEXITY_CFG,
        sigma=lambda wc: None if wc.model == BASELINE_MODEL else model_sigma(wc.model),
    script:
        "../workflow_scripts/complexity.py"


rule patch_stats:
    input:
        complexity=[f"{RESULTS}/complexity/{m}/{l}.tsv" for m, l in SPECTRA_PAIRS],
        spectra=[f"{RESULTS}/spectra/{m}/{l}.npz" for m, l in SPECTRA_PAIRS],
    output:
        summary=f"{RESULTS}/stats/patch_summary.tsv",
        spectra=f"{RESULTS}/stats/patch_spectra.tsv",
        neuron_means=f"{RESULTS}/stats/patch_neuron_means.tsv",
        trends=report(
            f"{RESULTS}/stats/patch_trends.tsv",
            caption="../report/patch_stats.rst",
            category="4. Statistics",
            labels={"table": "trends over sigma"},
        ),
        effects=report(
            f"{RESULTS}/stats/patch_effects.tsv",
            caption="../report/patch_stats.rst",
            category="4. Statistics",
            labels={"table": "effect sizes"},
        ),
        table_tsv=report(
            f"{RESULTS}/stats/complexity_table.tsv",
            caption="../report/patch_stats.rst",
            category="4. Statistics",
            labels={"table": "complexity summary"},
        ),
        table_md=f"{RESULTS}/stats/complexity_table.md",
    log:
        rule_log("patch_stats"),
    benchmark:
        rule_bench("patch_stats")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=cfg("stats"),
        pairs=SPECTRA_PAIRS,
        sigma_of={m: model_sigma(m) for m in MODELS},
        sigma_models=SIGMA_MODELS,
        table_layer=LAYERS[-1],
    script:
        "../workflow_scripts/patch_stats.py"


rule spectra_figures:
    input:
        spectra=rules.patch_stats.output.spectra,
        summary=rules.patch_stats.output.summary,
    output:
        relative=report(
            f"{RESULTS}/figures/models_relative_to_baseline_{{layer}}.png",
            caption="../report/models_relative_to_baseline.rst",
            category="3. Spectra and complexity",
            labels={"figure": "spectra vs baseline", "layer": "{layer}"},
        ),
        complexity=report(
            f"{RESULTS}/figures/models_complexity_comparison_{{layer}}.png",
            caption="../report/models_complexity_comparison.rst",
            category="3. Spectra and complexity",
            labels={"figure": "complexity", "layer": "{layer}"},
        ),
    log:
        rule_log("spectra_figures", "{layer}"),
    benchmark:
        rule_bench("spectra_figures", "{layer}")
    wildcard_constraints:
        layer=SPECTRA_LAYER_RE,
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        layer=lambda wc: wc.layer,
        plots=cfg("plots"),
    script:
        "../workflow_scripts/spectra_figures.py"


TARGETS["spectra"] = [
    *rules.patch_stats.output,
    *expand(rules.spectra_figures.output.relative, layer=LAYERS),
    *expand(rules.spectra_figures.output.complexity, layer=LAYERS),
]
