"""The deployed-model analyses as library functions (blurscope.deployed): one loaded model, both parts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from blurscope import deployed
from blurscope.data.files import to_float
from blurscope.frequency import corruptions
from blurscope.frequency import preference as frequency
from blurscope.models.network import BlurscopeNet, build_model, load_model_id, save_model

SIZE, N, K = 32, 12, 4
ALIAS = {"n_images": 0, "batch_size": 4, "forward_chunks": 0, "remove_mean": True}
FREQ = {"n_f_mix": 4, "n_pairs": 6, "pgd_norm": "l2", "pgd_eps": 0.01, "pgd_steps": 2, "pgd_step_size": 0.005,
        "pgd_random_start": False, "pgd_n_images": 5, "corruptions": ["brightness", "contrast"], "severities": [1, 5],
        "corruption_n_images": 8, "mce_reference": "sigma0", "mce_reference_errors": None, "bootstrap": 50,
        "ci": 0.95, "seed": 0, "batch_size": 8}
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """The σ 0 run of a tiny narrow net (untrained), analysis images and the shared corrupted sets."""
    tmp = tmp_path_factory.mktemp("deployed")
    torch.manual_seed(0)
    net = BlurscopeNet(build_model("resnet_narrow", K, widths=(8, 8, 16, 16)), 0.0).eval()
    meta = {"model_id": "sigma0", "arch": "resnet_narrow", "arch_kwargs": {"widths": [8, 8, 16, 16]},
            "antialiased": False, "sigma": 0.0, "sigma_px": 0.0, "image_size": SIZE, "num_classes": K}
    save_model(net, tmp / "sigma0.safetensors", meta)
    rng = np.random.default_rng(0)
    arrays = {"images": rng.integers(0, 256, (N, SIZE, SIZE, 3), dtype=np.uint8),
              "labels": np.arange(N, dtype=np.int64) % K, "ids": np.arange(100, 100 + N, dtype=np.int64)}
    n = FREQ["corruption_n_images"]
    sets = {c: {"images": corruptions.corruption_set(arrays["images"][:n], c, FREQ["severities"]),
                "ids": arrays["ids"][:n]} for c in FREQ["corruptions"]}
    return tmp / "sigma0.safetensors", arrays, sets


def test_aliasing_part_of_a_reference_names_its_blur(setup) -> None:
    weights, arrays, _ = setup
    model, meta = load_model_id(weights, "ref-sigma7")
    table, info = deployed.aliasing_part(model, meta, "ref-sigma7", arrays, ALIAS, CPU, "images.npz")
    points = info["points"]
    assert len(table) == N * len(points) and set(table["model"]) == {"ref-sigma7"}
    assert info["sigma"] == 7.0 and info["reference_blur_sigma"] == 7.0 and info["n_images"] == N
    assert info["forward_chunks"] == 5  # auto on a CPU
    assert ((table["sis"] >= 0) & (table["avr_radial"].between(0, 1))).all()
    plain, pmeta = load_model_id(weights, "sigma0")
    _, pinfo = deployed.aliasing_part(plain, pmeta, "sigma0", arrays, {**ALIAS, "n_images": 5}, CPU)
    assert pinfo["reference_blur_sigma"] is None and pinfo["n_images"] == 5
    with pytest.raises(ValueError, match=r"aliasing.n_images = 13 but images.npz holds only 12 images"):
        deployed.aliasing_part(plain, pmeta, "sigma0", arrays, {**ALIAS, "n_images": 13}, CPU, "images.npz")


def test_frequency_part_against_itself_and_its_known_answers(setup) -> None:
    weights, arrays, sets = setup
    model, meta = load_model_id(weights, "sigma0")
    res = deployed.frequency_part(model, meta, "sigma0", arrays, sets, FREQ, CPU)
    c = res.curves
    assert len(c) == FREQ["n_f_mix"] and np.allclose(c["p_low"] + c["p_high"] + c["p_other"], 1.0)
    # at the last sweep point (f_mix = √2: every frequency from the low image) the hybrid is the low image itself
    low = res.units["pair_low"]
    pred = frequency.predict(model, to_float(arrays["images"][low]), 8, CPU)
    assert c["p_low"].iloc[-1] == pytest.approx(np.mean(np.asarray(pred) == arrays["labels"][low]))
    pref = res.preference.iloc[0]
    assert pref["model"] == "sigma0" and pref["n_f_mix"] == FREQ["n_f_mix"] and pref["pgd_steps"] == 2
    assert res.units["pgd_power"].shape[0] == FREQ["pgd_n_images"] and res.shape_bias is None
    # the mCE reference is the model itself: every corruption error is exactly 1
    ce = res.corruption.ce
    assert ce["ce"].notna().all() and np.allclose(ce["ce"], 1.0) and ce["reference"].eq("sigma0").all()
    t = res.corruption.table
    assert list(t["corruption"]) == ["clean", "brightness", "brightness", "contrast", "contrast", "mean"]
    assert t["accuracy"].iloc[-1] == pytest.approx(t["accuracy"].iloc[1:-1].mean())
    assert res.corruption.hits.shape == (5, FREQ["corruption_n_images"])
    assert np.array_equal(res.corruption.ids, arrays["ids"][:8])


def test_frequency_part_checks_its_inputs_first(setup) -> None:
    weights, arrays, sets = setup
    model, meta = load_model_id(weights, "ref-sigma7")
    shifted = {**sets, "contrast": {**sets["contrast"], "ids": sets["contrast"]["ids"] + 1}}
    with pytest.raises(ValueError, match="corrupted set 'contrast' holds other images than 'brightness'"):
        deployed.frequency_part(model, meta, "ref-sigma7", arrays, shifted, FREQ, CPU)
    other = {**arrays, "ids": arrays["ids"] + 1}
    with pytest.raises(ValueError, match="a.npz: the corrupted sets were made from other analysis images"):
        deployed.frequency_part(model, meta, "ref-sigma7", other, sets, FREQ, CPU, sources={"images": "a.npz"})
    with pytest.raises(ValueError, match="outcomes of the mCE reference 'sigma0' are needed"):
        deployed.frequency_part(model, meta, "ref-sigma7", arrays, sets, FREQ, CPU)
    # a reference's outcomes on other images than this model's
    conds = corruptions.corruption_hits(model, arrays["images"][:8], {k: z["images"] for k, z in sets.items()},
                                        FREQ["severities"], arrays["labels"][:8])[0]
    wrong = (conds, np.ones((len(conds), 8), bool), arrays["ids"][1:9])
    with pytest.raises(ValueError, match=r"s0_hits.npz: the reference 'sigma0' was evaluated on other conditions"):
        deployed.frequency_part(model, meta, "ref-sigma7", arrays, sets, FREQ, CPU, reference_hits=wrong,
                                sources={"mce_reference": "s0_hits.npz"})
