"""Section "Reproducibility": code state, command line, package versions, runtimes, rule graph.

Inputs: ``git``, ``versions``, ``benchmarks``, ``rulegraph``
(``results/pipeline_info/``, written by rule ``pipeline_info`` with
:mod:`blurscope.provenance`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ...provenance import parse_keyvalue, per_rule_runtimes
from ..claims import fmt_num
from ..document import Bullets, Section, Table
from ..sources import Sources, read_table
from .common import Context, limited_table

# the packages listed in the report, in this order (all of them are in versions.tsv)
KEY_PACKAGES = [
    "python",
    "platform",
    "snakemake",
    "torch",
    "torchvision",
    "timm",
    "antialiased-cnns",
    "numpy",
    "scipy",
    "pandas",
    "pillow",
    "pywavelets",
    "matplotlib",
    "seaborn",
    "safetensors",
    "pyyaml",
    "cuda",
]


def section(src: Sources, ctx: Context) -> Section:
    """Reproducibility from ``results/pipeline_info``: git, command line, versions, runtimes."""
    sec = Section("reproducibility", "Reproducibility")
    git = parse_keyvalue(Path(src.path("git")).read_text()) if src.has("git") else {}
    items = []
    if git:
        items.append(
            f"Code: git commit `{git.get('commit', 'n/a')}`"
            + (f" (branch `{git['branch']}`)" if git.get("branch") else "")
            + (
                ", **with uncommitted changes**"
                if git.get("dirty") == "true"
                else (
                    ", no uncommitted changes"
                    if git.get("dirty") == "false"
                    else f", state: {git.get('dirty', 'unknown')}"
                )
            )
            + "."
        )
        if git.get("command_line"):
            items.append(f"Command line: `{git['command_line']}` (working directory `{git.get('workdir', 'n/a')}`).")
        if git.get("snakemake"):
            items.append(f"Snakemake {git['snakemake']}, Python {git.get('python', 'n/a')}, {git.get('platform', '')}.")
        if git.get("generated"):
            items.append(f"pipeline_info written {git['generated']}.")
    items.append(
        "Rerun: the same command line with `results/pipeline_info/config.yaml` as `--configfile` reproduces "
        "every table (every random choice takes its seed from the config)."
    )
    sec.add(Bullets(items))
    if src.has("versions"):
        v = read_table(src.path("versions"))
        key = KEY_PACKAGES
        v["_k"] = v["name"].str.lower()
        sel = v[v["_k"].isin(key)].copy()
        sel["_o"] = sel["_k"].map(key.index)
        sel = sel.sort_values("_o")[["name", "version"]]
        sec.add(
            Table(
                sel.reset_index(drop=True),
                f"Key package versions ({len(v)} packages in `{src.source('versions')}`).",
                src.source("versions"),
            )
        )
    if src.has("benchmarks"):
        b = read_table(src.path("benchmarks"))
        if len(b):
            per = per_rule_runtimes(b)
            total = float(b["s"].sum())
            sec.para(
                f"Runtimes: {len(b)} jobs, {fmt_num(total)} s of job wall-clock time in total (from the "
                "`benchmark:` files; wall-clock on a shared machine, not statistical estimates)."
            )
            df = per.assign(
                **{
                    "total (s)": per["total_s"].map(fmt_num),
                    "max (s)": per["max_s"].map(fmt_num),
                    "max RSS (MB)": per["max_rss_mb"].map(fmt_num),
                    "share": (per["total_s"] / total).map(lambda x: f"{100 * x:.1f} %"),
                }
            )[["rule", "jobs", "total (s)", "max (s)", "max RSS (MB)", "share"]]
            sec.add(
                limited_table(
                    df,
                    "Per-rule runtimes (sum and maximum over the rule's jobs).",
                    src.source("benchmarks"),
                    ctx.max_rows,
                )
            )
    if src.has("rulegraph"):
        dot = Path(src.path("rulegraph")).read_text()
        rules = sorted(set(re.findall(r'label\s*=\s*"([^"]+)"', dot)))
        if rules:
            sec.para(
                f"Rule graph: {len(rules)} rules ({', '.join(f'`{r}`' for r in rules)}); Graphviz source in "
                f"`{src.source('rulegraph')}`."
            )
    return sec
