"""The torch-free architecture tables equal the networks build_model really builds."""

from __future__ import annotations

import struct

import pytest
import torch

from blurscope.hooks import capture
from blurscope.models import archinfo
from blurscope.models.network import BlurscopeNet, build_model, save_model

CASES = [
    ("resnet_narrow", False, (16, 32, 64, 128)),
    ("resnet_narrow", True, (16, 32, 64, 128)),
    ("resnet_narrow", False, (8, 8, 24, 40)),
    ("resnet18", False, None),
    ("resnet34", False, None),
    ("resnet50", False, None),
    ("resnet101", False, None),
]


def _build(arch, aa, widths, k=7):
    kwargs = {"widths": widths} if widths else {}
    return build_model(arch, k, aa, **kwargs)


@pytest.mark.parametrize("arch,aa,widths", CASES, ids=lambda v: str(v))
def test_table_equals_built_network(arch, aa, widths):
    net = _build(arch, aa, widths)
    info = archinfo.describe(arch, 7, aa, **({"widths": widths} if widths else {}))
    assert info is not None
    assert info.modules == [n for n, _ in net.named_modules() if n]
    assert info.state == {k: tuple(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.parametrize("arch,aa,widths", [c for c in CASES if c[0] != "resnet101"], ids=lambda v: str(v))
@pytest.mark.parametrize("size", [64, 45])
def test_stage_strides_give_the_real_map_sizes(arch, aa, widths, size):
    net = _build(arch, aa, widths).eval()
    info = archinfo.describe(arch, 7, aa, **({"widths": widths} if widths else {}))
    names = sorted(info.stride)
    seen = {}
    with torch.inference_mode(), capture(net, names, lambda name, m, i, out: seen.__setitem__(name, out.shape[-2:])):
        net(torch.zeros(1, 3, size, size))
    for name in names:
        assert info.map_size(name, size) == seen[name][0] == seen[name][1], (name, seen[name])
    assert info.map_size("fc", size) is None


def test_untabulated_architectures_say_so():
    assert archinfo.describe("timm:resnet18", 10) is None
    assert archinfo.describe("resnet50", 10, antialiased=True) is None
    built = archinfo.describe_by_building("resnet_narrow", 5)
    assert built.state == archinfo.describe("resnet_narrow", 5).state


def test_safetensors_header_read_matches_the_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = BlurscopeNet(build_model("resnet_narrow", 4), 0.0)
    path = tmp_path / "m.safetensors"
    save_model(model, path, {"model_id": "m"})
    assert archinfo.safetensors_shapes(str(path)) == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    # a DataParallel-style checkpoint of the backbone ("module." on every name)
    path = tmp_path / "dp.safetensors"
    save_file({f"module.{k}": v.contiguous() for k, v in model.backbone.state_dict().items()}, str(path))
    shapes = archinfo.safetensors_shapes(str(path))
    # the prefix every name shares is stripped as loading strips it
    own = archinfo.describe("resnet_narrow", 4).state
    assert archinfo.checkpoint_mismatch(own, shapes) is None
    assert "fc.weight (4, 128) vs model (10, 128)" in archinfo.checkpoint_mismatch(
        archinfo.describe("resnet_narrow", 10).state, shapes)
    assert archinfo.checkpoint_mismatch(archinfo.describe("resnet_narrow", 10).state, shapes, reset_head=True) is None
    wrong = archinfo.checkpoint_mismatch(archinfo.describe("resnet18", 4).state, shapes)
    assert "shape mismatch: conv1.weight (16, 3, 7, 7) vs model (64, 3, 7, 7)" in wrong and "missing" in wrong


def test_non_safetensors_file_is_named(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="x.safetensors is not a safetensors file"):
        archinfo.safetensors_shapes(str(bad))
    hdr = b"{not json"
    bad.write_bytes(struct.pack("<Q", len(hdr)) + hdr)
    with pytest.raises(ValueError, match="header is not JSON"):
        archinfo.safetensors_shapes(str(bad))
