"""Workflow fixtures: run Snakemake on the smoke configuration once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tests" / "workflow" / "smoke.yaml"
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def snakemake(workdir: Path, *args: str, config: Path = SMOKE, check: bool = True,
              timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run the workflow in ``workdir`` with ``config``; returns the completed process (text output)."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--configfile", str(config), "--directory", str(workdir),
           "--cores", "2", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed smoke run (all default targets). Tests must not modify it: copy it first."""
    workdir = tmp_path_factory.mktemp("smoke")
    snakemake(workdir)
    return workdir


def copy_run(src: Path, dst: Path) -> Path:
    """Copy a finished run (results + .snakemake metadata), keeping mtimes."""
    shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    return dst
