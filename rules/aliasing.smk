# Stage "aliasing": alias violation ratio (AVR) at every stride>1 op and shift
# instability (SIS) of every model, against BlurPool (after Kashyap; Zhang 2019), see docs/aliasing.md.

ALIAS = config["aliasing"]
ALIAS_STANDARD = ALIAS["standard_model"]
ALIAS_SWEEP_MODELS = list(ALIAS["sweep"]["models"])

# config subsets: each rule reruns only on the keys that change its numbers
# the per-model part (AVR at every stride point, SIS; run by rule deployed, rules/deployed.smk)
ALIAS_RUN_CFG = {
    k: ALIAS[k]
    for k in ("n_images", "batch_size", "forward_chunks", "device", "remove_mean")
}
ALIAS_SWEEP_CFG = {
    k: ALIAS[k] for k in ("sweep", "batch_size", "device", "remove_mean")
}
ALIAS_STATS_CFG = {
    k: ALIAS[k] for k in ("bootstrap_iterations", "permutations", "seed")
}
ALIAS_TIMING_CFG = {
    k: ALIAS[k]
    for k in (
        "timing_images",
        "timing_repeats",
        "batch_size",
        "forward_chunks",
        "device",
        "remove_mean",
    )
}
# the standard model first: it is the reference of the tests and of the figures;
# then every other trained model, replicates and the filter-only references
ALIAS_MODELS = [ALIAS_STANDARD] + [m for m in DEPLOYED_MODELS if m != ALIAS_STANDARD]


rule frequency_sweep:
    input:
        models=[model_path(m) for m in ALIAS_SWEEP_MODELS],
        metas=[f"{RESULTS}/models/{m}.json" for m in ALIAS_SWEEP_MODELS],
    output:
        table=f"{RESULTS}/aliasing/frequency_sweep.tsv",
    log:
        rule_log("frequency_sweep"),
    benchmark:
        rule_bench("frequency_sweep")
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=ALIAS_SWEEP_CFG,
        models=ALIAS_SWEEP_MODELS,
    script:
        "../workflow_scripts/frequency_sweep.py"


rule aliasing_timing:
    input:
        models=[model_path(m) for m in (ALIAS_STANDARD, BLURPOOL)],
        metas=[f"{RESULTS}/models/{m}.json" for m in (ALIAS_STANDARD, BLURPOOL)],
        images=rules.analysis_images.output[0],
    output:
        table=f"{RESULTS}/aliasing/timing.tsv",
    log:
        rule_log("aliasing_timing"),
    benchmark:
        rule_bench("aliasing_timing")
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=ALIAS_TIMING_CFG,
        models=[ALIAS_STANDARD, BLURPOOL],
    script:
        "../workflow_scripts/aliasing_timing.py"


rule aliasing_stats:
    input:
        tables=expand(f"{RESULTS}/aliasing/{{model}}.tsv", model=ALIAS_MODELS),
        infos=expand(f"{RESULTS}/aliasing/{{model}}.json", model=ALIAS_MODELS),
    output:
        summary=report(
            f"{RESULTS}/aliasing/stats/summary.tsv",
            caption="../report/aliasing_stats.rst",
            category=report_category("aliasing"),
            labels={"table": "summary"},
        ),
        paired=report(
            f"{RESULTS}/aliasing/stats/paired.tsv",
            caption="../report/aliasing_stats.rst",
            category=report_category("aliasing"),
            labels={"table": "paired tests"},
        ),
        correlation=f"{RESULTS}/aliasing/stats/correlation.tsv",
        sigma_trend=f"{RESULTS}/aliasing/stats/sigma_trend.tsv",
        runs=f"{RESULTS}/aliasing/stats/runs.tsv",
        matching=f"{RESULTS}/aliasing/stats/matching.tsv",
    log:
        rule_log("aliasing_stats"),
    benchmark:
        rule_bench("aliasing_stats")
    priority: 55  # aliasing_stats is a 30 s single job: start it early
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=ALIAS_STATS_CFG,
        models=ALIAS_MODELS,
        standard=ALIAS_STANDARD,
        sigma_of={m: model_sigma(m) for m in ALIAS_MODELS},
        group_of={m: model_group(m) for m in ALIAS_MODELS},
    script:
        "../workflow_scripts/aliasing_stats.py"


rule aliasing_figures:
    input:
        summary=rules.aliasing_stats.output.summary,
        correlation=rules.aliasing_stats.output.correlation,
        sweep=rules.frequency_sweep.output.table,
        tables=[f"{RESULTS}/aliasing/{m}.tsv" for m in (ALIAS_STANDARD, BLURPOOL)],
    output:
        layers=report(
            f"{RESULTS}/figures/aliasing_layers.png",
            caption="../report/aliasing_layers.rst",
            category=report_category("aliasing"),
            labels={"figure": "AVR per point"},
        ),
        scatter=report(
            f"{RESULTS}/figures/aliasing_avr_sis.png",
            caption="../report/aliasing_avr_sis.rst",
            category=report_category("aliasing"),
            labels={"figure": "AVR vs SIS"},
        ),
        sweep=report(
            f"{RESULTS}/figures/aliasing_sweep.png",
            caption="../report/aliasing_sweep.rst",
            category=report_category("aliasing"),
            labels={"figure": "sinusoid sweep"},
        ),
        sis_sigma=report(
            f"{RESULTS}/figures/aliasing_sis_sigma.png",
            caption="../report/aliasing_sis_sigma.rst",
            category=report_category("aliasing"),
            labels={"figure": "SIS vs sigma"},
        ),
    log:
        rule_log("aliasing_figures"),
    benchmark:
        rule_bench("aliasing_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        plots=cfg("plots"),
        scatter_models=[ALIAS_STANDARD, BLURPOOL],
    script:
        "../workflow_scripts/aliasing_figures.py"


TARGETS["aliasing"] = [
    *rules.aliasing_stats.output,
    rules.aliasing_timing.output.table,
    rules.frequency_sweep.output.table,
    *rules.aliasing_figures.output,
]
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    aliasing_summary=rules.aliasing_stats.output.summary,
    aliasing_paired=rules.aliasing_stats.output.paired,
    aliasing_correlation=rules.aliasing_stats.output.correlation,
    aliasing_sigma_trend=rules.aliasing_stats.output.sigma_trend,
    aliasing_timing=rules.aliasing_timing.output.table,
    aliasing_layers=rules.aliasing_figures.output.layers,
    aliasing_avr_sis=rules.aliasing_figures.output.scatter,
    aliasing_sweep=rules.aliasing_figures.output.sweep,
    aliasing_sis_sigma=rules.aliasing_figures.output.sis_sigma,
)
