"""Cluster hygiene: the image fingerprint (rules/common.smk ``dataset_state``, one stat per
image) is computed by the Snakemake that plans the run, never by a cluster job.

A SLURM job runs Snakemake in remote mode (``--mode remote --target-jobs ... --force``, the
arguments of snakemake.spawn_jobs), and parses the whole workflow there, twice per job. Here
one job runs that way, locally, with ``blurscope.data.files.tree_state`` replaced by a counter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import smokerun as sr  # noqa: E402
from PIL import Image

pytestmark = [pytest.mark.workflow]

COUNTING_SNAKEMAKE = """
import sys
import blurscope.data.files as data
real = data.tree_state
def counting(roots):
    with open(sys.argv[1], "a") as f:
        f.write("scan\\n")
    return real(roots)
data.tree_state = counting
from snakemake.cli import main
main(sys.argv[2:])
"""


def run_counting(work: Path, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """Snakemake in ``work`` (in-process, so the counter sees every tree_state call); the number of scans."""
    scans = work / "scans.txt"
    scans.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", COUNTING_SNAKEMAKE, str(scans), "--cores", "1", *args],
                          cwd=work, env=sr.env(), capture_output=True, text=True, timeout=600)
    return proc, len(scans.read_text().splitlines()) if scans.exists() else 0


def test_cluster_job_parse_performs_no_image_scan(tmp_path: Path) -> None:
    work = sr.copy_workflow(tmp_path / "w")
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for split in ("train", "val"):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    cfg = sr.variant_config(work, {"dataset": {"kind": "imagefolder", "root": str(root),
                                               "splits": {"train": "train", "val": "val", "test": "val"}}}, "if.yaml")
    target = "results/data/manifest.tsv"

    # the planning invocation fingerprints the images, once per parse
    proc, scans = run_counting(work, f"--configfile={cfg}", "-n", target)
    assert proc.returncode == 0, sr.describe(proc)
    assert scans == 1, f"the main process scanned the images {scans} times"

    # a cluster job: remote mode, the job forced (as snakemake.spawn_jobs words it), no scan
    proc, scans = run_counting(work, f"--configfile={cfg}", "--mode", "remote", "--target-jobs", "prepare_dataset:",
                               "--force", "--nolock")
    assert proc.returncode == 0, sr.describe(proc)
    assert (work / target).is_file()
    assert scans == 0, "a cluster job (remote mode) stat-ed every image: rules/common.smk dataset_state()"

    # only the main process records and compares params: the job's placeholder fingerprint
    # makes the planning invocation rerun nothing
    proc, scans = run_counting(work, f"--configfile={cfg}", "-n", target)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, sr.describe(proc)
    assert scans == 1
