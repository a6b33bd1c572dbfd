# Stage "data": the dataset manifest and the shared image sets of the analyses.


rule prepare_dataset:
    input:
        dataset_inputs,
    output:
        **(
            {"images": directory(f"{RESULTS}/data/embedded")}
            if config["dataset"]["kind"] == "embedded"
            else {}
        ),
        manifest=f"{RESULTS}/data/manifest.tsv",
        classes=f"{RESULTS}/data/classes.json",
    log:
        rule_log("prepare_dataset"),
    benchmark:
        rule_bench("prepare_dataset")
    conda:
        "../envs/analysis.yaml"
    threads: 2  # embedded splits in two processes (train | val, test, cue_conflict); same bytes with 1
    resources:
        **RESOURCES["cpu"],
    params:
        # the keys that make the manifest: how images are later decoded (crop_ratio for the
        # evaluation/analysis sets, jpeg_draft for training) must not rerun the data stage
        dataset={
            k: v
            for k, v in config["dataset"].items()
            if k not in ("crop_ratio", "jpeg_draft")
        },
        images_dir=embedded_images_dir,
        # computed by the invocation that plans the run only (common.smk); never in a cluster job
        tree_state=dataset_state(),
    script:
        "../workflow_scripts/prepare_dataset.py"


rule analysis_images:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        f"{RESULTS}/data/analysis_images.npz",
    log:
        rule_log("analysis_images"),
    benchmark:
        rule_bench("analysis_images")
    priority: 90
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        # only the keys that pick the images: layers / own_blur must not rerun every analysis
        analysis={k: config["analysis"][k] for k in ("split", "n_images", "seed")},
        image_size=config["dataset"]["image_size"],
        crop_ratio=config["dataset"]["crop_ratio"],
    script:
        "../workflow_scripts/analysis_images.py"


rule cue_conflict_images:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        f"{RESULTS}/data/cue_conflict.npz",
    log:
        rule_log("cue_conflict_images"),
    benchmark:
        rule_bench("cue_conflict_images")
    priority: 90
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        image_size=config["dataset"]["image_size"],
    script:
        "../workflow_scripts/cue_conflict_images.py"


TARGETS["data"] = [rules.analysis_images.output[0]] + (
    [rules.cue_conflict_images.output[0]] if has_cue_conflict() else []
)
