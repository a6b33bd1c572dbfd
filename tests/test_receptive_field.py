"""Receptive fields from the graph, checked against the input-gradient support."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from blurscope.features.receptive_field import Affine, receptive_field, receptive_fields
from blurscope.hooks import record_outputs
from blurscope.models.network import BlurscopeNet, build_model

NARROW_LAYERS = ["conv1", "maxpool", "layer1.0", "layer2.0", "layer3.0", "layer4.0"]
R50_LAYERS = ["layer2.2", "layer3.2", "layer4.2"]


def _randomise_norms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-degenerate BatchNorm (timm zero-inits the last BN of each block, which
    would switch the residual branches off and make the gradient test trivial)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.rand(m.bias.shape, generator=g) - 0.1)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
    return model.eval()


def _unit_positions(h: int, w: int) -> list[tuple[int, int]]:
    pos = {(0, 0), (h - 1, w - 1), (0, w - 1), (h - 1, 0), (h // 2, w // 2), (h // 3, (2 * w) // 3)}
    return sorted(pos)


def _gradient_support(model: nn.Module, layer: str, size: int, positions, seed: int = 0) -> list[np.ndarray]:
    """Boolean [H, W] masks of the input pixels with non-zero gradient, one per unit."""
    torch.manual_seed(seed)
    n = len(positions)
    x = torch.rand(n, 3, size, size, dtype=torch.float64, requires_grad=True)
    fmap = record_outputs(model, [layer], x.detach())[layer]
    # the channel with the largest activation at each position (not a dead ReLU)
    chans = [int(fmap[b, :, y, xx].argmax()) for b, (y, xx) in enumerate(positions)]
    out = {}

    def keep(name, _m, _i, o):  # noqa: ANN001
        out[name] = o

    from blurscope.hooks import capture

    with capture(model, [layer], keep):
        model(x)
    f = out[layer]
    total = sum(f[b, c, y, xx] for b, (c, (y, xx)) in enumerate(zip(chans, positions)))
    (grad,) = torch.autograd.grad(total, x)
    return [(grad[b].abs().sum(0) > 0).numpy() for b in range(n)]


def _check_support_inside(model: nn.Module, layers: list[str], size: int) -> dict[str, float]:
    rfs = receptive_fields(model, layers, size)
    coverage = {}
    for layer in layers:
        rf = rfs[layer]
        positions = _unit_positions(*rf.fmap_hw)
        masks = _gradient_support(model, layer, size, positions)
        fractions = []
        for (y, x), mask in zip(positions, masks):
            y0, x0, y1, x1 = rf.box(y, x)
            assert mask.any(), f"{layer} unit {(y, x)}: empty gradient support (test would be vacuous)"
            inside = np.zeros_like(mask)
            inside[y0:y1, x0:x1] = True
            outside = mask & ~inside
            assert not outside.any(), (
                f"{layer} unit {(y, x)}: gradient at {np.argwhere(outside)[:5].tolist()} "
                f"outside computed box {(y0, x0, y1, x1)}"
            )
            # the exact box lies inside the theoretical (unclipped) one, clipped to the image
            ty0, tx0, ty1, tx1 = rf.theoretical_box(y, x)
            assert max(ty0, 0) <= y0 and y1 <= min(ty1, size) and max(tx0, 0) <= x0 and x1 <= min(tx1, size)
            ys, xs = np.nonzero(mask)
            fractions.append(((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)) / ((y1 - y0) * (x1 - x0)))
        coverage[layer] = float(np.mean(fractions))
    return coverage


@pytest.mark.parametrize("antialiased", [False, True])
def test_gradient_support_inside_field_narrow(antialiased: bool) -> None:
    torch.manual_seed(0)
    model = _randomise_norms(BlurscopeNet(build_model("resnet_narrow", 10, antialiased), 0.0)).double()
    coverage = _check_support_inside(model, NARROW_LAYERS, 64)
    # the field is not vacuously large: the gradient's bounding box fills a good part of it
    # (max pooling routes the gradient to one pixel per window, so not all of it)
    assert all(c > 0.25 for c in coverage.values()), coverage


def test_gradient_support_inside_field_resnet50() -> None:
    torch.manual_seed(0)
    model = _randomise_norms(build_model("resnet50", 10, False)).double()
    # 96 px keeps ResNet-50 cheap; layer2.2 units (75 px field) are then partly interior
    _check_support_inside(model, R50_LAYERS, 96)


def test_gradient_support_inside_field_resnet50_blurpool_asymmetric_pad() -> None:
    """antialiased_cnns BlurPool with filter size 4 pads reflect (1, 2): exact at the borders."""
    torch.manual_seed(0)
    model = _randomise_norms(build_model("resnet50", 10, True)).double()
    _check_support_inside(model, ["layer2.2"], 96)


def test_resnet50_theoretical_fields() -> None:
    """Textbook values for torchvision ResNet-50 (jump 8/16/32; size 75? see below)."""
    model = build_model("resnet50", 10, False)
    rfs = receptive_fields(model, R50_LAYERS, 224)
    # conv1 7x7/2 p3 -> maxpool 3x3/2 p1 -> 3x3 convs; stride on conv2 (v1.5)
    assert rfs["layer2.2"].affine_y == Affine(start=-37, jump=8, size=75)
    assert rfs["layer3.2"].affine_y == Affine(start=-85, jump=16, size=171)
    assert rfs["layer4.2"].affine_y == Affine(start=-213, jump=32, size=427)
    assert rfs["layer4.2"].fmap_hw == (7, 7)
    # layer4 fields cover the whole 224 px image, clipped
    assert rfs["layer4.2"].box(3, 3).tolist() == [0, 0, 224, 224]


class _BlurPool4(nn.Module):
    """antialiased_cnns-style BlurPool, filter 4: asymmetric reflect pad (1, 2) then 4x4/2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.pad(x, (1, 2, 1, 2), mode="reflect")
        w = torch.ones(x.shape[1], 1, 4, 4, dtype=x.dtype) / 16
        return torch.nn.functional.conv2d(x, w, stride=2, groups=x.shape[1])


class _LinearNet(nn.Module):
    """Positive linear net (no ReLU, no max): the gradient support IS the field."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 2, 5, stride=2, padding=2, bias=False)
        self.dil = nn.Conv2d(2, 2, 3, stride=1, padding=2, dilation=2, bias=False)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1)
        self.block = nn.Conv2d(2, 2, 3, stride=2, padding=1, bias=False)
        self.short = nn.Conv2d(2, 2, 1, stride=2, bias=False)
        self.reflect = nn.Conv2d(2, 2, 3, stride=2, padding=1, padding_mode="reflect", bias=False)
        self.aa = _BlurPool4()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.uniform_(m.weight, 0.5, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.dil(self.stem(x)))
        x = self.block(x) + self.short(x)
        return self.aa(self.reflect(x))


@pytest.mark.parametrize("layer", ["stem", "dil", "pool", "block", "reflect", "aa"])
def test_field_is_exact_on_positive_linear_net(layer: str) -> None:
    model = _LinearNet().double().eval()
    size = 37
    rf = receptive_field(model, layer, size)
    for y in range(rf.fmap_hw[0]):
        for x in range(rf.fmap_hw[1]):
            inp = torch.rand(1, 3, size, size, dtype=torch.float64, requires_grad=True)
            out = {}
            from blurscope.hooks import capture

            with capture(model, [layer], lambda n, m, i, o, out=out: out.__setitem__(n, o)):
                model(inp)
            (grad,) = torch.autograd.grad(out[layer][0, 0, y, x], inp)
            ys, xs = np.nonzero(grad[0].abs().sum(0).numpy())
            assert [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1] == rf.box(y, x).tolist(), (layer, y, x)


def test_residual_union_and_clip() -> None:
    """Hull of branches; the theoretical field extends past the border, the exact box is clipped."""
    model = _LinearNet().eval()
    rf = receptive_field(model, "block", 37)
    # main path 3x3/2 at jump 4 widens by 8; the 1x1/2 shortcut adds nothing: hull = main path
    pool = receptive_field(model, "pool", 37)
    assert rf.affine_y.size == pool.affine_y.size + 2 * pool.affine_y.jump
    assert rf.affine_y.start == pool.affine_y.start - pool.affine_y.jump
    assert rf.theoretical_box(0, 0)[0] < 0 and rf.box(0, 0)[0] == 0


def test_through_preprocessing_adds_blur_radius() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 10, False), sigma_px=1.0)
    inner = receptive_field(model, "layer2.0", 64)
    outer = receptive_field(model, "layer2.0", 64, through_preprocessing=True)
    r = 3  # ceil(3 * 1.0)
    assert outer.affine_y == Affine(inner.affine_y.start - r, inner.affine_y.jump, inner.affine_y.size + 2 * r)


def test_unknown_layer_lists_valid_names() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 10, False), 0.0)
    with pytest.raises(KeyError, match=r"unknown layer 'layer9.9'.*valid layer names: .*layer4\.0"):
        receptive_field(model, "layer9.9", 64)


def test_unsupported_op_is_named() -> None:
    model = BlurscopeNet(build_model("resnet_narrow", 10, False), 0.0)
    with pytest.raises(NotImplementedError, match="fc"):
        receptive_field(model, "fc", 64)


def test_box_position_out_of_range() -> None:
    rf = receptive_field(build_model("resnet_narrow", 10, False), "layer2.0", 64)
    with pytest.raises(ValueError, match="outside layer 'layer2.0' map of size 8x8"):
        rf.box(8, 0)
