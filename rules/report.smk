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
            category=report_category("reproducibility"),
            labels={"file": "package versions"},
        ),
        git=f"{RESULTS}/pipeline_info/git.txt",
        rulegraph=f"{RESULTS}/pipeline_info/rulegraph.dot",
        benchmarks=report(
            f"{RESULTS}/pipeline_info/benchmarks.tsv",
            caption="../report/pipeline_benchmarks.rst",
            category=report_category("reproducibility"),
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
        patch_trends=rules.patch_stats.output.trends,
        patch_effects=rules.patch_stats.output.effects,
        featvis_trends=rules.featvis_stats.output.trends,
        featvis_effects=rules.featvis_stats.output.effects,
        aliasing_trend=rules.aliasing_stats.output.sigma_trend,
        aliasing_runs=rules.aliasing_stats.output.runs,
        frequency_trends=rules.frequency_summary.output.trends,
        frequency_summary=rules.frequency_summary.output.summary,
        band_trend=rules.band_summary.output.trend,
        # per model (evaluate), not accuracy_matrix's summary: a plot option must not rerun this table
        stem=expand(rules.evaluate.output.stem, model=ALL_TRAINED),
    output:
        table=report(
            f"{RESULTS}/stats/findings.tsv",
            caption="../report/patch_stats.rst",
            category=report_category("statistics"),
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


# the figure captions, shared with Snakemake's own report (a caption edit reruns the report);
# relative to the working directory, so that a copied or moved run stays up to date
REPORT_CAPTIONS = sorted(
    os.path.relpath(p) for p in Path(workflow.basedir, "report").glob("*.rst")
)


# The report reads every table and figure by name (blurscope.report's sections address them by
# these names): the stages' outputs that each stage file adds to REPORT_INPUTS (common.smk),
# the findings, the captions and pipeline_info's outputs.
rule report:
    input:
        **REPORT_INPUTS,
        findings=rules.findings.output.table,
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
            category=report_category("report"),
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
