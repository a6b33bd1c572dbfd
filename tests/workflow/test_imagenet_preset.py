"""The real path: config/imagenet.yaml end to end on a folder of real photographs, then the same
run from checkpoints.

Run 1 trains ResNet-50s at 224 px (the preset's preprocessing: streamed JPEGs, random resized
crops, resize-256 / centre-crop-224 for evaluation and analysis; a greyscale JPEG, a CMYK JPEG
and a PNG named .JPEG among the files) with tests/workflow/imagenet_small.yaml's cuts, through
every stage to report.html. Run 2 hands run 1's models back as ``model.checkpoints`` — one in the
VITAL study's ``.pth.tar`` layout (DataParallel ``module.`` names, optimiser and epoch beside the
state dict), one as a plain torch state dict, one as bare safetensors — and must run no training
job and reproduce run 1's statistics tables exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import smokerun as sr
import torch
import yaml
from photos import make_imagenet_folder
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.workflow

REPO = sr.REPO
PRESET_TIMEOUT_S = 2400

# Tables that record where a model came from, by design different when it was imported: the
# training table (role, epochs, origin, hash), the stem diagnostic (a checkpoint has no known
# initialisation: trained rows only) and the report's source list.
PROVENANCE_TABLES = {"evaluation/training.tsv", "evaluation/stem_hf.tsv", "report/sources.tsv"} | {
    f"evaluation/{m}_stem.tsv" for m in ("sigma0", "sigma6", "blurpool")}


def _config(work: Path, root: Path, extra: dict | None = None, name: str = "imagenet_run.yaml") -> str:
    """config/imagenet.yaml + tests/workflow/imagenet_small.yaml (+ ``extra``), with the photo folder."""
    cfg = yaml.safe_load((REPO / "config" / "imagenet.yaml").read_text())
    cfg = sr.deep_merge(cfg, yaml.safe_load((REPO / "tests" / "workflow" / "imagenet_small.yaml").read_text()))
    cfg = sr.deep_merge(cfg, {"dataset": {"root": str(root)}, **(extra or {})})
    rel = f"tests/workflow/{name}"
    (work / rel).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return rel


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """Run 1: (workdir, photo folder, seconds)."""
    base = tmp_path_factory.mktemp("imagenet_preset")
    root = make_imagenet_folder(base / "photos")
    work = sr.copy_workflow(base / "trained")
    cfg = _config(work, root)
    t0 = time.monotonic()
    proc = sr.snakemake(work, configfile=cfg, timeout=PRESET_TIMEOUT_S)
    assert proc.returncode == 0, sr.describe(proc, tail=12000)
    return work, root, time.monotonic() - t0


def test_preset_runs_every_stage_on_real_photographs(trained) -> None:
    work, root, seconds = trained
    res = work / "results"
    print(f"ImageNet preset, run 1 (training included): {seconds:.0f} s")
    assert (res / "report" / "report.html").stat().st_size > 10_000
    manifest = (res / "data" / "manifest.tsv").read_text()
    assert "n01440764_train_0001.JPEG" in manifest  # the CMYK JPEG ...
    assert "n01443537_train_0000.JPEG" in manifest  # ... and the PNG named .JPEG are read, not skipped
    with np.load(res / "data" / "analysis_images.npz") as z:
        assert z["images"].shape[1:] == (224, 224, 3)
    meta = json.loads((res / "models" / "sigma6.json").read_text())
    assert meta["arch"] == "resnet50" and meta["image_size"] == 224
    assert meta["sigma_px"] == pytest.approx(6.0)  # sigma at 224 px is sigma in px
    # the preset's lr (0.1 per 256 images) at the test's batch of 8: 0.1 x 8 / 256
    log = (res / "logs" / "train_blur" / "sigma6.log").read_text()
    assert "= peak 0.003125" in log
    origins = (res / "pipeline_info" / "models.tsv").read_text()
    assert origins.count("\ttrained\t") == 3


def _export(res: Path, dst: Path) -> dict[str, str]:
    """Run 1's models in three layouts users have."""
    dst.mkdir(parents=True)
    own = {m: load_file(str(res / "models" / f"{m}.safetensors")) for m in ("sigma0", "sigma6", "blurpool")}
    backbone = {m: {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
                for m, sd in own.items()}
    files = {"sigma0": dst / "blur0" / "model_best.pth.tar", "sigma6": dst / "sigma6.safetensors",
             "blurpool": dst / "resnet50_lpf4.pt"}
    files["sigma0"].parent.mkdir()
    # the VITAL study's layout: torch.save({'epoch', 'arch', 'state_dict' (DataParallel), 'best_acc1', 'optimizer'})
    opt_state = {"state": {0: {"momentum_buffer": torch.zeros(3)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}
    torch.save({"epoch": 1, "arch": "resnet50", "best_acc1": torch.tensor(50.0), "optimizer": opt_state,
                "state_dict": {f"module.{k}": v for k, v in backbone["sigma0"].items()}}, files["sigma0"])
    save_file({k: v.contiguous() for k, v in backbone["sigma6"].items()}, str(files["sigma6"]))
    torch.save(backbone["blurpool"], files["blurpool"])
    return {m: str(p) for m, p in files.items()}


def test_checkpoints_reproduce_the_run_without_training(trained, tmp_path: Path) -> None:
    work, root, _ = trained
    files = _export(work / "results", tmp_path / "elsewhere")
    work2 = sr.copy_workflow(tmp_path / "imported")
    cfg = _config(work2, root, {"model": {"checkpoints": files}}, "imagenet_checkpoints.yaml")
    plan = sr.dry_run(work2, configfile=cfg)
    assert plan.get("import_checkpoint") == 3, plan
    assert not {r for r in plan if r.startswith("train_")}, f"a model with a checkpoint is trained: {plan}"
    t0 = time.monotonic()
    proc = sr.snakemake(work2, configfile=cfg, timeout=PRESET_TIMEOUT_S)
    assert proc.returncode == 0, sr.describe(proc, tail=12000)
    print(f"ImageNet preset, run 2 (checkpoints, no training): {time.monotonic() - t0:.0f} s")
    res1, res2 = work / "results", work2 / "results"
    # the imported models are run 1's networks, byte for byte (only the meta differs)
    for m in files:
        name = f"{m}.safetensors"
        assert (res2 / "models" / name).read_bytes() == (res1 / "models" / name).read_bytes(), m
        meta = json.loads((res2 / "models" / f"{m}.json").read_text())
        assert meta["origin"] == "checkpoint" and meta["checkpoint"]["path"] == files[m]
    a, b = sr.result_tables(res1), sr.result_tables(res2)
    diffs = [d for d in sr.diff_tables(a, b) if d.split(": ", 1)[1] not in PROVENANCE_TABLES]
    assert not diffs, diffs
    assert len(a) > 60  # every stage's tables were compared
    origins = pd.read_csv(res2 / "pipeline_info" / "models.tsv", sep="\t")
    imported = origins[origins["origin"] == "checkpoint"]
    assert sorted(imported["model"]) == sorted(files), origins
    assert dict(zip(imported["model"], imported["checkpoint"])) == files
    assert imported["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    report = (res2 / "report" / "report.html").read_text()
    assert "model_best.pth.tar" in report and "trained elsewhere" in report
