# Stage "report": pipeline_info (resolved config, package versions, git commit, rule
# graph, aggregated benchmark timings) and the report of every analysis
# (results/report/report.html + report.md). Both run last: their inputs are the
# final targets of every other stage. Outputs: results/README.md.

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


# the final targets of every other stage (evaluated when the DAG is built, after all .smk files)
report_stage_targets = lambda wildcards: [
    t for stage, targets in TARGETS.items() if stage != "report" for t in targets
]


rule pipeline_info:
    input:
        # not read (except the benchmark folder): they make this job run after all others
        report_stage_targets,
    output:
        config=f"{RESULTS}/pipeline_info/config.yaml",
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
        results=lambda wc, output: str(Path(output[0]).parents[1]),
    script:
        "../workflow_scripts/pipeline_info.py"


rule report:
    input:
        targets=report_stage_targets,
        models=expand(f"{RESULTS}/models/{{model}}.json", model=ALL_TRAINED),
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
        results=lambda wc, output: str(Path(output[0]).parents[1]),
    script:
        "../workflow_scripts/report.py"


TARGETS["report"] = [*rules.report.output, *rules.pipeline_info.output]
