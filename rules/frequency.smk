# Stage "frequency": which frequencies each model uses (after Li et al. 2023), see docs/frequency.md.
# Hybrid images (p_low / p_high, f_rev), PGD perturbation spectra (f_0.5), shape bias on
# the cue-conflict split, accuracy under common corruptions; one summary per model.

import sys

FREQ = config["frequency"]

# config subsets: each rule reruns only when a key that changes its numbers changes
FREQ_COMMON_KEYS = ("bootstrap", "ci", "seed", "batch_size", "device")
# the per-model part (hybrids, PGD, shape bias, corruptions; run by rule deployed)
FREQ_MODEL_CFG = {
    k: FREQ[k]
    for k in FREQ_COMMON_KEYS
    + (
        "n_f_mix",
        "n_pairs",
        "pgd_norm",
        "pgd_eps",
        "pgd_steps",
        "pgd_step_size",
        "pgd_random_start",
        "pgd_n_images",
        "corruptions",
        "severities",
        "corruption_n_images",
        "mce_reference",
        "mce_reference_errors",
    )
}
# the shared corrupted images depend only on these (not on the model or the batch size)
FREQ_CORRUPTED_CFG = {
    k: FREQ[k] for k in ("corruptions", "severities", "corruption_n_images", "seed")
}
FREQ_SUMMARY_CFG = {k: FREQ[k] for k in ("seed", "bootstrap", "ci")}

# Shape bias needs the cue-conflict split (rules/data.smk: embedded dataset with
# n_cue_conflict > 0, or dataset.cue_conflict_root). Without it rule cue_conflict_images
# and the shape-bias test are left out of the DAG, explicitly: said here, in the summary log and in summary.tsv.
FREQ_HAS_CUE_CONFLICT = has_cue_conflict()
if FREQ_HAS_CUE_CONFLICT:
    FREQ_SHAPE_STATUS = "ok"
elif config["dataset"]["kind"] == "embedded":
    FREQ_SHAPE_STATUS = "no cue-conflict split: dataset.embedded.n_cue_conflict is 0"
else:
    FREQ_SHAPE_STATUS = (
        "no cue-conflict split: dataset.kind is 'imagefolder' and "
        "dataset.cue_conflict_root is not set"
    )
if not FREQ_HAS_CUE_CONFLICT:
    print(
        f"[frequency] shape bias (rule cue_conflict_images, the shape-bias part of rule deployed) not run: {FREQ_SHAPE_STATUS}",
        file=sys.stderr,
    )

# training-seed replicates (training.seeds > 1): each base model with its replicates
FREQ_SEED_GROUPS = {
    m: [m] + [r for r in SEED_MODELS if model_group(r) == m]
    for m in SIGMA_MODELS
    if any(model_group(r) == m for r in SEED_MODELS)
}


# The per-model analyses of this stage (hybrids, PGD, shape bias, corruptions) run in rule
# deployed (rules/deployed.smk), one job per model together with AVR/SIS.
FREQ_SHAPE_INPUT = (
    {"cue_conflict": rules.cue_conflict_images.output[0]}
    if FREQ_HAS_CUE_CONFLICT
    else {}
)
FREQ_SHAPE_OUTPUT = (
    {"shape_bias": f"{RESULTS}/frequency/{{model}}_shape_bias.tsv"}
    if FREQ_HAS_CUE_CONFLICT
    else {}
)


rule corrupted_images:
    input:
        images=rules.analysis_images.output[0],
    output:
        expand(
            f"{RESULTS}/frequency/corrupted/{{corruption}}.npz",
            corruption=FREQ["corruptions"],
        ),
    log:
        rule_log("corrupted_images"),
    benchmark:
        rule_bench("corrupted_images")
    priority: 90
    conda:
        "../envs/torch.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=FREQ_CORRUPTED_CFG,
    script:
        "../workflow_scripts/corrupted_images.py"


rule frequency_summary:
    input:
        preference=expand(
            f"{RESULTS}/frequency/{{model}}_preference.tsv", model=DEPLOYED_MODELS
        ),
        curves=expand(
            f"{RESULTS}/frequency/{{model}}_curves.tsv", model=DEPLOYED_MODELS
        ),
        spectrum=expand(
            f"{RESULTS}/frequency/{{model}}_pgd_spectrum.tsv", model=DEPLOYED_MODELS
        ),
        units=expand(f"{RESULTS}/frequency/{{model}}_units.npz", model=DEPLOYED_MODELS),
        corruption=expand(
            f"{RESULTS}/frequency/{{model}}_corruption.tsv", model=DEPLOYED_MODELS
        ),
        ce=expand(f"{RESULTS}/frequency/{{model}}_ce.tsv", model=DEPLOYED_MODELS),
        hits=expand(
            f"{RESULTS}/frequency/{{model}}_corruption_hits.npz", model=DEPLOYED_MODELS
        ),
        shape_bias=(
            expand(
                f"{RESULTS}/frequency/{{model}}_shape_bias.tsv", model=DEPLOYED_MODELS
            )
            if FREQ_HAS_CUE_CONFLICT
            else []
        ),
    output:
        summary=report(
            f"{RESULTS}/frequency/summary.tsv",
            caption="../report/frequency_tables.rst",
            category=report_category("frequency"),
            labels={"table": "summary"},
        ),
        curves=f"{RESULTS}/frequency/curves.tsv",
        corruption=f"{RESULTS}/frequency/corruption.tsv",
        spectrum=f"{RESULTS}/frequency/pgd_spectrum.tsv",
        seed_variance=f"{RESULTS}/frequency/seed_variance.tsv",
        ce=f"{RESULTS}/frequency/ce.tsv",
        reference=report(
            f"{RESULTS}/frequency/reference.tsv",
            caption="../report/frequency_tables.rst",
            category=report_category("frequency"),
            labels={"table": "trained vs filter-only reference"},
        ),
        trends=report(
            f"{RESULTS}/frequency/trends.tsv",
            caption="../report/frequency_tables.rst",
            category=report_category("frequency"),
            labels={"table": "trends"},
        ),
    log:
        rule_log("frequency_summary"),
    benchmark:
        rule_bench("frequency_summary")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=FREQ_SUMMARY_CFG,
        shape_status=FREQ_SHAPE_STATUS,
        seed_groups=FREQ_SEED_GROUPS,
        models=DEPLOYED_MODELS,
        sigma_of={m: model_sigma(m) for m in DEPLOYED_MODELS},
        group_of={m: model_group(m) for m in DEPLOYED_MODELS},
        references={
            m: model_id(model_sigma(m)) for m in DEPLOYED_MODELS if is_reference(m)
        },
    script:
        "../workflow_scripts/frequency_summary.py"


rule frequency_figures:
    input:
        summary=rules.frequency_summary.output.summary,
        curves=rules.frequency_summary.output.curves,
        corruption=rules.frequency_summary.output.corruption,
    output:
        **(
            {
                "shape_bias": report(
                    f"{RESULTS}/figures/frequency_shape_bias.png",
                    caption="../report/frequency_shape_bias.rst",
                    category=report_category("frequency"),
                    labels={"figure": "shape bias"},
                )
            }
            if FREQ_HAS_CUE_CONFLICT
            else {}
        ),
        preference=report(
            f"{RESULTS}/figures/frequency_preference.png",
            caption="../report/frequency_preference.rst",
            category=report_category("frequency"),
            labels={"figure": "hybrid preference"},
        ),
        corruption_vs_frev=report(
            f"{RESULTS}/figures/frequency_corruption_vs_frev.png",
            caption="../report/frequency_corruption_vs_frev.rst",
            category=report_category("frequency"),
            labels={"figure": "corruptions vs f_rev"},
        ),
        corruption_heatmap=report(
            f"{RESULTS}/figures/frequency_corruption_heatmap.png",
            caption="../report/frequency_corruption_heatmap.rst",
            category=report_category("frequency"),
            labels={"figure": "corruption heatmap"},
        ),
    log:
        rule_log("frequency_figures"),
    benchmark:
        rule_bench("frequency_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        plots=cfg("plots"),
        shape_status=FREQ_SHAPE_STATUS,
        replicates=SEED_MODELS,
    script:
        "../workflow_scripts/frequency_figures.py"


TARGETS["frequency"] = list(rules.frequency_summary.output) + list(
    rules.frequency_figures.output
)
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    frequency_summary=rules.frequency_summary.output.summary,
    frequency_trends=rules.frequency_summary.output.trends,
    frequency_reference=rules.frequency_summary.output.reference,
    frequency_preference=rules.frequency_figures.output.preference,
    frequency_corruption_vs_frev=rules.frequency_figures.output.corruption_vs_frev,
    frequency_corruption_heatmap=rules.frequency_figures.output.corruption_heatmap,
    **(
        {"frequency_shape_bias": rules.frequency_figures.output.shape_bias}
        if FREQ_HAS_CUE_CONFLICT
        else {}
    ),
)
