"""Device keys: spelling, availability (faked where a GPU is needed), no torch import for CPU configs."""

from __future__ import annotations

import logging
import subprocess
import sys
import types

import pytest
import torch

from blurscope import device

CONFIG = {
    "training": {"device": "auto", "epochs": 3},
    "evaluation": {"device": "cpu"},
    "aliasing": {"sweep": {"size": 0}, "device": "auto"},
    "bands": {"mlp": {"device": "cpu"}},
    "frequency": {},
}


def test_device_keys_found_at_any_depth_with_dotted_names() -> None:
    assert dict(device.device_keys(CONFIG)) == {
        "training.device": "auto",
        "evaluation.device": "cpu",
        "aliasing.device": "auto",
        "bands.mlp.device": "cpu",
    }


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_valid_spellings(name: str) -> None:
    assert device.check_name(name, "x.device") == name


@pytest.mark.parametrize("name", ["tpu", "gpu", "CUDA", "cuda:", "cuda:x", "cuda0", " cpu", "", 0, None, "xla"])
def test_bad_spellings_name_the_key(name) -> None:
    cfg = {"training": {"device": "cpu"}, "topk": {"device": name}}
    with pytest.raises(ValueError, match=r"config key 'topk.device': .* is not a device \(expected auto, cpu, cuda"):
        device.check_config(cfg)


def _fake_torch(n_cuda: int, mps: bool) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        cuda=types.SimpleNamespace(is_available=lambda: n_cuda > 0, device_count=lambda: n_cuda),
        backends=types.SimpleNamespace(mps=types.SimpleNamespace(is_available=lambda: mps)),
    )


def test_unavailable_reasons() -> None:
    none = _fake_torch(0, False)
    assert "no CUDA GPU" in device.unavailable("cuda", none)
    assert "MPS" in device.unavailable("mps", none)
    assert device.unavailable("cpu", none) is None
    two = _fake_torch(2, True)
    assert device.unavailable("cuda", two) is None and device.unavailable("cuda:1", two) is None
    assert "2 CUDA device(s) (cuda:0..cuda:1)" in device.unavailable("cuda:2", two)
    assert device.unavailable("mps", two) is None


def test_cuda_without_gpu_fails_naming_the_key(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = {"training": {"device": "cpu"}, "saliency": {"device": "cuda:0"}}
    with pytest.raises(ValueError, match=r"config key 'saliency.device': device 'cuda:0' asked for, but no CUDA GPU"):
        device.check_config(cfg)
    # where jobs run elsewhere (a cluster), only the spelling is checked
    assert device.check_config(cfg, check_available=False)["saliency.device"] == "cuda:0"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        device.pick("cuda")


def test_auto_falls_back_to_cpu_with_a_logged_line(monkeypatch, caplog) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="blurscope.device"):
        assert device.pick("auto") == torch.device("cpu")
    assert "device 'auto': no CUDA GPU available, running on cpu" in caplog.text
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.pick("auto") == torch.device("cuda")
    assert device.pick("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="'tpu' is not a device"):
        device.pick("tpu")


def test_cpu_config_check_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from blurscope.device import check_config\n"
        "check_config({'training': {'device': 'auto'}, 'topk': {'device': 'cpu'}})\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
