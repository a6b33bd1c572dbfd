# Stage "spectra": power spectra, complexity and neuron-level statistics of the
# preferred patches against random baseline patches (the VITAL feature-analysis report's
# spectra and complexity), see docs/spectra.md and docs/references.md.

import re

SPECTRA_MODELS = PREFERENCE_MODELS + [BASELINE_MODEL]

# config subsets: each rule reruns only on the keys that change its numbers
SPECTRA_CFG = {k: config["spectra"][k] for k in ("n_bins", "hf_cutoff", "window")}
COMPLEXITY_CFG = {
    k: config["spectra"][k]
    for k in (
        "jpeg_quality",
        "jpeg_data",
        "edge_threshold",
        "wavelet",
        "wavelet_levels",
        "wavelet_mode",
    )
}
SPECTRA_PAIRS = [[m, l] for m in SPECTRA_MODELS for l in LAYERS]


rule baseline_patches:
    input:
        images=rules.analysis_images.output[0],
        # read only for each layer's patch size (the .npy header)
        reference=patch_files(MODELS[0]),
    output:
        expand(f"{RESULTS}/baseline/{{layer}}.npz", layer=LAYERS),
    log:
        rule_log("baseline_patches"),
    benchmark:
        rule_bench("baseline_patches")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=cfg("baseline"),
    script:
        "../workflow_scripts/baseline_patches.py"


rule patch_metrics:
    input:
        patches=[patch_set(m, l) for m, l in SPECTRA_PAIRS],
    output:
        spectra=[f"{RESULTS}/spectra/{m}/{l}.npz" for m, l in SPECTRA_PAIRS],
        complexity=[f"{RESULTS}/complexity/{m}/{l}.tsv" for m, l in SPECTRA_PAIRS],
    log:
        rule_log("patch_metrics"),
    benchmark:
        rule_bench("patch_metrics")
    priority: 50  # straight after features: the patch chain must not end the run
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        spectra=SPECTRA_CFG,
        complexity=COMPLEXITY_CFG,
        pairs=SPECTRA_PAIRS,
        sigma_of={m: model_sigma(m) for m in PREFERENCE_MODELS},
    script:
        "../workflow_scripts/patch_metrics.py"


rule patch_stats:
    input:
        complexity=rules.patch_metrics.output.complexity,
        spectra=rules.patch_metrics.output.spectra,
    output:
        summary=f"{RESULTS}/stats/patch_summary.tsv",
        spectra=f"{RESULTS}/stats/patch_spectra.tsv",
        neuron_means=f"{RESULTS}/stats/patch_neuron_means.tsv",
        trends=report(
            f"{RESULTS}/stats/patch_trends.tsv",
            caption="../report/patch_stats.rst",
            category=report_category("statistics"),
            labels={"table": "trends over sigma"},
        ),
        effects=report(
            f"{RESULTS}/stats/patch_effects.tsv",
            caption="../report/patch_stats.rst",
            category=report_category("statistics"),
            labels={"table": "effect sizes"},
        ),
        table_tsv=report(
            f"{RESULTS}/stats/complexity_table.tsv",
            caption="../report/patch_stats.rst",
            category=report_category("statistics"),
            labels={"table": "complexity summary"},
        ),
        table_md=f"{RESULTS}/stats/complexity_table.md",
        # one value per training run (its mean over neurons): the run-level design
        runs=f"{RESULTS}/stats/patch_runs.tsv",
    log:
        rule_log("patch_stats"),
    benchmark:
        rule_bench("patch_stats")
    priority: 50  # straight after features: the patch chain must not end the run
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=cfg("stats"),
        pairs=SPECTRA_PAIRS,
        sigma_of={m: model_sigma(m) for m in PREFERENCE_MODELS},
        group_of={m: model_group(m) for m in PREFERENCE_MODELS},
        sigma_models=SIGMA_MODELS,
        references=[m for m in PREFERENCE_MODELS if is_reference(m)],
        table_layer=LAYERS[-1],
    script:
        "../workflow_scripts/patch_stats.py"


rule spectra_figures:
    input:
        spectra=rules.patch_stats.output.spectra,
        summary=rules.patch_stats.output.summary,
    output:
        relative=report(
            expand(
                f"{RESULTS}/figures/models_relative_to_baseline_{{layer}}.png",
                layer=LAYERS,
            ),
            caption="../report/models_relative_to_baseline.rst",
            category=report_category("spectra"),
            labels={"figure": "spectra vs baseline"},
        ),
        complexity=report(
            expand(
                f"{RESULTS}/figures/models_complexity_comparison_{{layer}}.png",
                layer=LAYERS,
            ),
            caption="../report/models_complexity_comparison.rst",
            category=report_category("spectra"),
            labels={"figure": "complexity"},
        ),
    log:
        rule_log("spectra_figures"),
    benchmark:
        rule_bench("spectra_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        layers=LAYERS,
        plots=cfg("plots"),
    script:
        "../workflow_scripts/spectra_figures.py"


TARGETS["spectra"] = [
    *rules.patch_stats.output,
    *rules.spectra_figures.output,
]
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    patch_summary=rules.patch_stats.output.summary,
    patch_spectra=rules.patch_stats.output.spectra,
    patch_trends=rules.patch_stats.output.trends,
    patch_effects=rules.patch_stats.output.effects,
    patch_runs=rules.patch_stats.output.runs,
    complexity_table=rules.patch_stats.output.table_tsv,
    **per_layer("models_relative_to_baseline", rules.spectra_figures.output.relative),
    **per_layer(
        "models_complexity_comparison", rules.spectra_figures.output.complexity
    ),
)
