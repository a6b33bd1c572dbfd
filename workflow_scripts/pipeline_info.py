"""Rule pipeline_info: resolved config, package versions, git state, rule graph, runtimes.

Outputs (results/pipeline_info/): ``config.yaml`` (the resolved config, from
params), ``versions.tsv`` (every package of the running environment),
``git.txt`` (commit, branch, dirty flag, and the invocation: command line,
working directory, Snakemake and Python versions), ``rulegraph.dot``
(``snakemake --rulegraph --nolock`` on the resolved config in a subprocess: no
workdir lock, nothing written below results/) and ``benchmarks.tsv`` (the
``benchmark:`` file of every job of the current DAG, one row per file) and
``models.tsv`` (where each model came from: trained here, or a checkpoint file named
with its SHA-256). The library functions are in ``blurscope.provenance``.
"""

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from blurscope import io, runlog
from blurscope.provenance import (
    aggregate_benchmarks,
    benchmark_paths_from_dryrun,
    git_state,
    model_origins,
    package_versions,
)

smk = snakemake  # noqa: F821
log = runlog.start(smk.log[0], smk.threads)
config = json.loads(json.dumps(smk.params.config))  # plain dicts/lists for YAML
results = smk.params.results

# set by rules/report.smk at parse time of the user's Snakemake (see there)
inv = json.loads(os.environ.get("BLURSCOPE_INVOCATION", "{}"))
repo = Path(smk.scriptdir).resolve().parent  # the workflow's code (workflow_scripts/..)
snakefile = inv.get("snakefile") or str(repo / "Snakefile")
workdir = inv.get("workdir") or os.getcwd()
log.info("invocation: %s", inv or "unknown (BLURSCOPE_INVOCATION not set)")


def nested(cfg_path: str, *calls: tuple[str, ...]) -> list[tuple[str, str]]:
    """Snakemake on the resolved config in the same working directory, without the lock: one
    process per call in ``calls``, all at once (the parse dominates; this is the pipeline's last
    job but one, so the other cores are idle). Returns each call's ``(stdout, stderr)``; a failing
    or timed-out call stops the others."""
    python = inv.get("python") or sys.executable
    base = [python, "-m", "snakemake", "-s", snakefile, "--configfile", cfg_path, "--directory", workdir, "--nolock"]
    if not Path(python).exists():
        exe = shutil.which("snakemake")
        if exe is None:
            raise RuntimeError(f"pipeline_info: no Snakemake to run (neither {python} nor 'snakemake' on PATH)")
        base = [exe, *base[3:]]
    procs = []
    for args in calls:
        log.info("running: %s", " ".join([*base, *args]))
        procs.append(subprocess.Popen([*base, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONUNBUFFERED": "1"}))
    outs = []
    try:
        for args, proc in zip(calls, procs):
            out, err = proc.communicate(timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"pipeline_info: nested snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                                   f"{(out + err)[-4000:]}")
            outs.append((out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return outs


# Nested calls first, before this job writes anything: the rule graph, and the jobs of the
# current DAG with their benchmark: paths (so files left by another config are not counted).
with tempfile.TemporaryDirectory(prefix="blurscope-pipeline-info-") as tmpdir:
    cfg_path = str(Path(tmpdir) / "config.yaml")
    Path(cfg_path).write_text(yaml.safe_dump(config, sort_keys=False))
    # --rerun-incomplete: this very job's outputs are marked incomplete while it runs (dry run: nothing is touched)
    (graph, _), (plan_out, plan_err) = nested(
        cfg_path, ("--rulegraph",), ("--dry-run", "--forceall", "--rerun-incomplete", "all")
    )
    if "digraph" not in graph:
        raise RuntimeError(f"pipeline_info: snakemake --rulegraph printed no graph:\n{graph[-2000:]}")
    dot = graph[graph.find("digraph") :]
    keep = [os.path.join(workdir, p) for p in benchmark_paths_from_dryrun(plan_out + plan_err)]
if not keep:
    raise RuntimeError("pipeline_info: the dry run listed no benchmark: files")

# 1. resolved config
with io.atomic_path(smk.output.config) as tmp:
    tmp.write_text(
        "# Resolved configuration of this run (config files + --config + schema defaults).\n"
        "# Rerun with: snakemake --configfile results/pipeline_info/config.yaml\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )

# 2. versions of the running environment
versions = package_versions()
try:
    import snakemake as _smk

    smk_version = str(getattr(_smk, "__version__", ""))
except ImportError:
    smk_version = ""
if smk_version and not (versions["name"].str.lower() == "snakemake").any():
    versions.loc[len(versions)] = {"name": "snakemake", "version": smk_version, "kind": "runtime"}
try:
    import torch

    versions.loc[len(versions)] = {
        "name": "cuda",
        "version": str(torch.version.cuda or "none (CPU build)"),
        "kind": "runtime",
    }
    versions.loc[len(versions)] = {
        "name": "cuda-available",
        "version": str(torch.cuda.is_available()),
        "kind": "runtime",
    }
except ImportError:
    pass
io.write_tsv(versions, smk.output.versions)
log.info("%d packages", int((versions["kind"] == "package").sum()))

# 3. git state + invocation
git = git_state(repo)
git.update(
    {
        "command_line": inv.get("command_line", "unknown"),
        "workdir": workdir,
        "snakefile": snakefile,
        "snakemake": smk_version
        or next(iter(versions.loc[versions["name"].str.lower() == "snakemake", "version"]), ""),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }
)
with io.atomic_path(smk.output.git) as tmp:
    tmp.write_text("".join(f"{k}: {v}\n" for k, v in git.items()))
log.info("git: %s", git)

# 4. where every model came from
origins = model_origins([io.read_json(path) for path in smk.input.metas])
io.write_tsv(origins, smk.output.models)
for r in origins[origins["origin"] == "checkpoint"].itertuples():
    log.info("%s: trained elsewhere, checkpoint %s (sha256 %s)", r.model, r.checkpoint, r.sha256)

# 5. rule graph
with io.atomic_path(smk.output.rulegraph) as tmp:
    tmp.write_text(dot)

# 6. benchmark files of the jobs of this DAG (this job's and the report's own are written after it)
bench = aggregate_benchmarks(Path(results) / "benchmarks", keep=keep, exclude_rules=("pipeline_info", "report"))
io.write_tsv(bench, smk.output.benchmarks)
log.info(
    "benchmarks: %d of the DAG's %d benchmark files found, %d rules",
    len(bench),
    len(keep),
    bench["rule"].nunique() if len(bench) else 0,
)
