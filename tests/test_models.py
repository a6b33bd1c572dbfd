"""Models: construction, checkpoint round trip, foreign checkpoints, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from blurscope.hooks import get_module
from blurscope.models.network import (
    BlurscopeNet,
    build_model,
    load_backbone_weights,
    load_model,
    read_state_dict,
    save_model,
)


def _meta(**kw):
    meta = {"model_id": "sigma2", "arch": "resnet_narrow", "arch_kwargs": {"widths": [8, 8, 16, 16]},
            "antialiased": False, "sigma": 2.0, "sigma_px": 2 * 32 / 224, "image_size": 32, "num_classes": 4}
    meta.update(kw)
    return meta


def test_safetensors_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    meta = _meta()
    model = BlurscopeNet(build_model("resnet_narrow", 4, widths=(8, 8, 16, 16)), meta["sigma_px"]).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
    save_model(model, tmp_path / "m.safetensors", meta)
    loaded, meta2 = load_model(tmp_path / "m.safetensors")
    with torch.no_grad():
        after = loaded(x)
    assert torch.equal(before, after)
    assert meta2["sigma"] == 2.0 and loaded.blur.sigma_px == pytest.approx(meta["sigma_px"])
    assert not loaded.training


def test_blurpool_variant_and_layer_names() -> None:
    std = build_model("resnet_narrow", 10)
    aa = build_model("resnet_narrow", 10, antialiased=True)
    assert 300_000 < sum(p.numel() for p in std.parameters()) < 360_000
    assert "BlurPool" in type(get_module(aa, "layer2.0.aa")).__name__
    with pytest.raises(KeyError, match="valid layer names: conv1"):
        get_module(BlurscopeNet(std), "layer9.9")
    with pytest.raises(ValueError, match="not known; valid"):
        build_model("resnet_tiny", 10)


def test_torch_state_dict_checkpoint_is_loaded(tmp_path: Path) -> None:
    src = build_model("resnet18", 5)
    torch.save({"state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, tmp_path / "r18.pth")
    dst = build_model("resnet18", 5)
    load_backbone_weights(dst, read_state_dict(tmp_path / "r18.pth"), "r18.pth")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_mismatched_checkpoint_errors_name_the_file_and_keys(tmp_path: Path) -> None:
    other = build_model("resnet_narrow", 4)
    torch.save(other.state_dict(), tmp_path / "narrow.pt")
    with pytest.raises(ValueError, match=r"checkpoint .*narrow.pt does not fit architecture ResNet: .*"):
        load_backbone_weights(
            build_model("resnet18", 4), read_state_dict(tmp_path / "narrow.pt"), str(tmp_path / "narrow.pt")
        )
    # same architecture, other class count: shape mismatch named; reset_head drops only the head
    ten = build_model("resnet_narrow", 10)
    with pytest.raises(ValueError, match=r"shape mismatch: fc.weight \(4, 128\) vs model \(10, 128\)"):
        load_backbone_weights(ten, other.state_dict(), "narrow.pt")
    skipped = load_backbone_weights(ten, other.state_dict(), "narrow.pt", reset_head=True)
    assert sorted(skipped) == ["fc.bias", "fc.weight"]
    with pytest.raises(FileNotFoundError, match="missing.safetensors does not exist"):
        read_state_dict(tmp_path / "missing.safetensors")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt could not be read"):
        read_state_dict(tmp_path / "junk.pt")


def test_load_model_needs_meta(tmp_path: Path) -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 4))
    save_model(model, tmp_path / "x.safetensors", _meta(arch_kwargs={}))
    (tmp_path / "x.json").unlink()
    with pytest.raises(FileNotFoundError, match="x.json"):
        load_model(tmp_path / "x.safetensors")


def test_load_model_without_own_blur_shares_the_network(tmp_path) -> None:
    """own_blur=False: the same weights, no training blur; blurring the input
    once by the model's σ reproduces the full model exactly."""
    from blurscope.blur import gaussian_blur
    from blurscope.models.network import BlurscopeNet, build_model, load_model, save_model

    torch.manual_seed(0)
    net = BlurscopeNet(build_model("resnet_narrow", 5, widths=(8, 8, 8, 8)), 1.7).eval()
    meta = {"model_id": "m", "arch": "resnet_narrow", "arch_kwargs": {"widths": [8, 8, 8, 8]},
            "num_classes": 5, "sigma_px": 1.7}
    save_model(net, tmp_path / "m.safetensors", meta)
    full, _ = load_model(tmp_path / "m.safetensors")
    bare, _ = load_model(tmp_path / "m.safetensors", own_blur=False)
    x = torch.rand(3, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(bare(gaussian_blur(x, 1.7)), full(x))
        assert not torch.allclose(bare(x), full(x), atol=1e-4)
    assert bare.blur.sigma_px == 0 and full.blur.sigma_px == 1.7
    assert bare.backbone is not None and dict(bare.named_modules()).keys() == dict(full.named_modules()).keys()


@pytest.mark.parametrize("antialiased", [False, True])
def test_narrow_net_stem_has_the_first_stage_width(antialiased: bool) -> None:
    """timm builds a 64-channel stem whatever the widths; the narrow net's stem is widths[0] wide,
    layer1 needs no projection, and the module names (conv1, maxpool[.1], layerN.0) are timm's."""
    from blurscope.models.narrow import BlurPool2d

    net = build_model("resnet_narrow", 4, antialiased=antialiased, widths=(12, 24, 48, 96)).eval()
    assert net.conv1.out_channels == 12 and net.bn1.num_features == 12
    assert net.layer1[0].conv1.in_channels == 12 and net.layer1[0].downsample is None
    stem_pool = get_module(net, "maxpool.1") if antialiased else get_module(net, "maxpool")
    assert isinstance(stem_pool, BlurPool2d) == antialiased
    if antialiased:
        assert stem_pool.channels == 12 and isinstance(net.layer2[0].aa, BlurPool2d)
    # timm's init: He-normal convs (std = sqrt(2 / fan_out)), last BN of each block zero
    fan_out = 12 * 7 * 7
    assert abs(net.conv1.weight.std().item() - (2 / fan_out) ** 0.5) < 0.02
    assert torch.count_nonzero(net.layer1[0].bn2.weight) == 0
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 4)


def _timm_narrow(num_classes: int, antialiased: bool, widths: tuple[int, ...]) -> torch.nn.Module:
    """The narrow net as timm builds it (its ResNet with the stem and layer1 rebuilt at widths[0])."""
    from timm.layers import BlurPool2d
    from timm.models.resnet import BasicBlock, ResNet

    aa = BlurPool2d if antialiased else None
    net = ResNet(BasicBlock, [1, 1, 1, 1], channels=widths, num_classes=num_classes, aa_layer=aa)
    w0 = widths[0]
    net.conv1 = torch.nn.Conv2d(3, w0, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = torch.nn.BatchNorm2d(w0)
    if antialiased:
        net.maxpool = torch.nn.Sequential(torch.nn.MaxPool2d(3, stride=1, padding=1), BlurPool2d(w0, stride=2))
    net.layer1 = torch.nn.Sequential(BasicBlock(w0, w0, aa_layer=aa))
    return net


@pytest.mark.parametrize("antialiased", [False, True])
def test_narrow_net_computes_exactly_what_timms_does(antialiased: bool) -> None:
    """blurscope.models.narrow writes timm's narrow ResNet out without importing timm (2 CPU-s per job): the
    same module names, state-dict keys and shapes, and with the same weights bitwise the same logits
    (train and eval mode, so BN statistics update alike)."""
    widths = (16, 32, 64, 128)
    ours = build_model("resnet_narrow", 10, antialiased, widths=widths)
    ref = _timm_narrow(10, antialiased, widths)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in ref.named_modules()]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    torch.manual_seed(1)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in ours.state_dict().items()}
    state = {k: (v.abs() + 0.5 if "running_var" in k else v) for k, v in state.items()}
    ours.load_state_dict(state)
    ref.load_state_dict(state)
    x = torch.rand(4, 3, 64, 64)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        ref.train(mode == "train")
        with torch.no_grad():
            assert torch.equal(ours(x), ref(x)), mode
    assert torch.equal(ours.state_dict()["layer2.0.bn1.running_mean"], ref.state_dict()["layer2.0.bn1.running_mean"])


def test_building_the_narrow_net_does_not_import_timm() -> None:
    import subprocess
    import sys

    code = ("import sys; from blurscope.models.network import build_model; build_model('resnet_narrow', 10, True); "
            "print('timm' in sys.modules, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_inference_is_independent_of_the_thread_count():
    """Analysis jobs take their threads from Snakemake's grant (resources.torch_threads capped
    by --cores): that is only safe because a forward pass and its input gradient (SmoothGrad,
    PGD) are bitwise the same with 1 and 2 threads; training is not (training.threads)."""
    import torch

    from blurscope.models.network import BlurscopeNet, build_model

    before = torch.get_num_threads()
    torch.manual_seed(0)
    model = BlurscopeNet(build_model("resnet_narrow", 10, False), 1.0).eval()
    x = torch.rand(16, 3, 64, 64, requires_grad=True)
    outs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            y = model(x)
            (g,) = torch.autograd.grad(y.sum(), x)
            outs.append((y.detach().clone(), g.clone()))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


def test_initial_network_depends_on_the_seed_only():
    import torch

    from blurscope.models.network import initial_network, initial_network_of

    a = initial_network("resnet_narrow", 10, False, {}, 0.0, seed=3)
    torch.rand(100)  # unrelated draws in between must not matter
    b = initial_network_of({"arch": "resnet_narrow", "num_classes": 10, "seed": 3, "sigma_px": 0.0})
    c = initial_network("resnet_narrow", 10, False, {}, 0.0, seed=4)
    assert torch.equal(a.backbone.conv1.weight, b.backbone.conv1.weight)
    assert not torch.equal(a.backbone.conv1.weight, c.backbone.conv1.weight)


def test_reference_model_puts_the_given_blur_in_front(tmp_path):
    import torch

    from blurscope.blur import gaussian_blur
    from blurscope.models.network import BlurscopeNet, build_model, load_model, save_model

    torch.manual_seed(0)
    net = BlurscopeNet(build_model("resnet_narrow", 10, False), 0.0).eval()
    path = tmp_path / "sigma0.safetensors"
    save_model(net, path, {"model_id": "sigma0", "arch": "resnet_narrow", "num_classes": 10, "sigma": 0.0,
                           "sigma_px": 0.0})
    ref, meta = load_model(path, blur_sigma_px=1.5)
    x = torch.rand(4, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(ref(x), net(gaussian_blur(x, 1.5)), atol=1e-5)
        same, _ = load_model(path, blur_sigma_px=0.0)
        assert torch.equal(same(x), net(x))  # the reference at sigma 0 is the sigma 0 model itself
    assert meta["reference_sigma_px"] == 1.5
    with pytest.raises(ValueError, match="own_blur=False"):
        load_model(path, own_blur=False, blur_sigma_px=1.0)


def test_load_model_id_loads_any_id_references_included(tmp_path: Path) -> None:
    """A reference is the σ 0 run's weights behind the blur of its σ (px at 224 px scaled to the model's images),
    with one meta: its own id, the run it is built on, the blur's σ; trained ids load as load_model does."""
    from blurscope.blur import gaussian_blur
    from blurscope.models.network import load_model_id

    torch.manual_seed(0)
    runs = {}
    for mid in ("sigma0", "sigma0-seed1"):
        net = BlurscopeNet(build_model("resnet_narrow", 4, widths=(8, 8, 16, 16)), 0.0).eval()
        save_model(net, tmp_path / f"{mid}.safetensors", _meta(model_id=mid, sigma=0.0, sigma_px=0.0))
        runs[mid] = net
    x = torch.rand(3, 3, 32, 32)
    ref, meta = load_model_id(tmp_path / "sigma0-seed1.safetensors", "ref-sigma7-seed1")
    assert meta["model_id"] == "ref-sigma7-seed1" and meta["reference_of"] == "sigma0-seed1"
    assert meta["sigma"] == 7.0 and meta["sigma_px"] == meta["reference_sigma_px"] == 1.0  # 7 * 32 / 224
    with torch.inference_mode():
        assert torch.allclose(ref(x), runs["sigma0-seed1"](gaussian_blur(x, 1.0)), atol=1e-5)
        # own_blur concerns a trained model's training blur: a reference keeps the blur that makes it one
        same, _ = load_model_id(tmp_path / "sigma0-seed1.safetensors", "ref-sigma7-seed1", own_blur=False)
        assert torch.equal(same(x), ref(x))
        plain, pmeta = load_model_id(tmp_path / "sigma0.safetensors", "sigma0")
        assert torch.equal(plain(x), runs["sigma0"](x)) and pmeta["model_id"] == "sigma0"
        assert "reference_of" not in pmeta
    with pytest.raises(ValueError, match=r"holds model 'sigma0', but model ref-sigma7-seed1 uses the weights of "
                                         r"sigma0-seed1"):
        load_model_id(tmp_path / "sigma0.safetensors", "ref-sigma7-seed1")
    with pytest.raises(ValueError, match="not a network"):
        load_model_id(tmp_path / "sigma0.safetensors", "baseline")
    with pytest.raises(ValueError, match="is not one of"):
        load_model_id(tmp_path / "sigma0.safetensors", "sigma0.0")
