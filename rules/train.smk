# Stage "train": baseline (sigma 0), one blur model per sigma (from scratch by default),
# the BlurPool model, training replicates; evaluation and the stem diagnostic.


wildcard_constraints:
    rep=SEED_SUFFIX_WILDCARD,
    blursigma=POSITIVE_SIGMA_WILDCARD,
    model=MODEL_WILDCARD,


# Training params are the rerun trigger: only what changes the weights (blurscope.training.config).
# Loader workers, val_every, device, keep_checkpoint travel as resources train_* (rerun nothing).
# (their cross-key checks run with every other config check: blurscope.config.validate)
from blurscope.training.config import (
    model_params,
    runtime_resources,
    training_params,
)

TRAIN_PARAMS = {
    role: dict(
        training=training_params(config["training"], role),
        model=model_params(config["model"], role),
        image_size=config["dataset"]["image_size"],
        skip_corrupt=config["dataset"]["skip_corrupt"],
        # what the images look like: evaluation-style resize/crop, JPEG draft decoding of streamed crops
        crop_ratio=config["dataset"]["crop_ratio"],
        jpeg_draft=config["dataset"]["jpeg_draft"],
        checkpoints=f"{RESULTS}/checkpoints",  # <model>.pt: resumable state, removed once the model is saved
    )
    for role in ("baseline", "scratch", "finetune", "blurpool")
}


_res = config["resources"]
RESOURCES["train"] = {
    "mem_mb": _res["train_mem_mb"],
    "runtime": _res["train_runtime"],
    "gpu": _res["train_gpus"],  # 0 or training.world_size (one GPU per process)
    **runtime_resources(config["training"]),
}
# training.threads per process (the weights depend on it), training.world_size processes
THREADS["train"] = config["training"]["threads"] * config["training"]["world_size"]

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
        **RESOURCES["train"],
    params:
        **TRAIN_PARAMS["baseline"],
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
        **RESOURCES["train"],
    params:
        **TRAIN_PARAMS[TRAIN_BLUR_ROLE],
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
        **RESOURCES["train"],
    params:
        **TRAIN_PARAMS["blurpool"],
        role="blurpool",
        sigma=0.0,
    script:
        "../workflow_scripts/train_model.py"


# Models trained elsewhere (model.checkpoints) are imported instead of trained: for their ids
# import_checkpoint, not a training rule, makes models/<id>.safetensors (its wildcard matches
# exactly those ids; ruleorder settles the overlap with the training rules' patterns).
ruleorder: import_checkpoint > train_baseline
ruleorder: import_checkpoint > train_blur
ruleorder: import_checkpoint > train_blurpool


rule import_checkpoint:
    input:
        classes=rules.prepare_dataset.output.classes,
    output:
        weights=f"{RESULTS}/models/{{model}}.safetensors",
        meta=f"{RESULTS}/models/{{model}}.json",
    log:
        rule_log("import_checkpoint", "{model}"),
    benchmark:
        rule_bench("import_checkpoint", "{model}")
    wildcard_constraints:
        model=checkpoint_wildcard(),
    priority: 100
    conda:
        "../envs/torch.yaml"
    # a CPU job: reading a file and writing it again needs no GPU
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        path=checkpoint_file,
        sha256=checkpoint_fingerprint,
        model={k: config["model"][k] for k in ("arch", "widths")},
        sigma=wildcard_sigma,
        antialiased=is_blurpool,
        image_size=config["dataset"]["image_size"],
    script:
        "../workflow_scripts/import_checkpoint.py"


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
        model=TRAINED_WILDCARD,
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        evaluation=cfg("evaluation"),
        sigmas=SIGMAS,
        image_size=config["dataset"]["image_size"],
        crop_ratio=config["dataset"]["crop_ratio"],
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
            category=report_category("models"),
            labels={"file": "accuracy table"},
        ),
        figure=report(
            f"{RESULTS}/figures/accuracy_matrix.png",
            caption="../report/accuracy_matrix.rst",
            category=report_category("models"),
            labels={"figure": "accuracy matrix"},
        ),
        training=f"{RESULTS}/evaluation/training.tsv",
        stem_summary=report(
            f"{RESULTS}/evaluation/stem_hf.tsv",
            caption="../report/stem_hf.rst",
            category=report_category("models"),
            labels={"table": "stem kernel HF energy"},
        ),
        stem_figure=report(
            f"{RESULTS}/figures/stem_hf.png",
            caption="../report/stem_hf.rst",
            category=report_category("models"),
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
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    accuracy_table=rules.accuracy_matrix.output.table,
    accuracy_matrix=rules.accuracy_matrix.output.figure,
    training=rules.accuracy_matrix.output.training,
    stem_table=rules.accuracy_matrix.output.stem_summary,
    stem_hf=rules.accuracy_matrix.output.stem_figure,
    models=rules.accuracy_matrix.input.metas,
)
