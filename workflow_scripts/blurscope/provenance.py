"""Provenance of a run: package versions, git state, aggregated ``benchmark:`` timings, and
where each model came from (:func:`model_origins`: trained here, or a checkpoint with its SHA-256).

The library behind rule ``pipeline_info`` (``workflow_scripts/pipeline_info.py``),
which writes ``results/pipeline_info/``; the report's reproducibility section
reads those files back (:func:`parse_keyvalue` for ``git.txt``). Pure functions
apart from reading the environment, the git repository and the benchmark folder.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# Snakemake's benchmark: columns (seconds, MB, MB, MB, MB, MB read, MB written, %, seconds)
BENCHMARK_COLUMNS = [
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
]


def parse_keyvalue(text: str) -> dict[str, str]:
    """``key: value`` lines (``git.txt``) into a dict; ``#`` lines and lines without ``:`` are skipped.

    >>> parse_keyvalue("commit: abc\\n# note\\ncommand_line: snakemake --cores 2")
    {'commit': 'abc', 'command_line': 'snakemake --cores 2'}
    """
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def package_versions() -> pd.DataFrame:
    """``name version kind`` of the running interpreter: runtime rows, then every installed distribution."""
    rows = [
        {"name": "python", "version": platform.python_version(), "kind": "runtime"},
        {"name": "platform", "version": platform.platform(), "kind": "runtime"},
        {"name": "python-executable", "version": sys.executable, "kind": "runtime"},
    ]
    seen = set()
    dists = []
    for d in importlib.metadata.distributions():
        name = d.metadata["Name"]
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        dists.append({"name": name, "version": d.version, "kind": "package"})
    rows += sorted(dists, key=lambda r: r["name"].lower())
    return pd.DataFrame(rows, columns=["name", "version", "kind"])


def git_state(repo: str | os.PathLike) -> dict[str, str]:
    """Commit, branch and dirty flag of ``repo`` (read-only git calls, no optional locks).

    Not a git repository, or git missing → ``commit: unknown`` and the reason.
    """

    def run(*args: str) -> str:
        """stdout of ``git <args>`` in ``repo``; raises on failure."""
        return subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()

    try:
        top = run("rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError) as exc:
        reason = "git not installed" if isinstance(exc, FileNotFoundError) else "not a git repository"
        return {"commit": "unknown", "dirty": "unknown", "reason": f"{reason} ({repo})"}
    out = {"repository": top}
    try:
        out["commit"] = run("rev-parse", "HEAD")
    except subprocess.SubprocessError:
        out["commit"] = "none (no commits yet)"
    try:
        out["branch"] = run("rev-parse", "--abbrev-ref", "HEAD")
    except subprocess.SubprocessError:
        out["branch"] = ""
    try:
        status = run("status", "--porcelain", "--untracked-files=normal")
        lines = [ln for ln in status.splitlines() if ln.strip()]
        out["dirty"] = "true" if lines else "false"
        out["modified_files"] = str(sum(1 for ln in lines if not ln.startswith("??")))
        out["untracked_files"] = str(sum(1 for ln in lines if ln.startswith("??")))
    except subprocess.SubprocessError:
        out["dirty"] = "unknown"
    return out


def aggregate_benchmarks(
    bench_dir: str | os.PathLike, keep: Iterable[str] | None = None, exclude_rules: Iterable[str] = ()
) -> pd.DataFrame:
    """One row per ``benchmark:`` file below ``bench_dir`` (``<rule>/<wildcards>.tsv``).

    Columns: ``rule wildcards file repeat`` then Snakemake's benchmark columns.
    ``keep``: only these files (paths relative to ``bench_dir``'s parent or
    absolute), e.g. the benchmark files of the jobs of the current DAG, so
    files left over from another configuration are not counted.
    ``exclude_rules``: rules left out (``pipeline_info`` and ``report`` run after
    the aggregation: their files, if any, are those of an earlier run).
    """
    bench_dir = Path(bench_dir)
    keep_set = None if keep is None else {os.path.normpath(os.path.abspath(k)) for k in keep}
    exclude = set(exclude_rules)
    frames = []
    for f in sorted(bench_dir.rglob("*.tsv")):
        if keep_set is not None and os.path.normpath(os.path.abspath(f)) not in keep_set:
            continue
        rel = f.relative_to(bench_dir)
        if rel.parts[0] in exclude:
            continue
        try:
            df = pd.read_csv(f, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if df.empty or "s" not in df.columns:
            continue
        df.insert(0, "repeat", range(len(df)))
        df.insert(0, "file", str(Path(bench_dir.name) / rel))
        df.insert(0, "wildcards", str(rel.with_suffix("")).split(os.sep, 1)[1] if len(rel.parts) > 1 else "")
        df.insert(0, "rule", rel.parts[0] if len(rel.parts) > 1 else rel.stem)
        frames.append(df)
    cols = ["rule", "wildcards", "file", "repeat", *BENCHMARK_COLUMNS]
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in cols if c in out.columns] + [c for c in out.columns if c not in cols]]


def per_rule_runtimes(bench: pd.DataFrame) -> pd.DataFrame:
    """``rule jobs total_s max_s max_rss_mb`` (seconds, MB) from :func:`aggregate_benchmarks`' table,
    longest total first."""
    b = bench.copy()
    b["s"] = pd.to_numeric(b["s"], errors="coerce")
    rss = pd.to_numeric(b["max_rss"], errors="coerce") if "max_rss" in b else pd.Series(np.nan, index=b.index)
    b["_rss"] = rss
    out = b.groupby("rule").agg(
        jobs=("s", "size"), total_s=("s", "sum"), max_s=("s", "max"), max_rss_mb=("_rss", "max")
    )
    return out.sort_values("total_s", ascending=False).reset_index()


def benchmark_paths_from_dryrun(text: str) -> list[str]:
    """``benchmark: <path>`` lines of a Snakemake dry run (the jobs of the current DAG), in order."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*benchmark:\s*(\S+)\s*$", text, flags=re.M)]


def model_origins(metas: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Where every model came from: one row per model meta (``models/<id>.json``).

    Returns:
        Columns ``model, origin`` (``trained`` here or ``checkpoint``: trained elsewhere),
        ``arch, antialiased, sigma, role, seed, epochs``, and for checkpoints ``checkpoint``
        (absolute path), ``sha256``, ``size_bytes``, ``format``; empty where not applicable.
    """
    rows = []
    for meta in metas:
        ck = meta.get("checkpoint") or {}
        rows.append({
            "model": meta.get("model_id"), "origin": meta.get("origin", "trained"), "arch": meta.get("arch"),
            "antialiased": bool(meta.get("antialiased", False)), "sigma": meta.get("sigma"),
            "role": meta.get("role"), "seed": meta.get("seed"), "epochs": (meta.get("settings") or {}).get("epochs"),
            "checkpoint": ck.get("path"), "sha256": ck.get("sha256"), "size_bytes": ck.get("size"),
            "format": ck.get("format"),
        })
    return pd.DataFrame(rows, columns=["model", "origin", "arch", "antialiased", "sigma", "role", "seed", "epochs",
                                       "checkpoint", "sha256", "size_bytes", "format"])
