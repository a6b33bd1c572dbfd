# Stage "data": the dataset manifest and the shared image sets of the analyses.


def dataset_inputs(wildcards=None):
    """The raw data a manifest depends on (imagefolder: the root, so touching an image reruns)."""
    ds = config["dataset"]
    if ds["kind"] == "imagefolder":
        roots = [ds["root"]]
        if ds.get("cue_conflict_root"):
            roots.append(ds["cue_conflict_root"])
        return roots
    return []


rule prepare_dataset:
    input:
        dataset_inputs,
    output:
        manifest=f"{RESULTS}/data/manifest.tsv",
        classes=f"{RESULTS}/data/classes.json",
        # the embedded generator's images (imagefolder data stays where it is)
        **(
            {"images": directory(f"{RESULTS}/data/embedded")}
            if config["dataset"]["kind"] == "embedded"
            else {}
        ),
    params:
        dataset=cfg("dataset"),
        images_dir=f"{RESULTS}/data/embedded",
    log:
        rule_log("prepare_dataset"),
    benchmark:
        rule_bench("prepare_dataset")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    script:
        "../workflow_scripts/prepare_dataset.py"


rule analysis_images:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        f"{RESULTS}/data/analysis_images.npz",
    params:
        analysis=cfg("analysis"),
        image_size=config["dataset"]["image_size"],
    log:
        rule_log("analysis_images"),
    benchmark:
        rule_bench("analysis_images")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    script:
        "../workflow_scripts/analysis_images.py"


def has_cue_conflict():
    ds = config["dataset"]
    return ds["kind"] == "embedded" and ds["embedded"]["n_cue_conflict"] > 0 or bool(
        ds.get("cue_conflict_root")
    )


rule cue_conflict_images:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
    output:
        f"{RESULTS}/data/cue_conflict.npz",
    params:
        image_size=config["dataset"]["image_size"],
    log:
        rule_log("cue_conflict_images"),
    benchmark:
        rule_bench("cue_conflict_images")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    script:
        "../workflow_scripts/cue_conflict_images.py"


TARGETS["data"] = [rules.analysis_images.output[0]] + (
    [rules.cue_conflict_images.output[0]] if has_cue_conflict() else []
)
