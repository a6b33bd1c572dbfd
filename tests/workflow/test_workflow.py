"""The DAG: dry runs of the shipped configs, the smoke run end to end, no-op rerun, config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import smokerun as sr
import yaml
from PIL import Image

REPO = sr.REPO
SMOKE = REPO / sr.SMOKE_CONFIG


def snakemake(workdir: Path, *args: str, config: Path = SMOKE, check: bool = True) -> sr.subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` (created) with ``config``."""
    sr.copy_workflow(workdir)
    proc = sr.snakemake(workdir, *args, configfile=str(config))
    if check and proc.returncode != 0:
        raise AssertionError(sr.describe(proc))
    return proc

pytestmark = pytest.mark.workflow


def _jobs(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:")[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_default_config_dry_run(tmp_path: Path) -> None:
    """The embedded default (the run-level design, docs/statistics.md): 3 training runs of each of σ 0, 3, 6 and
    of BlurPool = 12 trained models; a filter-only reference of σ 6 per σ 0 run joins the deployed-model
    analyses; at most 105 jobs (the planning budget)."""
    out = snakemake(tmp_path, "-n", config=REPO / "config" / "config.yaml").stdout
    jobs = _jobs(out)
    assert jobs["train_blur"] == 6 and jobs["train_baseline"] == 3 and jobs["train_blurpool"] == 3
    assert jobs["evaluate"] == 12 and jobs["features"] == 12 and jobs["featvis"] == 12
    assert jobs["deployed"] == 15  # AVR/SIS, hybrids, PGD, shape bias, corruptions: one job per model
    assert jobs["band_intervention"] == 8 and jobs["findings"] == 1  # bands.runs: 2 (an exploratory stage)
    assert sum(v for k, v in jobs.items() if k != "total") <= 105, jobs


def test_imagenet_config_dry_run(tmp_path: Path) -> None:
    """The ImageNet preset builds its whole DAG against a small ImageFolder tree."""
    root = tmp_path / "imagenet"
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            (root / split / wnid).mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / split / wnid / "a.JPEG")
    cfg = yaml.safe_load((REPO / "config" / "imagenet.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    jobs = _jobs(snakemake(tmp_path / "run", "-n", config=tmp_path / "cfg.yaml").stdout)
    n_trained = 8 + 1 + (int(cfg["training"].get("seeds", 2)) - 1) * len(cfg["training"].get("seed_sigmas", [0, 6]))
    assert jobs["train_blur"] == 7 and jobs["evaluate"] == n_trained
    assert "cue_conflict_images" not in jobs


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"training": {"epochs": -1}}, r"training.*epochs|epochs.*minimum"),
        ({"unknown_key": 1}, r"unknown_key"),
        ({"sigmas": [0, -1]}, r"sigmas"),
        ({"training": {"epochs": "ten"}}, r"ten.*epochs|epochs.*ten"),
        ({"dataset": {"kind": "imagenet"}}, r"imagenet.*(embedded|kind)"),
        ({"sigmas": [1, 2]}, r"'sigmas': must contain 0"),
        ({"dataset": {"kind": "imagefolder", "root": "/no/such/dir"}}, r"dataset.root.*/no/such/dir"),
        ({"model": {"weights": "/no/such.safetensors"}}, r"model.weights.*/no/such.safetensors"),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(tmp_path: Path, patch: dict, message: str) -> None:
    cfg = yaml.safe_load(SMOKE.read_text())
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path / "run", "-n", config=tmp_path / "bad.yaml", check=False)
    assert proc.returncode != 0
    assert re.search(message, proc.stdout + proc.stderr, re.S), proc.stderr[-3000:]
    assert not (tmp_path / "run" / "results").exists()
    assert proc.stderr.count("Error") + proc.stdout.count("Error") >= 1


def test_smoke_run_end_to_end(smoke_run: Path) -> None:
    res = smoke_run / "results"
    matrix = pd.read_csv(res / "evaluation" / "accuracy_matrix.tsv", sep="\t")
    assert set(matrix.model) == {"sigma0", "sigma0-seed1", "sigma2", "sigma6", "sigma6-seed1", "blurpool",
                                 "blurpool-seed1"}
    assert set(matrix.test_sigma) == {0, 2, 6}
    assert matrix.accuracy.between(0, 1).all() and (matrix.n == 120).all()
    meta = json.loads((res / "models" / "sigma6.json").read_text())
    # scratch (the default protocol): no parent; the runtime that the bytes depend on is recorded
    assert meta["role"] == "scratch" and meta["parent"] is None and meta["sigma_px"] == pytest.approx(6 * 32 / 224)
    assert meta["runtime"]["threads"] == 1 and "torch" in meta["runtime"]
    assert json.loads((res / "models" / "sigma6-seed1.json").read_text())["seed"] == 1000
    assert json.loads((res / "models" / "blurpool.json").read_text())["antialiased"] is True
    assert json.loads((res / "models" / "blurpool-seed1.json").read_text())["seed"] == 1000
    # the stem diagnostic ran on every scratch model, trained and initialisation
    stem = pd.read_csv(res / "evaluation" / "stem_hf.tsv", sep="\t")
    assert set(stem.weights) == {"trained", "init"} and set(stem.model) == set(matrix.model)
    assert stem.loc[stem.weights == "init", "mean"].between(0.7, 0.9).all()  # white-noise init: 1 - pi/16
    # filter-only references: each sigma 0 run behind the referenced blur; at sigma 0 exactly 0
    ref = pd.read_csv(res / "frequency" / "reference.tsv", sep="\t")
    assert {6.0} <= set(ref.sigma) and set(ref.comparison) == {"learned", "filter"}
    assert (res / "aliasing" / "ref-sigma6-seed1.tsv").is_file()  # built on sigma0-seed1
    findings = pd.read_csv(res / "stats" / "findings.tsv", sep="\t")
    assert (findings["family"] == "primary").sum() == 8  # 4 measures x 2 layers
    assert set(findings["verdict"]) <= {"lower", "higher", "no detectable change", "not testable", "uninformative"}
    zero = ref[(ref.sigma == 0) & (ref.comparison == "learned")]
    assert len(zero) and (zero["diff"].dropna() == 0).all()
    for rule in ("train_baseline", "train_blur", "evaluate"):
        logs = list((res / "logs" / rule).glob("*.log"))
        assert logs and all(p.stat().st_size > 0 for p in logs)
        assert list((res / "benchmarks" / rule).glob("*.tsv"))
    assert "epoch 2/2 loss" in (res / "logs" / "train_baseline" / "sigma0.log").read_text()
    assert (res / "figures" / "accuracy_matrix.png").stat().st_size > 1000


def test_second_invocation_has_nothing_to_do(smoke_run: Path) -> None:
    proc = sr.snakemake(smoke_run, "-n", check=True)
    assert "Nothing to be done" in proc.stdout + proc.stderr
