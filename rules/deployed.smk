# Stage "deployed": every analysis of a model as deployed (its training blur layer included;
# the filter-only references ref-sigma<s> are the sigma 0 network behind the blur of s), one job
# per model (workflow_scripts/deployed.py, library blurscope.deployed): AVR at every stride point
# and SIS (aliasing_part, docs/aliasing.md), then the hybrid sweep, PGD, the shape-bias test and the
# corruption accuracies (frequency_part, docs/frequency.md). Each part is seconds of work and a torch
# job's start-up ~2.5 s, so they share one model load and one torch import; a change to any key of
# either part (aliasing.* run keys, frequency.* per-model keys) reruns the whole job.


rule deployed:
    input:
        unpack(model_inputs),
        **FREQ_SHAPE_INPUT,
        images=rules.analysis_images.output[0],
        corrupted=expand(
            f"{RESULTS}/frequency/corrupted/{{corruption}}.npz",
            corruption=FREQ["corruptions"],
        ),
        mce_reference=mce_reference_input,
    output:
        **FREQ_SHAPE_OUTPUT,
        # AVR / SIS (aliasing stage)
        table=f"{RESULTS}/aliasing/{{model}}.tsv",
        info=f"{RESULTS}/aliasing/{{model}}.json",
        # frequency stage
        curves=f"{RESULTS}/frequency/{{model}}_curves.tsv",
        spectrum=f"{RESULTS}/frequency/{{model}}_pgd_spectrum.tsv",
        preference=f"{RESULTS}/frequency/{{model}}_preference.tsv",
        # per pair / per image outcomes: paired bootstraps of trained vs reference
        units=f"{RESULTS}/frequency/{{model}}_units.npz",
        corruption=f"{RESULTS}/frequency/{{model}}_corruption.tsv",
        ce=f"{RESULTS}/frequency/{{model}}_ce.tsv",
        hits=f"{RESULTS}/frequency/{{model}}_corruption_hits.npz",
    log:
        aliasing=f"{RESULTS}/logs/deployed/{{model}}.aliasing.log",
        frequency=f"{RESULTS}/logs/deployed/{{model}}.frequency.log",
    benchmark:
        rule_bench("deployed", "{model}")
    wildcard_constraints:
        model=MODEL_WILDCARD,
    priority: 55  # aliasing_stats is a 30 s single job: start it early
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        aliasing_cfg=ALIAS_RUN_CFG,
        frequency_cfg=FREQ_MODEL_CFG,
    script:
        "../workflow_scripts/deployed.py"
