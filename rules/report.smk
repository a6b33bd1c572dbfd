# Stage "report": pipeline_info (resolved config, package versions, git commit, rule
# graph, aggregated benchmark timings) and the report of every analysis
# (results/report/report.html + report.md). Both run last: pipeline_info's inputs are the
# final targets of every other stage, and the report reads pipeline_info's outputs.
# Outputs: results/README.md.

import json
import os
import shlex
import sys
from pathlib import Path

# The invocation, for the reproducibility section. Kept in the environment, NOT in
# params: a different --cores or target must not rerun anything. Jobs (local and
# cluster: sbatch exports the environment) inherit the first Snakemake's value;
# nothing is written at parse time.
os.environ.setdefault(
    "BLURSCOPE_INVOCATION",
    json.dumps(
        {
            "argv": [os.path.basename(sys.argv[0])] + sys.argv[1:],
            "command_line": shlex.join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
            "python": sys.executable,
            "snakefile": workflow.main_snakefile,
            "workdir": os.getcwd(),
        }
    ),
)


# Snakemake's own report (snakemake --report report.zip): the workflow description;
# every figure/table output of the stages is wrapped in report() with a caption in report/.
report: "../report/workflow.rst"


rule pipeline_info:
    input:
        # not read (except the benchmark folder): they make this job run after all others
        report_stage_targets,
        # read: where every model came from (trained here, or a checkpoint with its hash)
        metas=expand(f"{RESULTS}/models/{{model}}.json", model=ALL_TRAINED),
    output:
        config=f"{RESULTS}/pipeline_info/config.yaml",
        models=f"{RESULTS}/pipeline_info/models.tsv",
        versions=report(
            f"{RESULTS}/pipeline_info/versions.tsv",
            caption="../report/pipeline_versions.rst",
            category="Reproducibility",
            labels={"file": "package versions"},
        ),
        git=f"{RESULTS}/pipeline_info/git.txt",
        rulegraph=f"{RESULTS}/pipeline_info/rulegraph.dot",
        benchmarks=report(
            f"{RESULTS}/pipeline_info/benchmarks.tsv",
            caption="../report/pipeline_benchmarks.rst",
            category="Reproducibility",
            labels={"file": "job runtimes"},
        ),
    log:
        rule_log("pipeline_info"),
    benchmark:
        rule_bench("pipeline_info")
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        **RESOURCES["cpu"],
    params:
        # the resolved config (defaults filled in by the schema): any config change
        # reruns this job and, through config.yaml, the report
        config=config,
        results=results_folder,
    script:
        "../workflow_scripts/pipeline_info.py"


# The run-level design (docs/statistics.md): every claim about training sigma, tested over
# training runs, in one table that the report's summary, findings table and sections quote.
rule findings:
    input:
        patch_trends=f"{RESULTS}/stats/patch_trends.tsv",
        patch_effects=f"{RESULTS}/stats/patch_effects.tsv",
        featvis_trends=f"{RESULTS}/featvis/trends.tsv",
        featvis_effects=f"{RESULTS}/featvis/effects.tsv",
        aliasing_trend=f"{RESULTS}/aliasing/stats/sigma_trend.tsv",
        aliasing_runs=f"{RESULTS}/aliasing/stats/runs.tsv",
        frequency_trends=f"{RESULTS}/frequency/trends.tsv",
        frequency_summary=f"{RESULTS}/frequency/summary.tsv",
        band_trend=f"{RESULTS}/bands/band_trend.tsv",
        # per model (evaluate), not accuracy_matrix's summary: a plot option must not rerun this table
        stem=expand(f"{RESULTS}/evaluation/{{model}}_stem.tsv", model=ALL_TRAINED),
    output:
        table=report(
            f"{RESULTS}/stats/findings.tsv",
            caption="../report/patch_stats.rst",
            category="4. Statistics",
            labels={"table": "findings (run-level tests)"},
        ),
    log:
        rule_log("findings"),
    benchmark:
        rule_bench("findings")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS["cpu"]
    resources:
        **RESOURCES["cpu"],
    params:
        sigma_of={m: model_sigma(m) for m in ALL_TRAINED + REF_MODELS},
        group_of={m: model_group(m) for m in ALL_TRAINED + REF_MODELS},
        series=SIGMA_MODELS,
        references={model_group(m): model_id(model_sigma(m)) for m in REF_MODELS},
        blurpool=[BLURPOOL],
        alpha=config["report"]["alpha"],
        ci=config["stats"]["ci"],
    script:
        "../workflow_scripts/findings.py"


# The report's named inputs: every table and figure it reads, by name (blurscope.report's
# sections address them by these names; a per-layer output is "<name>/<layer>", and a figure's
# name is also the name of its caption, report/<name>.rst). The paths are the stages' outputs.
REPORT_FIGURES_PER_LAYER = [
    "all_neurons_grid",
    "representative_neurons_grid",
    "patch_methods",
    "featvis_grid",
    "featvis_spectra",
    "models_relative_to_baseline",
    "models_complexity_comparison",
]
REPORT_FIGURES = [
    "accuracy_matrix",
    "stem_hf",
    "aliasing_layers",
    "aliasing_sis_sigma",
    "aliasing_avr_sis",
    "aliasing_sweep",
    "bands_accuracy",
    "bands_gt_rank",
    "bands_shift",
    "frequency_preference",
    *(["frequency_shape_bias"] if has_cue_conflict() else []),
    "frequency_corruption_vs_frev",
    "frequency_corruption_heatmap",
    "saliency_overlays",
    "saliency_distances",
    "saliency_activations",
]
REPORT_INPUTS = {
    # every claim about training sigma, tested over training runs (the summary and findings table)
    "findings": rules.findings.output.table,
    "patch_runs": f"{RESULTS}/stats/patch_runs.tsv",
    "featvis_runs": f"{RESULTS}/featvis/runs.tsv",
    # models and accuracy
    "accuracy_table": f"{RESULTS}/evaluation/accuracy_matrix.tsv",
    "training": f"{RESULTS}/evaluation/training.tsv",
    "stem_table": f"{RESULTS}/evaluation/stem_hf.tsv",
    "models": expand(f"{RESULTS}/models/{{model}}.json", model=ALL_TRAINED),
    # features
    **{
        f"representative/{layer}": f"{RESULTS}/patches/representative_{layer}.tsv"
        for layer in LAYERS
    },
    # feature visualisation by optimisation
    "featvis_summary": f"{RESULTS}/featvis/summary.tsv",
    "featvis_trends": f"{RESULTS}/featvis/trends.tsv",
    "featvis_effects": f"{RESULTS}/featvis/effects.tsv",
    # spectra, complexity, statistics
    "patch_summary": f"{RESULTS}/stats/patch_summary.tsv",
    "patch_spectra": f"{RESULTS}/stats/patch_spectra.tsv",
    "patch_trends": f"{RESULTS}/stats/patch_trends.tsv",
    "patch_effects": f"{RESULTS}/stats/patch_effects.tsv",
    "complexity_table": f"{RESULTS}/stats/complexity_table.tsv",
    # aliasing
    "aliasing_summary": f"{RESULTS}/aliasing/stats/summary.tsv",
    "aliasing_paired": f"{RESULTS}/aliasing/stats/paired.tsv",
    "aliasing_correlation": f"{RESULTS}/aliasing/stats/correlation.tsv",
    "aliasing_sigma_trend": f"{RESULTS}/aliasing/stats/sigma_trend.tsv",
    "aliasing_timing": f"{RESULTS}/aliasing/timing.tsv",
    # bands
    "band_summary": f"{RESULTS}/bands/band_summary.tsv",
    "band_trend": f"{RESULTS}/bands/band_trend.tsv",
    "band_shift": f"{RESULTS}/bands/band_shift.tsv",
    # frequency
    "frequency_summary": f"{RESULTS}/frequency/summary.tsv",
    "frequency_trends": f"{RESULTS}/frequency/trends.tsv",
    "frequency_reference": f"{RESULTS}/frequency/reference.tsv",
    # saliency
    "saliency_stats": f"{RESULTS}/saliency/stats.tsv",
    # figures
    **{name: f"{RESULTS}/figures/{name}.png" for name in REPORT_FIGURES},
    **{
        f"{name}/{layer}": f"{RESULTS}/figures/{name}_{layer}.png"
        for name in REPORT_FIGURES_PER_LAYER
        for layer in LAYERS
    },
}
# the figure captions, shared with Snakemake's own report (a caption edit reruns the report);
# relative to the working directory, so that a copied or moved run stays up to date
REPORT_CAPTIONS = sorted(
    os.path.relpath(p) for p in Path(workflow.basedir, "report").glob("*.rst")
)


rule report:
    input:
        **REPORT_INPUTS,
        captions=REPORT_CAPTIONS,
        config=rules.pipeline_info.output.config,
        versions=rules.pipeline_info.output.versions,
        git=rules.pipeline_info.output.git,
        rulegraph=rules.pipeline_info.output.rulegraph,
        benchmarks=rules.pipeline_info.output.benchmarks,
    output:
        html=report(
            f"{RESULTS}/report/report.html",
            caption="../report/report_html.rst",
            category="Report",
            labels={"file": "report.html"},
        ),
        md=f"{RESULTS}/report/report.md",
        sources=f"{RESULTS}/report/sources.tsv",
    log:
        rule_log("report"),
    benchmark:
        rule_bench("report")
    conda:
        "../envs/plot.yaml"
    threads: THREADS["plot"]
    resources:
        **RESOURCES["plot"],
    params:
        cfg=cfg("report"),
        sources=sources_table,
    script:
        "../workflow_scripts/report.py"


TARGETS["report"] = [*rules.report.output, *rules.pipeline_info.output]
