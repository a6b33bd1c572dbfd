"""blurscope.config: the model ids of a config, every cross-key check (one test per check) and
the one entry point that runs every config check (``validate``, called by rules/common.smk).

Each check's message is asserted in full (tests/workflow/test_failures.py and
docs/bad_inputs.md match the same words on real runs).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.numpy import save_file
from snakemake.utils import validate as snakemake_validate

from blurscope.config import (
    canonical,
    check_config,
    check_model_config,
    model_id,
    model_ids,
    reference_sigmas,
    validate,
    validate_schema,
)
from blurscope.models import archinfo

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
# the trained models of config/config.yaml (3 sigma levels x 3 runs + 3 BlurPool runs)
DEFAULT_MODELS = [f"sigma{s}" for s in (0, 3, 6)] + ["blurpool"] + [
    f"{m}-seed{k}" for m in ("sigma0", "sigma3", "sigma6", "blurpool") for k in (1, 2)]


@pytest.fixture(scope="module")
def default_config() -> dict:
    """config/config.yaml with the schema's defaults filled in, as rules/common.smk sees it."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_schema(cfg, SCHEMA)
    return cfg


@pytest.fixture
def cfg(default_config: dict) -> dict:
    return copy.deepcopy(default_config)


def message(cfg: dict) -> str:
    with pytest.raises(ValueError) as err:
        check_config(cfg)
    return str(err.value)


# ----------------------------------------------------------------------------- model ids


def test_default_config_passes_and_names_its_models(cfg: dict) -> None:
    check_config(cfg)
    ids = model_ids(cfg)
    assert ids.sigmas == [0.0, 3.0, 6.0]
    assert ids.sigma_models == ["sigma0", "sigma3", "sigma6"]
    assert ids.models == ids.sigma_models + ["blurpool"]
    # three training runs of every sigma and of BlurPool: the run-level design (docs/statistics.md)
    assert ids.seed_models == ["sigma0-seed1", "sigma0-seed2", "sigma3-seed1", "sigma3-seed2", "sigma6-seed1",
                               "sigma6-seed2", "blurpool-seed1", "blurpool-seed2"]
    assert ids.all_trained == ids.models + ids.seed_models
    assert ids.reference_sigmas == [6.0]
    # one filter-only reference per sigma 0 run, on that run's weights
    assert ids.reference_models == ["ref-sigma6", "ref-sigma6-seed1", "ref-sigma6-seed2"]
    assert ids.preference_models == ids.all_trained  # analysis.own_blur: false
    assert ids.deployed_models == ids.all_trained + ids.reference_models


def test_model_ids_follow_own_blur_seeds_and_configured_references(cfg: dict) -> None:
    cfg["analysis"]["own_blur"] = True
    cfg["training"]["seeds"] = 3
    cfg["training"]["seed_sigmas"] = [6, 5]  # 5 is not a training sigma: no replicate
    cfg["training"]["blurpool_seeds"] = 2
    cfg["references"]["sigmas"] = [0, 3]  # 0 never gets a reference
    ids = model_ids(cfg)
    assert ids.seed_models == ["sigma6-seed1", "sigma6-seed2", "blurpool-seed1"]
    assert ids.reference_models == ["ref-sigma3"]  # one sigma 0 run: one reference per sigma
    assert ids.preference_models == ids.all_trained + ["ref-sigma3"]


def test_model_id_and_reference_sigmas() -> None:
    assert [model_id(0.0), model_id(0.5), model_id(1.5, 2), model_id(6)] == [
        "sigma0", "sigma0.5", "sigma1.5-seed2", "sigma6"]
    assert reference_sigmas([0.0, 1.0, 2.0, 3.0, 6.0], None) == [1.0, 3.0, 6.0]
    assert reference_sigmas([0.0, 6.0], None) == [6.0]
    assert reference_sigmas([0.0], None) == []


def test_importing_the_checks_does_not_import_torch() -> None:
    code = "import sys\nimport blurscope.config\nprint('torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------------------- the checks

MODELS = "['sigma0', 'sigma3', 'sigma6', 'blurpool']"
CASES = [
    # (check, {dotted config key: value}, the whole message), in the order check_config runs them
    ("sigmas contain 0", {"sigmas": [2, 6]}, "config key 'sigmas': must contain 0 (the baseline), got [2, 6]"),
    (
        "imagefolder needs a root",
        {"dataset.kind": "imagefolder", "dataset.root": None},
        "config key 'dataset.root': required when dataset.kind is 'imagefolder'",
    ),
    (
        "references at training sigmas",
        {"references.sigmas": [3, 5]},
        "config key 'references.sigmas': [5] are not training sigmas ([0.0, 3.0, 6.0]); "
        "a filter-only reference is compared with the model trained at its sigma",
    ),
    (
        "zero epochs: every model needs a checkpoint",
        {"training.epochs": 0},
        f"config key 'training.epochs': 0 (nothing trained from scratch), but {DEFAULT_MODELS} have no "
        "checkpoint: they would be analysed untrained. Give each a file in 'model.checkpoints' (or train them: "
        "training.epochs >= 1)",
    ),
    (
        "checkpoints name models of the config",
        {"model.checkpoints": {"sigma6.0": "/x.pt", "sigma5": "/y.pt"}},
        f"config key 'model.checkpoints': ['sigma6.0', 'sigma5'] are not models of this config; the models are "
        f"{DEFAULT_MODELS} (sigma<s> per entry of 'sigmas', written as in sigma1.5; replicates sigma<s>-seed<k> of "
        "training.seed_sigmas; blurpool, blurpool-seed<k>)",
    ),
    (
        "checkpoint files exist",
        {"model.checkpoints": {"sigma6": "/no/such/sigma6.pth.tar"}},
        "config key 'model.checkpoints.sigma6': file /no/such/sigma6.pth.tar does not exist",
    ),
    (
        "training batch a multiple of the processes",
        {"training.world_size": 3},
        "config key 'training.batch_size': 64 is not a multiple of training.world_size=3 (the batch is global; "
        "each process takes batch_size / world_size images)",
    ),
    (
        "topk.k at most analysis.n_images",
        {"topk.k": 1001},
        "config key 'topk.k': 1001 exceeds analysis.n_images (1000), the images the top-k is taken from",
    ),
    ("topk.n_show at most k", {"topk.n_show": 51}, "config key 'topk.n_show': 51 exceeds topk.k (50)"),
    (
        "aliasing images from the analysis set",
        {"aliasing.n_images": 1001},
        "config key 'aliasing.n_images': 1001 exceeds analysis.n_images (1000), the images AVR and SIS are "
        "measured on (0 = all of them)",
    ),
    (
        "baseline patches a multiple of its images",
        {"baseline.n_patches": 4001},
        "config key 'baseline.n_patches': 4001 is not a multiple of baseline.n_images (250)",
    ),
    (
        "baseline images at most analysis images",
        {"baseline.n_images": 2000, "baseline.n_patches": 4000},
        "config key 'baseline.n_images': 2000 exceeds analysis.n_images (1000), "
        "the images baseline patches are drawn from",
    ),
    (
        "aliasing standard model a sigma model",
        {"aliasing.standard_model": "blurpool"},
        "config key 'aliasing.standard_model': 'blurpool' is not a sigma model "
        "(sigma models: ['sigma0', 'sigma3', 'sigma6'])",
    ),
    (
        "aliasing sweep models exist",
        {"aliasing.sweep.models": ["sigma0", "sigma1", "sigma0-seed1"]},
        f"config key 'aliasing.sweep.models': ['sigma1', 'sigma0-seed1'] are not models (models: {MODELS})",
    ),
    (
        "aliasing sweep range ordered",
        {"aliasing.sweep.freq_min": 0.6, "aliasing.sweep.freq_max": 0.5},
        "config key 'aliasing.sweep.freq_min': 0.6 exceeds aliasing.sweep.freq_max (0.5)",
    ),
    (
        "band edges start at 0",
        {"bands.edges": [0.1, 0.5, 1.0, 1.5], "bands.names": ["low", "mid", "high"]},
        "config key 'bands.edges' must start at 0 (the DC bin), got 0.1",
    ),
    (
        "band reference model exists",
        {"bands.reference_model": "sigma1"},
        f"config key 'bands.reference_model': 'sigma1' is not a model (models: {MODELS})",
    ),
    (
        "mCE reference a deployed model",
        {"frequency.mce_reference": "sigma1"},
        "config key 'frequency.mce_reference': 'sigma1' is not a trained model (models: ['sigma0', 'sigma3', "
        "'sigma6', 'blurpool', 'sigma0-seed1', 'sigma0-seed2', 'sigma3-seed1', 'sigma3-seed2', 'sigma6-seed1', "
        "'sigma6-seed2', 'blurpool-seed1', 'blurpool-seed2', 'ref-sigma6', 'ref-sigma6-seed1', 'ref-sigma6-seed2']; "
        "or 'published' with frequency.mce_reference_errors)",
    ),
    (
        "saliency expert a training sigma",
        {"saliency.expert_sigma": 2.5},
        "config key 'saliency.expert_sigma': 2.5 is not one of the configured sigmas (0, 3, 6)",
    ),
]


def test_every_message_reads_config_key_colon() -> None:
    """One convention, ``config key '<key>': ...`` (the band edges' messages come from blurscope.freq)."""
    for _, _, expected in CASES:
        if not expected.startswith("config key 'bands.edges' must"):
            assert re.match(r"config key '[\w.]+': \S", expected), expected


def set_keys(cfg: dict, changes: dict) -> dict:
    """``cfg`` with each dotted key of ``changes`` set."""
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = cfg
        for part in path:
            node = node[part]
        node[last] = value
    return cfg


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_check_names_its_key(cfg: dict, changes: dict, expected: str) -> None:
    assert message(set_keys(cfg, changes)) == expected


def test_imagefolder_root_must_exist(cfg: dict, tmp_path: Path) -> None:
    set_keys(cfg, {"dataset.kind": "imagefolder", "dataset.root": str(tmp_path / "nowhere")})
    assert message(cfg) == f"config key 'dataset.root': folder {tmp_path / 'nowhere'} does not exist"


@pytest.mark.parametrize("key", ["weights", "blurpool_weights"])
def test_checkpoints_must_exist(cfg: dict, tmp_path: Path, key: str) -> None:
    cfg["model"][key] = str(tmp_path / "missing.safetensors")
    assert message(cfg) == f"config key 'model.{key}': file {tmp_path / 'missing.safetensors'} does not exist"


def test_band_layers_need_samples_beyond_dc(cfg: dict) -> None:
    cfg["bands"]["layers"] = ["layer1.0", "layer4.0"]  # 16x16 and 2x2 maps at 64 px
    msg = message(cfg)
    assert msg.startswith(
        "config keys 'bands.layers' / 'bands.edges': every band must hold at least one frequency sample "
        "beyond the DC term in every analysed layer, but 'layer4.0' (2x2 map): band(s) "
        "['ultra-low', 'low', 'mid'] hold no frequency sample beyond DC"
    )
    assert "'layer1.0'" not in msg
    assert msg.endswith("that needs maps of at least 9x9: choose earlier layers in bands.layers, or other bands.edges")


def test_band_layers_default_to_the_analysis_layers(cfg: dict) -> None:
    cfg["bands"]["layers"] = None  # -> analysis.layers: layer2.0 (8x8) is the first too small
    assert "'layer2.0' (8x8 map)" in message(cfg)


def test_corruption_names_are_checked(cfg: dict) -> None:
    cfg["frequency"]["corruptions"] = ["fog", "smudge"]
    assert message(cfg).startswith("config key 'frequency.corruptions': unknown corruption(s) ['smudge']; allowed: [")


def test_checks_run_in_stage_order(cfg: dict) -> None:
    """With two errors the earlier stage's is reported (the order the rules were read in)."""
    cfg["topk"]["n_show"] = 51
    cfg["saliency"]["expert_sigma"] = 2.5
    assert message(cfg).startswith("config key 'topk.n_show'")


# ----------------------------------------------------------------------------- architecture


def test_layer_names_are_checked_against_the_architecture(cfg: dict) -> None:
    check_model_config(cfg)
    cfg["saliency"]["activation_layers"] = ["layer1.0", "layer9.0"]
    with pytest.raises(ValueError) as err:
        check_model_config(cfg)
    assert str(err.value) == (
        "config key 'saliency.activation_layers': 'layer9.0' is not a layer of resnet_narrow (stage layers: "
        "layer1, layer1.0, layer2, layer2.0, layer3, layer3.0, layer4, layer4.0; any module name of the "
        "backbone works)"
    )


def test_checkpoint_shapes_are_checked_against_the_architecture(cfg: dict, tmp_path: Path) -> None:
    own = archinfo.describe("resnet_narrow", 10, False, widths=(16, 32, 64, 128)).state
    good = tmp_path / "good.safetensors"
    save_file({k: np.zeros(s, np.float32) for k, s in own.items()}, str(good))
    cfg["model"]["weights"] = str(good)
    check_model_config(cfg)

    bad = tmp_path / "bad.safetensors"
    wrong = dict(own, **{"conv1.weight": (8, 3, 7, 7)})
    save_file({k: np.zeros(s, np.float32) for k, s in wrong.items()}, str(bad))
    cfg["model"]["weights"] = str(bad)
    with pytest.raises(ValueError) as err:
        check_model_config(cfg)
    msg = str(err.value)
    assert msg.startswith(f"config key 'model.weights': checkpoint {bad} does not fit architecture resnet_narrow: ")
    assert "conv1.weight" in msg


# ----------------------------------------------------------------------------- the entry point


def raw_config() -> dict:
    """config/config.yaml as Snakemake loads it: no defaults yet, the file's key order."""
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def run_validate(cfg: dict, *, main_process: bool = True, local_exec: bool = True, remote_exec: bool = False) -> dict:
    validate(cfg, SCHEMA, main_process=main_process, local_exec=local_exec, remote_exec=remote_exec)
    return cfg


@pytest.mark.parametrize("extra", [None, "tests/workflow/smoke.yaml", "config/imagenet.yaml"])
def test_schema_defaults_are_the_ones_snakemake_fills_in(extra: str | None) -> None:
    cfg = raw_config()
    if extra:
        cfg.update(yaml.safe_load((REPO / extra).read_text()))  # top-level keys replace, as in these files
    ours, snakemakes = copy.deepcopy(cfg), copy.deepcopy(cfg)
    validate_schema(ours, SCHEMA)
    snakemake_validate(snakemakes, str(SCHEMA))
    assert repr(ours) == repr(snakemakes)
    assert ours != cfg  # defaults were filled in


def test_validate_fills_defaults_and_sorts_every_mapping(default_config: dict) -> None:
    cfg = dict(reversed(list(raw_config().items())))
    assert run_validate(cfg) == default_config
    assert list(cfg) == sorted(cfg) and list(cfg["training"]) == sorted(cfg["training"])
    assert repr(cfg) == repr(canonical(default_config))
    assert cfg["sigmas"] == [0, 3, 6]  # lists keep their order


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"training.epochs": "ten"}, "config key 'training.epochs': 'ten' is not of type 'integer'"),
        ({"sigmas": [0, -1, 2]}, "config key 'sigmas.1': -1 is less than the minimum of 0"),
        ({"trainig": {"epochs": 1}},
         "config key '(top level)': Additional properties are not allowed ('trainig' was unexpected)"),
    ],
    ids=["type", "minimum", "unknown key"],
)
def test_validate_names_the_key_of_a_schema_error(changes: dict, expected: str) -> None:
    cfg = raw_config()
    if "trainig" in changes:
        cfg.update(changes)
    else:
        set_keys(cfg, changes)
    with pytest.raises(ValueError) as err:
        run_validate(cfg)
    assert str(err.value) == expected


def test_validate_runs_every_check_in_stage_order() -> None:
    """Training before the features' checks, the cross-key checks before the devices and layers."""
    cfg = set_keys(raw_config(), {"training.world_size": 3, "topk.n_show": 51, "training.device": "tpu"})
    with pytest.raises(ValueError, match=r"^config key 'training.batch_size': 64 is not a multiple"):
        run_validate(cfg)
    cfg = set_keys(raw_config(), {"training.device": "tpu", "analysis.layers": ["layer9.9"]})
    with pytest.raises(ValueError, match=r"^config key 'training.device': 'tpu' is not a device"):
        run_validate(cfg)
    cfg = set_keys(raw_config(), {"analysis.layers": ["layer9.9"]})
    with pytest.raises(ValueError, match=r"^config key 'analysis.layers': 'layer9.9' is not a layer of resnet_narrow"):
        run_validate(cfg)


def test_a_cluster_job_skips_the_architecture_check() -> None:
    """Remote mode (a cluster job's parse) leaves layers and checkpoints to the planning invocation."""
    bad_layer = {"analysis.layers": ["layer9.9"]}
    run_validate(set_keys(raw_config(), bad_layer), main_process=False, local_exec=False, remote_exec=True)
    with pytest.raises(ValueError, match="'analysis.layers'"):  # a local subprocess still checks
        run_validate(set_keys(raw_config(), bad_layer), main_process=False, local_exec=True, remote_exec=False)


def test_a_gpu_must_exist_only_where_the_planning_invocation_runs_jobs(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gpu = {"evaluation.device": "cuda"}
    with pytest.raises(ValueError, match=r"^config key 'evaluation.device': device 'cuda' asked for, but no CUDA GPU"):
        run_validate(set_keys(raw_config(), gpu))
    run_validate(set_keys(raw_config(), gpu), local_exec=False)  # a cluster's submit host
    run_validate(set_keys(raw_config(), gpu), main_process=False, remote_exec=True)  # a cluster job
    with pytest.raises(ValueError, match="'evaluation.device': 'gpu' is not a device"):  # the spelling, everywhere
        run_validate(set_keys(raw_config(), {"evaluation.device": "gpu"}), main_process=False, remote_exec=True)
