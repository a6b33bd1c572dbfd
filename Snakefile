# blurscope: train one classifier per Gaussian blur sigma and analyse what changed inside it.
# Quick start: `make run` (see README.md). Config: config/config.yaml, schema: config/schema.yaml.


configfile: "config/config.yaml"


include: "rules/common.smk"


rule all:
    default_target: True
    input:
        all_targets,


include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/features.smk"
include: "rules/spectra.smk"
include: "rules/aliasing.smk"
include: "rules/bands.smk"
include: "rules/frequency.smk"
include: "rules/deployed.smk"
include: "rules/saliency.smk"
include: "rules/featvis.smk"
include: "rules/report.smk"
