# Stage "train": baseline (sigma 0), one blur model per sigma (from scratch by default),
# the BlurPool model, training replicates; evaluation and the stem diagnostic.


wildcard_constraints:
    rep=r"(-seed[1-9][0-9]*)?",
    blursigma=r"0\.[0-9]+|[1-9][0-9]*(\.[0-9]+)?",
    model=MODEL_WILDCARD,


TRAIN_COMMON = dict(
    training=cfg("training"),
    model=cfg("model"),
    image_size=config["dataset"]["image_size"],
    skip_corrupt=config["dataset"]["skip_corrupt"],
)

# blur models: trained from scratch, or fine-tuned from parent_model (common.smk)
TRAIN_BLUR_ROLE = "scratch" if config["training"]["mode"] == "scratch" else "finetune"


rule train_baseline:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        weights=f"{RESULTS}/models/sigma0{{rep}}.safetensors",
        meta=f"{RESULTS}/models/sigma0{{rep}}.json",
    log:
        rule_log("train_baseline", "sigma0{rep}"),
    benchmark:
        rule_bench("train_baseline", "sigma0{rep}")
    # scheduling: the trainings are the critical path; the shared data sets and the long
    # single-model jobs start next, so that no core idles at the end of the run
    priority: 100
    conda:
        "../envs/torch.yaml"
    threads: THREADS["train"]
    resources:
        **RESOURCES["torch"],
    params:
        **TRAIN_COMMON,
        role="baseline",
        sigma=0.0,
    script:
        "../workflow_scripts/train_model.py"


rule train_blur:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
        parent=parent_model,
    output:
        weights=f"{RESULTS}/models/sigma{{blursigma}}{{rep}}.safetensors",
        meta=f"{RESULTS}/models/sigma{{blursigma}}{{rep}}.json",
    log:
        rule_log("train_blur", "sigma{blursigma}{rep}"),
    benchmark:
        rule_bench("train_blur", "sigma{blursigma}{rep}")
    priority: 100
    conda:
        "../envs/torch.yaml"
    threads: THREADS["train"]
    resources:
        **RESOURCES["torch"],
    params:
        **TRAIN_COMMON,
        role=TRAIN_BLUR_ROLE,
        sigma=blur_sigma,
    script:
        "../workflow_scripts/train_model.py"


rule train_blurpool:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        weights=f"{RESULTS}/models/{BLURPOOL}{{rep}}.safetensors",
        meta=f"{RESULTS}/models/{BLURPOOL}{{rep}}.json",
    log:
        rule_log("train_blurpool", f"{BLURPOOL}{{rep}}"),
    benchmark:
        rule_bench("train_blurpool", f"{BLURPOOL}{{rep}}")
    priority: 100
    conda:
        "../envs/torch.yaml"
    threads: THREADS["train"]
    resources:
        **RESOURCES["torch"],
    params:
        **TRAIN_COMMON,
        role="blurpool",
        sigma=0.0,
    script:
        "../workflow_scripts/train_model.py"


rule evaluate:
    input:
        unpack(model_inputs),
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        accuracy=f"{RESULTS}/evaluation/{{model}}.tsv",
        stem=f"{RESULTS}/evaluation/{{model}}_stem.tsv",
    log:
        rule_log("evaluate", "{model}"),
    benchmark:
        rule_bench("evaluate", "{model}")
    wildcard_constraints:
        model=r"sigma[0-9.]+(-seed[0-9]+)?|blurpool(-seed[0-9]+)?",
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        evaluation=cfg("evaluation"),
        sigmas=SIGMAS,
        image_size=config["dataset"]["image_size"],
        skip_corrupt=config["dataset"]["skip_corrupt"],
        # the HF cutoff of the stem diagnostic is the patches' (one HF definition)
        hf_cutoff=config["spectra"]["hf_cutoff"],
    script:
        "../workflow_scripts/evaluate.py"


rule accuracy_matrix:
    input:
        accuracy=expand(f"{RESULTS}/evaluation/{{model}}.tsv", model=ALL_TRAINED),
        stem=expand(f"{RESULTS}/evaluation/{{model}}_stem.tsv", model=ALL_TRAINED),
        metas=expand(f"{RESULTS}/models/{{model}}.json", model=ALL_TRAINED),
    output:
        table=report(
            f"{RESULTS}/evaluation/accuracy_matrix.tsv",
            caption="../report/accuracy_matrix.rst",
            category="1. Models and accuracy",
            labels={"file": "accuracy table"},
        ),
        figure=report(
            f"{RESULTS}/figures/accuracy_matrix.png",
            caption="../report/accuracy_matrix.rst",
            category="1. Models and accuracy",
            labels={"figure": "accuracy matrix"},
        ),
        training=f"{RESULTS}/evaluation/training.tsv",
        stem_summary=report(
            f"{RESULTS}/evaluation/stem_hf.tsv",
            caption="../report/stem_hf.rst",
            category="1. Models and accuracy",
            labels={"table": "stem kernel HF energy"},
        ),
        stem_figure=report(
            f"{RESULTS}/figures/stem_hf.png",
            caption="../report/stem_hf.rst",
            category="1. Models and accuracy",
            labels={"figure": "stem kernel HF energy"},
        ),
    log:
        rule_log("accuracy_matrix"),
    benchmark:
        rule_bench("accuracy_matrix")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        plots=cfg("plots"),
        # the stem diagnostic's CI over kernels
        stats={k: config["stats"][k] for k in ("bootstrap_iterations", "ci", "seed")},
        models=ALL_TRAINED,
        sigma_of={m: model_sigma(m) for m in ALL_TRAINED},
        group_of={m: model_group(m) for m in ALL_TRAINED},
    script:
        "../workflow_scripts/accuracy_matrix.py"


TARGETS["train"] = list(rules.accuracy_matrix.output)
