# Stage "featvis": feature visualisation by optimisation (Olah et al. 2017; Lucent), the
# dataset-free view of what each model's grid neurons prefer: rendered images, their radial
# spectra and HF power fraction, statistics over sigma. docs/featvis.md.
# Clear-input protocol: the network alone, without its training blur layer.

import re

FEATVIS_MODELS = ALL_TRAINED  # replicates render too: the trend resamples them
FEATVIS_GRID_MODELS = SIGMA_MODELS + [BLURPOOL]
FEATVIS_GRID_SIGMAS = [
    model_sigma(m) if m in SIGMA_MODELS else None for m in FEATVIS_GRID_MODELS
]
FEATVIS_SPECTRA_CFG = {
    k: config["spectra"][k] for k in ("hf_cutoff", "n_bins", "window")
}
FEATVIS_MODEL_RE = "|".join(re.escape(m) for m in FEATVIS_MODELS)


rule featvis:
    input:
        unpack(model_inputs),
    output:
        npz=f"{RESULTS}/featvis/{{model}}.npz",
        tsv=f"{RESULTS}/featvis/{{model}}.tsv",
    log:
        rule_log("featvis", "{model}"),
    benchmark:
        rule_bench("featvis", "{model}")
    wildcard_constraints:
        model=FEATVIS_MODEL_RE,
    conda:
        "../envs/torch.yaml"
    threads: config["featvis"]["threads"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=cfg("featvis"),
        layers=LAYERS,
        neurons_per_layer=config["topk"]["neurons_per_layer"],
        grid_neurons=config["patches"]["grid_neurons"],
        spectra=FEATVIS_SPECTRA_CFG,
    script:
        "../workflow_scripts/featvis.py"


rule featvis_stats:
    input:
        tsv=expand(f"{RESULTS}/featvis/{{model}}.tsv", model=FEATVIS_MODELS),
    output:
        summary=f"{RESULTS}/featvis/summary.tsv",
        trends=report(
            f"{RESULTS}/featvis/trends.tsv",
            caption="../report/featvis_spectra.rst",
            category=report_category("statistics"),
            labels={"table": "feature visualisation trends"},
        ),
        effects=f"{RESULTS}/featvis/effects.tsv",
        runs=f"{RESULTS}/featvis/runs.tsv",
    log:
        rule_log("featvis_stats"),
    benchmark:
        rule_bench("featvis_stats")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=cfg("stats"),
        sigma_of={m: model_sigma(m) for m in FEATVIS_MODELS},
        sigma_models=SIGMA_MODELS,
        paired=config["training"]["mode"] == "finetune",
        group_of={m: model_group(m) for m in FEATVIS_MODELS},
    script:
        "../workflow_scripts/featvis_stats.py"


rule featvis_figures:
    input:
        npz=expand(f"{RESULTS}/featvis/{{model}}.npz", model=FEATVIS_GRID_MODELS),
        summary=rules.featvis_stats.output.summary,
    output:
        grid=report(
            expand(f"{RESULTS}/figures/featvis_grid_{{layer}}.png", layer=LAYERS),
            caption="../report/featvis_grid.rst",
            category=report_category("features"),
            labels={"figure": "feature visualisation"},
        ),
        spectra=report(
            expand(f"{RESULTS}/figures/featvis_spectra_{{layer}}.png", layer=LAYERS),
            caption="../report/featvis_spectra.rst",
            category=report_category("features"),
            labels={"figure": "feature visualisation spectra"},
        ),
    log:
        rule_log("featvis_figures"),
    benchmark:
        rule_bench("featvis_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        models=FEATVIS_GRID_MODELS,
        sigmas=FEATVIS_GRID_SIGMAS,
        layers=LAYERS,
        plots=cfg("plots"),
    script:
        "../workflow_scripts/featvis_figures.py"


TARGETS["featvis"] = [*rules.featvis_stats.output, *rules.featvis_figures.output]
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    featvis_summary=rules.featvis_stats.output.summary,
    featvis_trends=rules.featvis_stats.output.trends,
    featvis_effects=rules.featvis_stats.output.effects,
    featvis_runs=rules.featvis_stats.output.runs,
    **per_layer("featvis_grid", rules.featvis_figures.output.grid),
    **per_layer("featvis_spectra", rules.featvis_figures.output.spectra),
)
