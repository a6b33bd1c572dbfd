"""Training that survives a hard kill, through Snakemake (issue 27's acceptance), on a tiny config.

A training killed with SIGKILL mid-run (Snakemake and the job together, as a crash or a node
failure would) is resumed from its checkpoint by rerunning the same Snakemake command (after
``--unlock``: Snakemake's own lock survives a SIGKILL) and ends byte-identical to an uninterrupted
run (CPU, one process); the same under 2-process gloo DDP completes with every process holding the
same weights. Loader settings (workers, validation frequency, device, keeping the checkpoint)
rerun no training; a weight setting does.

Kept cheap: 32 px, a 4-class embedded set, the smoke net; only ``results/models/sigma0``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from hashlib import sha256
from pathlib import Path

import pytest
import smokerun as sr  # noqa: E402

pytestmark = [pytest.mark.workflow]

TARGET = "results/models/sigma0.safetensors"
CHECKPOINT = "results/checkpoints/sigma0.pt"
TINY = {
    "dataset": {"embedded": {"n_train": 256, "n_val": 32, "n_test": 32, "n_cue_conflict": 8}},
    "training": {"epochs": 14, "batch_size": 32, "val_every": 7, "seeds": 1},
}


def _setup(path: Path, changes: dict | None = None) -> tuple[Path, str]:
    work = sr.copy_workflow(path)
    return work, sr.variant_config(work, sr.deep_merge(TINY, changes or {}), "tiny.yaml")


def _run(work: Path, cfg: str) -> None:
    proc = sr.snakemake(work, TARGET, configfile=cfg, cores=1, timeout=600)
    assert proc.returncode == 0, sr.describe(proc)


def _digest(work: Path) -> str:
    return sha256((work / TARGET).read_bytes()).hexdigest()


def _kill_after_first_checkpoint(work: Path, cfg: str) -> None:
    """Start the training, SIGKILL Snakemake and every process it started once the first
    checkpoint is on disk, and check that the model was not finished."""
    cmd = [sr.SNAKEMAKE, "--directory", str(work), "--cores", "1", f"--configfile={cfg}", TARGET]
    proc = subprocess.Popen(cmd, cwd=work, env=sr.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    ck = work / CHECKPOINT
    try:
        deadline = time.monotonic() + 400
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ck.exists(), f"no checkpoint appeared (snakemake exit code {proc.poll()})"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # our own process group: snakemake, the job, its workers
        proc.wait(timeout=60)
    time.sleep(0.5)  # let the kernel reap the group
    assert not (work / TARGET).exists(), "the training finished before the kill: make the tiny config longer"
    assert ck.exists()


def _resume(work: Path, cfg: str) -> str:
    """``snakemake --unlock``, then the same command again; returns the training log."""
    unlock = sr.snakemake(work, "--unlock", configfile=cfg, cores=1, timeout=300)
    assert unlock.returncode == 0, sr.describe(unlock)
    _run(work, cfg)
    return (work / "results" / "logs" / "train_baseline" / "sigma0.log").read_text()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, str]:
    work, cfg = _setup(tmp_path_factory.mktemp("resume") / "straight")
    _run(work, cfg)
    assert not (work / CHECKPOINT).exists(), "the checkpoint is removed once the model is saved"
    return work, cfg


def test_sigkill_then_rerun_resumes_byte_identical(uninterrupted, tmp_path):
    ref, _ = uninterrupted
    work, cfg = _setup(tmp_path / "killed")
    _kill_after_first_checkpoint(work, cfg)
    log = _resume(work, cfg)
    assert "resuming sigma0 from checkpoint results/checkpoints/sigma0.pt (epoch " in log, log[-3000:]
    assert _digest(work) == _digest(ref), "the resumed model differs from the uninterrupted one"
    assert not (work / CHECKPOINT).exists()
    meta = json.loads((work / "results/models/sigma0.json").read_text())
    assert meta["metrics"]["resumed"] and meta["settings"]["effective_lr"] == 0.8 * 32 / 256


def test_ddp_sigkill_then_rerun_completes(tmp_path):
    """2 gloo processes per model; killed after the first checkpoint, resumed by the rerun."""
    work, cfg = _setup(tmp_path / "ddp", {"training": {"world_size": 2}})
    _kill_after_first_checkpoint(work, cfg)
    log = _resume(work, cfg)
    assert "DistributedDataParallel: 2 processes (gloo), 16 images each of every global batch of 32" in log
    assert "resuming sigma0 from checkpoint" in log, log[-3000:]
    metrics = json.loads((work / "results/models/sigma0.json").read_text())["metrics"]
    assert metrics["world_size"] == 2 and metrics["resumed"]
    assert len(set(metrics["rank_digests"])) == 1, metrics["rank_digests"]  # every process: the same weights
    assert metrics["val_accuracy"] > 0.25  # learnt beyond chance (4 classes)


def test_loader_settings_rerun_no_training(uninterrupted):
    """num_workers, val_every, device and keep_checkpoint do not change the weights: no rerun.
    A weight setting (lr) does rerun the training."""
    work, _ = uninterrupted
    runtime = sr.variant_config(work, sr.deep_merge(TINY, {"training": {
        "num_workers": 2, "val_every": 3, "device": "auto", "keep_checkpoint": True}}), "runtime.yaml")
    plan = sr.dry_run(work, TARGET, configfile=runtime)
    assert plan == {}, f"changing loader settings reruns {plan}"
    weights = sr.variant_config(work, sr.deep_merge(TINY, {"training": {"lr": 0.4}}), "weights.yaml")
    assert sr.dry_run(work, TARGET, configfile=weights) == {"train_baseline": 1}
