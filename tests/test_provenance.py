"""blurscope.provenance: what rule pipeline_info records (benchmarks, git state, versions)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blurscope import provenance as P


def test_parse_keyvalue() -> None:
    text = "commit: abc123\n# a comment: skipped\ncommand_line: snakemake --cores 2 --config a=b:c\nno colon\n"
    assert P.parse_keyvalue(text) == {"commit": "abc123", "command_line": "snakemake --cores 2 --config a=b:c"}


def test_aggregate_benchmarks_keeps_only_listed_jobs(tmp_path: Path) -> None:
    bench = tmp_path / "results" / "benchmarks"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rel, s in (
        ("evaluate/sigma0.tsv", 26.2),
        ("band_intervention/sigma0/layer2.0.tsv", 30.1),
        ("stale_rule/all.tsv", 99.0),
    ):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text(header + f"{s}\t0:00:26\t723.3\t3506\t410\t458\t0\t0.03\t10.9\t2.97\n")
    dry = (
        "rule evaluate:\n    benchmark: results/benchmarks/evaluate/sigma0.tsv\n"
        "rule band_intervention:\n    benchmark: results/benchmarks/band_intervention/sigma0/layer2.0.tsv\n"
    )
    keep = [str(tmp_path / p) for p in P.benchmark_paths_from_dryrun(dry)]
    assert len(keep) == 2
    df = P.aggregate_benchmarks(bench, keep=keep)
    assert sorted(df["rule"]) == ["band_intervention", "evaluate"]
    assert df.set_index("rule").loc["band_intervention", "wildcards"] == "sigma0/layer2.0"
    assert df["s"].sum() == pytest.approx(56.3)
    per = P.per_rule_runtimes(df)
    assert per.iloc[0]["rule"] == "band_intervention" and per.iloc[0]["jobs"] == 1
    assert len(P.aggregate_benchmarks(bench)) == 3
    assert set(P.aggregate_benchmarks(bench, exclude_rules=["stale_rule"])["rule"]) == {"evaluate", "band_intervention"}


def test_git_state_outside_a_repository(tmp_path: Path) -> None:
    g = P.git_state(tmp_path)
    assert g["commit"] == "unknown" and g["dirty"] == "unknown" and "not a git repository" in g["reason"]


def test_git_state_of_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "a.txt").write_text("a")
    run("add", "a.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    g = P.git_state(repo)
    assert re.fullmatch(r"[0-9a-f]{40}", g["commit"]) and g["dirty"] == "false"
    (repo / "a.txt").write_text("b")
    assert P.git_state(repo)["dirty"] == "true"


def test_package_versions_of_the_running_environment() -> None:
    v = P.package_versions()
    names = set(v["name"].str.lower())
    assert {"python", "numpy", "pandas"} <= names
    assert v.loc[v["name"].str.lower() == "numpy", "version"].item() == np.__version__


def test_per_rule_runtimes_sums_and_maxima() -> None:
    bench = pd.DataFrame({"rule": ["a", "a", "b"], "s": [1.0, 2.5, 10.0], "max_rss": [100.0, 300.0, "-"]})
    per = P.per_rule_runtimes(bench)
    assert per["rule"].tolist() == ["b", "a"], "longest total first"
    assert (
        per["jobs"].tolist() == [1, 2]
        and per["total_s"].tolist() == [10.0, 3.5]
        and per["max_s"].tolist() == [10.0, 2.5]
    )
    assert np.isnan(per["max_rss_mb"].iloc[0]) and per["max_rss_mb"].iloc[1] == 300.0
