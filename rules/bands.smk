# Stage "bands": band isolation inside feature maps (the band-isolation study), see docs/bands.md.
# For each model and layer: FFT of the layer output, keep one radial band, iFFT,
# continue the forward pass; accuracy and mean GT rank per band with the model's
# own head and with an MLP head trained on the frozen layer features.

BANDS = config["bands"]
BAND_LAYERS = list(BANDS["layers"]) if BANDS["layers"] else LAYERS

# edges, names, map sizes and reference_model are checked by blurscope.config.check_config

# config subsets: the intervention reruns on what changes its numbers, not on figure keys
BAND_RUN_CFG = {
    k: BANDS[k]
    for k in (
        "names",
        "edges",
        "n_images",
        "batch_size",
        "strategy",
        "layout",
        "prefix_tokens",
        "control_tolerance",
        "bootstrap",
        "seed",
        "device",
        "mlp",
    )
}
BAND_PROBE_CFG = {
    "seed": BANDS["seed"],
    "mlp": {k: BANDS["mlp"][k] for k in ("split", "n_train")},
}
BAND_SUMMARY_CFG = {k: BANDS[k] for k in ("reference_model", "bootstrap", "seed")}


# the MLP head's training images, only when the MLP head is enabled
BAND_PROBE_INPUT = (
    {"probe_images": f"{RESULTS}/bands/probe_images.npz"}
    if BANDS["mlp"]["enabled"]
    else {}
)


rule band_probe_images:
    input:
        manifest=rules.prepare_dataset.output.manifest,
        classes=rules.prepare_dataset.output.classes,
        analysis=rules.analysis_images.output[0],
    output:
        f"{RESULTS}/bands/probe_images.npz",
    log:
        rule_log("band_probe_images"),
    benchmark:
        rule_bench("band_probe_images")
    priority: 90
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=BAND_PROBE_CFG,
        image_size=config["dataset"]["image_size"],
        crop_ratio=config["dataset"]["crop_ratio"],
    script:
        "../workflow_scripts/band_probe_images.py"


# the first bands.runs training runs of each condition (an exploratory stage; docs/bands.md)
BAND_MODELS = _IDS.band_models


rule band_intervention:
    input:
        unpack(model_inputs),
        **BAND_PROBE_INPUT,
        images=rules.analysis_images.output[0],
    output:
        tsv=expand(f"{RESULTS}/bands/{{{{model}}}}/{{layer}}.tsv", layer=BAND_LAYERS),
        npz=expand(f"{RESULTS}/bands/{{{{model}}}}/{{layer}}.npz", layer=BAND_LAYERS),
        info=expand(f"{RESULTS}/bands/{{{{model}}}}/{{layer}}.json", layer=BAND_LAYERS),
    log:
        rule_log("band_intervention", "{model}"),
    benchmark:
        rule_bench("band_intervention", "{model}")
    wildcard_constraints:
        model=MODEL_WILDCARD,
    conda:
        "../envs/torch.yaml"
    threads: THREADS["torch"]
    resources:
        **RESOURCES["torch"],
    params:
        cfg=BAND_RUN_CFG,
        layers=BAND_LAYERS,
        own_blur=config["analysis"]["own_blur"],
        # the MLP heads are trained: their weights depend on the thread count
        train_threads=config["training"]["threads"],
    script:
        "../workflow_scripts/band_intervention.py"


BAND_PAIRS = [[m, l] for m in BAND_MODELS for l in BAND_LAYERS]


rule band_summary:
    input:
        tsv=[f"{RESULTS}/bands/{m}/{l}.tsv" for m, l in BAND_PAIRS],
        npz=[f"{RESULTS}/bands/{m}/{l}.npz" for m, l in BAND_PAIRS],
        info=[f"{RESULTS}/bands/{m}/{l}.json" for m, l in BAND_PAIRS],
    output:
        summary=report(
            f"{RESULTS}/bands/band_summary.tsv",
            caption="../report/bands_tables.rst",
            category=report_category("bands"),
            labels={"table": "band summary"},
        ),
        shift=f"{RESULTS}/bands/band_shift.tsv",
        trend=report(
            f"{RESULTS}/bands/band_trend.tsv",
            caption="../report/bands_tables.rst",
            category=report_category("bands"),
            labels={"table": "centroid trends"},
        ),
    log:
        rule_log("band_summary"),
    benchmark:
        rule_bench("band_summary")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        cfg=BAND_SUMMARY_CFG,
        pairs=BAND_PAIRS,
        sigma_of={m: model_sigma(m) for m in BAND_MODELS},
        group_of={m: model_group(m) for m in BAND_MODELS},
    script:
        "../workflow_scripts/band_summary.py"


rule band_figures:
    input:
        summary=rules.band_summary.output.summary,
        shift=rules.band_summary.output.shift,
    output:
        accuracy=report(
            f"{RESULTS}/figures/bands_accuracy.png",
            caption="../report/bands_accuracy.rst",
            category=report_category("bands"),
            labels={"figure": "accuracy per band"},
        ),
        gt_rank=report(
            f"{RESULTS}/figures/bands_gt_rank.png",
            caption="../report/bands_gt_rank.rst",
            category=report_category("bands"),
            labels={"figure": "GT rank per band"},
        ),
        shift=report(
            f"{RESULTS}/figures/bands_shift.png",
            caption="../report/bands_shift.rst",
            category=report_category("bands"),
            labels={"figure": "band centroid vs sigma"},
        ),
    log:
        rule_log("band_figures"),
    benchmark:
        rule_bench("band_figures")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        cfg={
            "names": BANDS["names"],
            "reference_model": BANDS["reference_model"],
        },
        plots=cfg("plots"),
        layers=BAND_LAYERS,
    script:
        "../workflow_scripts/band_figures.py"


TARGETS["bands"] = [
    rules.band_summary.output.summary,
    rules.band_summary.output.shift,
    rules.band_summary.output.trend,
    rules.band_figures.output.accuracy,
    rules.band_figures.output.gt_rank,
    rules.band_figures.output.shift,
]
# the report's named inputs from this stage (REPORT_INPUTS, common.smk)
REPORT_INPUTS.update(
    band_summary=rules.band_summary.output.summary,
    band_trend=rules.band_summary.output.trend,
    band_shift=rules.band_summary.output.shift,
    bands_accuracy=rules.band_figures.output.accuracy,
    bands_gt_rank=rules.band_figures.output.gt_rank,
    bands_shift=rules.band_figures.output.shift,
)
